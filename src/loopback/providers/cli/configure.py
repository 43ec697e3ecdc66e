"""``loopback providers add|update|enable|disable``: configure a provider, and whether it takes buckets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopback.client.http import v3
from loopback.client.options import Options, with_options
from loopback.providers.cli import inputs
from loopback.providers.cli.columns import PROVIDER_ROW, provider
from loopback.providers.cli.inputs import (
    AccessKeyOption,
    DisplayNameOption,
    NameArgument,
    RegionOption,
    SecretEnvOption,
    SecretOption,
    SettingOption,
    SlotOption,
)


@with_options()
def add_provider(
    options: Options,
    name: Annotated[
        str, typer.Argument(help="lowercase letters, digits and hyphens; tenants pick it by this")
    ],
    family: Annotated[str, typer.Option(help="s3, ionos or hetzner", show_default=False)],
    display_name: DisplayNameOption = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="take no buckets until enabled")] = False,
    access_key_id: AccessKeyOption = None,
    secret_access_key_env: SecretEnvOption = None,
    secret: SecretOption = None,
    slot: SlotOption = None,
    setting: SettingOption = None,
    region: RegionOption = None,
) -> None:
    """Configure a provider. Family s3 lists its regions with --region; ionos and hetzner bring theirs."""
    body: dict[str, Any] = {
        "name": name,
        "family": family,
        "display_name": display_name,
        "enabled": False if disabled else None,
        **inputs.service_key(access_key_id, secret_access_key_env),
        "secrets": inputs.named_secrets(secret),
        "slots": inputs.slots(slot),
        "settings": inputs.settings(setting),
        "regions": inputs.regions(region),
    }
    with options.api() as client:
        answer = client.post(v3("operator", "providers"), body)
    show = options.printer()
    provider(show, answer)
    if not show.json:
        show.note(f"Added provider {name!r}; try it with `loopback providers test {name}`.")


@with_options()
def update_provider(
    options: Options,
    name: NameArgument,
    display_name: DisplayNameOption = None,
    access_key_id: AccessKeyOption = None,
    secret_access_key_env: SecretEnvOption = None,
    secret: SecretOption = None,
    remove_secret: Annotated[
        list[str] | None, typer.Option(help="drop a named secret", show_default=False)
    ] = None,
    slot: SlotOption = None,
    setting: SettingOption = None,
    unset_setting: Annotated[
        list[str] | None, typer.Option(help="drop a family setting", show_default=False)
    ] = None,
    region: RegionOption = None,
    enable_region: Annotated[
        list[str] | None, typer.Option(help="let new buckets go to this region", show_default=False)
    ] = None,
    disable_region: Annotated[
        list[str] | None,
        typer.Option(help="no new buckets in this region; existing ones keep working", show_default=False),
    ] = None,
) -> None:
    """Change a provider: rotate its key or secrets, link slots, change settings and regions."""
    body: dict[str, Any] = {
        "display_name": display_name,
        **inputs.service_key(access_key_id, secret_access_key_env),
        "secrets": inputs.named_secrets(secret, remove_secret),
        "slots": inputs.slots(slot),
        "settings": inputs.settings(setting, unset_setting),
        "regions": inputs.regions(region, enable_region, disable_region),
    }
    if all(value is None for value in body.values()):
        raise typer.BadParameter("nothing to change: give at least one option")
    with options.api() as client:
        answer = client.patch(v3("operator", "providers", name), body)
    provider(options.printer(), answer)


def _set_enabled(options: Options, name: str, action: str) -> None:
    with options.api() as client:
        answer = client.post(v3("operator", "providers", name, action))
    show = options.printer()
    show.record(answer, PROVIDER_ROW)
    show.note(
        f"Provider {name!r} takes new buckets."
        if action == "enable"
        else f"Provider {name!r} takes no new buckets; its existing buckets keep working."
    )


@with_options()
def disable_provider(options: Options, name: NameArgument) -> None:
    """Take no new buckets here; existing buckets, keys and usage keep working."""
    _set_enabled(options, name, "disable")


@with_options()
def enable_provider(options: Options, name: NameArgument) -> None:
    """Take new buckets here again."""
    _set_enabled(options, name, "enable")
