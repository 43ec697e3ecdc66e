"""The HTTP client the ``loopback`` commands call the API through: one request a call.

A refusal raises ``ApiProblem``; an API that cannot be reached or does not answer in time raises
``ApiUnreachable`` (exit 3). ``every_row`` joins the pages of a list, one request a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import loopback
from loopback.client.connection import TOKEN_ENV, Connection
from loopback.client.errors import ApiProblem, ClientError, ExitCode

if TYPE_CHECKING:  # imported by the first client: `loopback serve` registers the commands, calls none
    import httpx

TIMEOUT_SECONDS = 30.0


class ApiUnreachable(ClientError):
    def __init__(self, api_url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the API at {api_url}: is `loopback serve` running? ({reason})",
            ExitCode.UNAVAILABLE,
        )


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: ``text`` is the body as it came, ``body`` its JSON."""

    status: int
    text: str
    body: dict[str, Any]


def v3(*segments: str) -> str:
    """An API v3 path; each segment is quoted, so a slug, an id or an email cannot change the path."""
    return "/v3/" + "/".join(quote(segment, safe="@") for segment in segments)


def present(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without those that are None, which means "leave it out": the API's defaults apply.

    No route takes an explicit null. A request's body and query pass through it; a command applies
    it to what nests in a body (the grants of a key).
    """
    return {key: value for key, value in values.items() if value is not None}


class ApiClient:
    """One connection to the API; each call is one request, and every refusal raises ``ApiProblem``."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        self.connection = connection
        self._http = httpx.Client(
            base_url=connection.api_url,
            headers={
                "Authorization": f"Bearer {connection.token}",
                "User-Agent": f"loopback-cli/{loopback.__version__}",
                "Accept": "application/json, application/problem+json",
            },
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """One call; with ``accept`` (a tool's file, not JSON) the answer's text is all there is.

        ``headers`` go with this request only (an ``Idempotency-Key``)."""
        import httpx

        headers = {**(headers or {}), **({"Accept": accept} if accept else {})} or None
        try:
            response = self._http.request(
                method,
                path,
                json=None if json is None else present(json),
                params=None if params is None else present(params),
                headers=headers,
            )
        except httpx.TimeoutException:
            raise ApiUnreachable(self.connection.api_url, "no answer in time") from None
        except httpx.TransportError as error:
            raise ApiUnreachable(self.connection.api_url, str(error) or type(error).__name__) from None
        if not response.is_success:
            raise self._problem(response)
        if accept:
            return ApiResponse(response.status_code, response.text, {})
        try:
            body = response.json() if response.content else {}
        except ValueError:
            raise ApiProblem(
                response.status_code, "Not JSON", "the API answered something that is not JSON"
            ) from None
        return ApiResponse(response.status_code, response.text, body if isinstance(body, dict) else {})

    def _problem(self, response: httpx.Response) -> ApiProblem:
        problem = ApiProblem.of(response)
        if problem.status == 401:  # say which token was refused, and how to give another
            problem.hints.append(
                f"the token came from {self.connection.token_origin}; give another with --token, "
                f"{TOKEN_ENV} or `loopback login`"
            )
        return problem

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> ApiResponse:
        return self.request("GET", path, params=params)

    def post(
        self, path: str, body: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> ApiResponse:
        return self.request("POST", path, json=body if body is not None else {}, headers=headers)

    def patch(self, path: str, body: Mapping[str, Any]) -> ApiResponse:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> ApiResponse:
        return self.request("DELETE", path)


def every_row(client: ApiClient, path: str, key: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every row the list at ``path`` answers under ``key``, page after page, in the API's order.

    ``params`` asks for the first page (its filters, ``limit``, perhaps a ``cursor``); each answer's
    ``next_cursor`` asks for the next, until there is none.
    """
    answer = client.get(path, params=params)
    rows: list[dict[str, Any]] = list(answer.body.get(key) or [])
    while answer.body.get("next_cursor"):
        answer = client.get(path, params={**params, "cursor": answer.body["next_cursor"]})
        rows.extend(answer.body.get(key) or [])
    return rows
