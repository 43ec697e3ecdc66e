"""The round-trip check of one provider region: bucket, key, object written, read and deleted, undone.

Each step is timed and none lets a secret through: what a step reports is scrubbed of the
provider's secrets and of the key the check itself was issued. The outcome is kept on the
provider row (``last_check_at``, ``last_check_error``) for /readyz and the operator's views.
"""

from __future__ import annotations

import logging
import secrets as token_source
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.providers.adapters import Adapters, scrub, setup_secrets
from loopback.providers.base import Grant, IssuedCredential, Placement, ProviderError, StorageProvider
from loopback.providers.models import Provider, Region

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECK_PLACEMENT = ("installation", "provider-check")
CHECK_OBJECT = "loopback-check.txt"
CHECK_KEY_WAIT_SECONDS = 15.0  # a new key may take a moment to reach the S3 endpoints
KEY_NOT_YET = frozenset({"InvalidAccessKeyId", "AccessDenied"})


@dataclass(frozen=True)
class CheckStep:
    step: str
    ok: bool
    ms: float
    detail: str | None = None


@dataclass
class CheckResult:
    """One round trip through a region: every step run, with how long it took."""

    provider: str
    region: str
    checked_at: datetime
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def error(self) -> str | None:
        failed = next((step for step in self.steps if not step.ok), None)
        if failed is None:
            return None
        detail = failed.detail or "failed"
        # Provider messages usually name their action already ("create bucket: ...").
        return detail if detail.startswith(f"{failed.step}:") else f"{failed.step}: {detail}"

    @property
    def total_ms(self) -> float:
        return round(sum(step.ms for step in self.steps), 1)


def check(
    session: Session, adapters: Adapters, provider: Provider, region_code: str | None = None
) -> CheckResult:
    """Create a scratch bucket, issue a key for it, write, read and delete an object with that key,
    revoke the key and delete the bucket, timing each step; the outcome is kept on the provider.

    A step that fails stops the steps after it, except the clean-up of what was made. A disabled
    provider or region can be checked too: that is how an operator tries one before enabling it.
    """
    regions = session.scalars(
        select(Region).where(Region.provider_id == provider.id).order_by(Region.code)
    ).all()
    if region_code is not None:
        region = next((r for r in regions if r.code == region_code), None)
        if region is None:
            codes = ", ".join(r.code for r in regions) or "none"
            raise Invalid.field(
                "region", f"provider {provider.name!r} has no region {region_code!r} ({codes})"
            )
    else:
        region = next((r for r in regions if r.enabled), regions[0] if regions else None)
        if region is None:
            raise Invalid.field("region", f"provider {provider.name!r} has no region to check")
    result = CheckResult(provider.name, region.code, utcnow())
    known: list[str] = []
    try:
        known = setup_secrets(adapters.setup(session, provider))
        adapter = adapters.get(session, provider.id)
    except Exception as error:
        detail = scrub(f"{type(error).__name__}: {error}", known)
        result.steps.append(CheckStep("build adapter", False, 0.0, detail))
        return _record(session, provider, result)
    RoundTrip(adapter, region, known, result).run()
    return _record(session, provider, result)


def _record(session: Session, provider: Provider, result: CheckResult) -> CheckResult:
    error = result.error[:1000] if result.error else None
    session.execute(  # the check is no change of configuration: updated_at stays
        update(Provider)
        .where(Provider.id == provider.id)
        .values(last_check_at=result.checked_at, last_check_error=error, updated_at=Provider.updated_at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(provider)
    log.info(
        "provider %s checked in %s: %s (%.0f ms)",
        provider.name,
        result.region,
        "ok" if result.ok else error,
        result.total_ms,
    )
    return result


class RoundTrip:
    """The steps of one ``check``, each timed, none letting a secret through."""

    def __init__(
        self, adapter: StorageProvider, region: Region, known: list[str], result: CheckResult
    ) -> None:
        self.adapter = adapter
        self.region = region
        self.known = known
        self.result = result
        token = token_source.token_hex(6)
        self.bucket = f"loopback-check-{token}"
        self.user = f"loopback-check-{token}"
        slots = adapter.slots()
        self.placement = Placement(*CHECK_PLACEMENT, slots[0] if slots else None)
        self.payload = f"loopback provider check {token}\n".encode()

    def step(self, name: str, action: Callable[[], T]) -> tuple[bool, T | None]:
        started = time.perf_counter()
        try:
            value = action()
        except Exception as error:
            ms = round((time.perf_counter() - started) * 1000, 1)
            self.result.steps.append(CheckStep(name, False, ms, self.describe(name, error)))
            return False, None
        ms = round((time.perf_counter() - started) * 1000, 1)
        self.result.steps.append(CheckStep(name, True, ms))
        return True, value

    def describe(self, name: str, error: Exception) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        from loopback.providers.s3 import classify

        if isinstance(error, ProviderError):
            text = error.message
        elif isinstance(error, ClientError | BotoCoreError):
            text = classify(error, name).message
        else:
            text = f"{type(error).__name__}: {error}"
        return scrub(text, self.known)

    def run(self) -> None:
        code = self.region.code
        if problems := self.adapter.name_problems(self.bucket, code):
            self.result.steps.append(CheckStep("create bucket", False, 0.0, "; ".join(problems)))
            return
        made, _ = self.step(
            "create bucket", lambda: self.adapter.create_bucket(self.bucket, code, self.placement)
        )
        if not made:
            return
        issued_ok, issued = self.step(
            "issue key",
            lambda: self.adapter.issue_credential(code, self.user, [Grant(self.bucket)], self.placement),
        )
        if issued_ok and issued is not None:
            self.known.append(issued.secret_access_key)
            s3 = self.client(issued)
            wrote, _ = self.step("write object", lambda: self.write(s3))
            if wrote:
                self.step("read object", lambda: self.read(s3))
                self.step("delete object", lambda: s3.delete_object(Bucket=self.bucket, Key=CHECK_OBJECT))
            self.step(
                "revoke key",
                lambda: self.adapter.revoke_credential(code, issued.provider_user, self.placement),
            )
        self.step("delete bucket", lambda: self.adapter.delete_bucket(self.bucket, code, self.placement))

    def client(self, issued: IssuedCredential) -> Any:
        import boto3  # a check is an operator's command: boto3 stays out of the API until one runs
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.region.endpoint,
            region_name=self.region.code,
            aws_access_key_id=issued.access_key_id,
            aws_secret_access_key=issued.secret_access_key,
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
            ),
        )

    def write(self, s3: Any) -> None:
        """Put the object; a key that the endpoint does not know yet is tried again for a while."""
        from botocore.exceptions import ClientError

        deadline = time.monotonic() + CHECK_KEY_WAIT_SECONDS
        while True:
            try:
                s3.put_object(Bucket=self.bucket, Key=CHECK_OBJECT, Body=self.payload)
                return
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code not in KEY_NOT_YET or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def read(self, s3: Any) -> None:
        body = s3.get_object(Bucket=self.bucket, Key=CHECK_OBJECT)["Body"].read()
        if body != self.payload:
            raise ValueError(f"read {len(body)} bytes back that differ from the {len(self.payload)} written")
