"""Where a bucket may go, as the create and replace forms offer it: providers by display name, with
their last check, so that a form never pre-selects a provider whose last check failed.

The last check is the one /readyz reports (``ProviderService.readiness``): ``ok``, ``failing`` or
``unchecked``. A failing provider is still offered (its check may be stale), but it is never the
default and the form says that it failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from loopback.providers.service import RegionChoice
from loopback.runtime import Runtime

FAILING = "failing"


@dataclass(frozen=True)
class ProviderChoice:
    """A provider as a form lists it: its name (the form's value), what a person reads, its last check."""

    name: str
    display_name: str
    family: str
    check: str  # ok, failing or unchecked

    @property
    def failing(self) -> bool:
        return self.check == FAILING

    @property
    def label(self) -> str:
        shown = f"{self.display_name} ({self.name})" if self.display_name != self.name else self.name
        return shown + (" — last check failed" if self.failing else "")


def failed_check_message(provider: str) -> str:
    """What a form says about a provider whose last check failed: buckets there may not come up."""
    return (
        f"The last check of provider {provider!r} failed: a bucket there may not be created "
        "until the operator fixes it."
    )


@dataclass(frozen=True)
class Placements:
    """Every enabled region by provider, in the picker's order, and each provider's last check."""

    regions: list[RegionChoice]
    providers: dict[str, ProviderChoice]

    @classmethod
    def read(cls, runtime: Runtime, session: Session) -> Placements:
        regions = runtime.providers.regions(session)
        checks = runtime.providers.readiness(session)
        providers: dict[str, ProviderChoice] = {}
        for choice in regions:
            if choice.provider not in providers:
                check = str(checks.get(choice.provider, {}).get("status") or "unchecked")
                providers[choice.provider] = ProviderChoice(
                    choice.provider, choice.provider_name, choice.family, check
                )
        return cls(regions, providers)

    def default(self) -> RegionChoice | None:
        """The first region of a provider whose last check passed, else of one never checked.

        A provider whose last check failed is the default only when every provider's did.
        """
        for wanted in ("ok", "unchecked"):
            found = self.first_with(wanted)
            if found is not None:
                return found
        return self.regions[0] if self.regions else None

    def first_with(self, check: str) -> RegionChoice | None:
        return next((r for r in self.regions if self.providers[r.provider].check == check), None)

    def failing(self) -> Sequence[ProviderChoice]:
        return [p for p in self.providers.values() if p.failing]

    def is_failing(self, provider: str) -> bool:
        choice = self.providers.get(provider)
        return choice is not None and choice.failing
