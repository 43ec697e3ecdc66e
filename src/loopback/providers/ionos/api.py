"""A client of IONOS's JSON APIs (the Cloud API, the Object Storage Management API): Bearer token,
bounded retries, IONOS's refusals as ``ProviderError``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from loopback.providers.base import ProviderError

MANAGEMENT_URL = "https://s3.ionos.com"  # Object Storage Management API, api.ionos.com/docs/s3-management/v1
CLOUD_URL = "https://api.ionos.com/cloudapi/v6"  # Cloud API v6, api.ionos.com/docs/cloud/v6


def _ionos_message(response: httpx.Response) -> tuple[str | None, str]:
    """``messages[0]`` of IONOS's error body ``{"httpStatus", "messages": [{"errorCode", "message"}]}``."""
    try:
        first = response.json()["messages"][0]
        code, message = first.get("errorCode"), str(first["message"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None, response.reason_phrase or f"HTTP {response.status_code}"
    return (None if code is None else str(code)), message


class IonosApi:
    """One of IONOS's JSON APIs, with the token as ``Authorization: Bearer``; errors as ProviderError.

    429, 5xx and network faults are transient, every other refusal permanent with IONOS's own
    ``messages[0].message``. Requests are retried a little on 429 (IONOS's documented throttling
    answer) and on connection failures; reads and deletes also on 502/503/504. A POST is never
    repeated after the server may have acted on it, so no second key is made by a retry.
    """

    RETRY_READ = frozenset({429, 502, 503, 504})
    RETRY_WRITE = frozenset({429})

    def __init__(
        self,
        provider: str,
        label: str,
        base_url: str,
        token: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._provider = provider
        self.label = label
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        )
        self._attempts = max(1, attempts)
        self._backoff = backoff

    def close(self) -> None:
        self._client.close()

    def call(
        self,
        action: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        tolerate: frozenset[int] = frozenset(),
    ) -> Any:
        """The response's JSON (``None`` when empty, or when its status is in ``tolerate``)."""
        retry_on = self.RETRY_WRITE if method in {"POST", "PUT"} else self.RETRY_READ
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = self._client.request(
                    method, path, params=dict(params or {}), json=body if body is not None else None
                )
            except httpx.ConnectError as error:  # nothing reached IONOS: safe to repeat
                if not last:
                    self._pause(attempt, None)
                    continue
                raise self._unreachable(action, error) from error
            except httpx.TransportError as error:  # it may have acted: never repeated
                raise self._unreachable(action, error) from error
            if response.status_code in tolerate:
                return None
            if response.is_success:
                return response.json() if response.content else None
            if response.status_code in retry_on and not last:
                self._pause(attempt, response.headers.get("Retry-After"))
                continue
            raise self._refusal(action, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self._backoff * attempt
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 5.0)
        time.sleep(delay)

    def _unreachable(self, action: str, error: Exception) -> ProviderError:
        return ProviderError(
            f"{action}: the IONOS {self.label} is unreachable: {type(error).__name__}",
            transient=True,
            code="Unreachable",
        )

    def _refusal(self, action: str, response: httpx.Response) -> ProviderError:
        code, message = _ionos_message(response)
        status = response.status_code
        return ProviderError(
            f"{action}: the IONOS {self.label} answered {status}: {message}",
            transient=status == 429 or status >= 500,
            code=code or f"HTTP{status}",
        )
