"""``loopback providers list|show``: every provider, and one with its regions, key slots and last check."""

from __future__ import annotations

from loopback.client.http import v3
from loopback.client.options import Options, with_options
from loopback.providers.cli.columns import PROVIDER_ROW, provider
from loopback.providers.cli.inputs import NameArgument


@with_options()
def list_providers(options: Options) -> None:
    """Every provider, enabled or not, with its key (masked), regions and last check."""
    with options.api() as client:
        answer = client.get(v3("operator", "providers"))
    options.printer().rows(answer, "providers", PROVIDER_ROW, "No providers.")


@with_options()
def show_provider(options: Options, name: NameArgument) -> None:
    """One provider: settings, capabilities, regions, key slots and last check."""
    with options.api() as client:
        answer = client.get(v3("operator", "providers", name))
    provider(options.printer(), answer)
