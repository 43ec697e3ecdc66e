"""``loopback providers list|show|add|update|enable|disable|test``: the operator's provider routes.

Each command is one request to ``/v3/operator/providers`` through ``loopback.client``, which
owns the connection, exit codes, rendering and the options every command shares; the API
validates everything. Secrets never go on the command line, where shell history and ``ps`` would
keep them: each is read from an environment variable the command names
(``--secret-access-key-env VAR``, ``--secret api_token=VAR``, ``--slot NAME=KEY_ID:VAR``) or,
without one, asked for on the terminal without echo.

``test`` exits 0 when every step of the round trip passed and 1 when one failed.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from loopback.client.command import ApiCommand
from loopback.client.errors import ExitCode
from loopback.client.http import v3
from loopback.client.options import Options, with_options
from loopback.client.output import Column, Printer, shown
from loopback.providers.schemas import mask

PANEL = "Providers (operator, API client)"
REGION_KEYS = ("code", "name", "endpoint", "country", "enabled")

providers = typer.Typer(
    help="The installation's storage providers and their regions (operator only).", no_args_is_help=True
)


def _check(value: Any) -> str:
    if not isinstance(value, dict) or value.get("status") in (None, "unchecked"):
        return "never tested"
    when = shown(value.get("checked_at"))
    if value.get("status") == "ok":
        return f"ok at {when}"
    return f"failing at {when}: {value.get('error')}"


def _capabilities(value: Any) -> str:
    if not isinstance(value, dict):
        return "-"
    names = [
        ("per_bucket_credentials", "per-bucket keys", "account-wide keys"),
        ("native_usage_stats", "native usage", "usage by listing"),
        ("regions_fixed", "built-in regions", "listed regions"),
    ]
    return ", ".join(yes if value.get(key) else no for key, yes, no in names)


def _regions(value: Any) -> str:
    regions = value if isinstance(value, list) else []
    enabled = sum(1 for r in regions if isinstance(r, dict) and r.get("enabled"))
    return f"{enabled} of {len(regions)} enabled"


NAME = Column("name", "name")
PROVIDER_ROW = [
    NAME,
    Column("family", "family"),
    Column("display name", "display_name"),
    Column("enabled", "enabled"),
    Column("key", "access_key_id"),
    Column("regions", "regions", format=_regions),
    Column("last check", "last_check", format=_check),
]
PROVIDER = [
    NAME,
    Column("family", "family"),
    Column("display name", "display_name"),
    Column("enabled", "enabled"),
    Column("service key", "access_key_id"),
    Column("service secret", "secret_ref"),
    Column(
        "secrets", "secrets", format=lambda v: ", ".join(f"{k}: {r}" for k, r in (v or {}).items()) or "-"
    ),
    Column("settings", "settings", format=lambda v: json.dumps(v, sort_keys=True) if v else "-"),
    Column("capabilities", "capabilities", format=_capabilities),
    Column("problem", "problem"),
    Column("last check", "last_check", format=_check),
    Column("updated", "updated_at"),
]
REGION = [
    Column("code", "code"),
    Column("name", "name"),
    Column("country", "country"),
    Column("enabled", "enabled"),
    Column("endpoint", "endpoint"),
    Column("overridden", "endpoint_overridden"),
]
SLOT = [
    Column("slot", "name"),
    Column("key", "access_key_id"),
    Column("secret", "secret_ref"),
    Column("organization", "organization_id"),
    Column("project", "project_id"),
]
STEP = [
    Column("step", "step"),
    Column("ok", "ok"),
    Column("ms", "ms", format=lambda v: f"{v:.1f}" if isinstance(v, int | float) else "-"),
    Column("detail", "detail"),
]

NameArgument = Annotated[str, typer.Argument(help="the provider's name")]
DisplayNameOption = Annotated[str | None, typer.Option(help="the name pickers show", show_default=False)]
AccessKeyOption = Annotated[
    str | None,
    typer.Option(
        help="the service S3 key's id; its secret is asked for or read from --secret-access-key-env"
    ),
]
SecretEnvOption = Annotated[
    str | None,
    typer.Option(help="read the service key's secret from this environment variable", show_default=False),
]
SecretOption = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help="a named secret the family needs, NAME=ENV_VAR (e.g. api_token=IONOS_TOKEN); NAME alone asks",
        show_default=False,
    ),
]
SlotOption = Annotated[
    list[str] | None,
    typer.Option(
        "--slot",
        help="a key linked per tenant (hetzner), NAME=ACCESS_KEY_ID:ENV_VAR; without :ENV_VAR it asks",
        show_default=False,
    ),
]
SettingOption = Annotated[
    list[str] | None,
    typer.Option(
        "--setting",
        help="a family setting, KEY=VALUE (e.g. iam_endpoint=https://iam.example.com); JSON values parse",
        show_default=False,
    ),
]
RegionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--region",
        help="a region, as code=...,name=...,endpoint=...,country=DE,enabled=true "
        "(built-in regions: code plus what changes; endpoint= drops an override)",
        show_default=False,
    ),
]


def _secret(prompt: str, env: str | None) -> str:
    if env is None:
        value: str = typer.prompt(prompt, hide_input=True, err=True)
        return value
    value = os.environ.get(env, "")
    if not value:
        raise typer.BadParameter(f"the environment variable {env} is not set or empty")
    return value


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for value in values or []:
        key, separator, rest = value.partition("=")
        if not key:
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        pairs.append((key.strip(), rest if separator else None))
    return pairs


def _settings(values: list[str] | None, unset: list[str] | None = None) -> dict[str, Any] | None:
    settings: dict[str, Any] = {}
    for key, raw in _pairs(values, "--setting"):
        if raw is None:
            raise typer.BadParameter(f"{key!r} needs a value, KEY=VALUE", param_hint="--setting")
        try:
            settings[key] = json.loads(raw)
        except ValueError:
            settings[key] = raw
    for key in unset or []:
        settings[key] = None
    return settings or None


def _named_secrets(values: list[str] | None, remove: list[str] | None = None) -> dict[str, Any] | None:
    secrets: dict[str, Any] = {
        name: _secret(f"Secret {name}", env) for name, env in _pairs(values, "--secret")
    }
    for name in remove or []:
        secrets[name] = None
    return secrets or None


def _slots(values: list[str] | None) -> list[dict[str, str]] | None:
    slots = []
    for name, rest in _pairs(values, "--slot"):
        if not rest:
            raise typer.BadParameter(
                f"{name!r} needs its key, NAME=ACCESS_KEY_ID[:ENV_VAR]", param_hint="--slot"
            )
        key, _, env = rest.partition(":")
        secret = _secret(f"Secret of slot {name} ({mask(key)})", env or None)
        slots.append({"name": name, "access_key_id": key, "secret_access_key": secret})
    return slots or None


def _region(spec: str) -> dict[str, Any]:
    region: dict[str, Any] = {}
    for part in spec.split(","):
        key, separator, value = part.partition("=")
        key = key.strip()
        if not separator or key not in REGION_KEYS:
            raise typer.BadParameter(
                f"{part!r}: give {', '.join(k + '=...' for k in REGION_KEYS)}", param_hint="--region"
            )
        value = value.strip()
        if key == "enabled":
            if value.lower() not in ("true", "false", "yes", "no"):
                raise typer.BadParameter(f"enabled={value!r}: true or false", param_hint="--region")
            region[key] = value.lower() in ("true", "yes")
        else:
            region[key] = value or None
    if "code" not in region or not region["code"]:
        raise typer.BadParameter(f"{spec!r} names no code=", param_hint="--region")
    return region


def _regions_given(
    specs: list[str] | None, enable: list[str] | None = None, disable: list[str] | None = None
) -> list[dict[str, Any]] | None:
    regions = [_region(spec) for spec in specs or []]
    regions += [{"code": code, "enabled": True} for code in enable or []]
    regions += [{"code": code, "enabled": False} for code in disable or []]
    return regions or None


def _service_key(access_key_id: str | None, secret_env: str | None) -> dict[str, str | None]:
    if access_key_id is None:
        if secret_env is not None:
            raise typer.BadParameter("give --access-key-id with it", param_hint="--secret-access-key-env")
        return {}
    return {
        "access_key_id": access_key_id,
        "secret_access_key": _secret(f"Secret access key for {mask(access_key_id)}", secret_env),
    }


def _show(show: Printer, body: dict[str, Any]) -> None:
    show.fields(body, PROVIDER)
    show.table(body.get("regions") or [], REGION, "No regions.")
    if body.get("slots"):
        show.table(body["slots"], SLOT, "No key slots.")


# --- commands ----------------------------------------------------------------------------------


@providers.command("list", cls=ApiCommand)
@with_options()
def list_providers(options: Options) -> None:
    """Every provider, enabled or not, with its key (masked), regions and last check."""
    with options.api() as client:
        answer = client.get(v3("operator", "providers"))
    options.printer().rows(answer, "providers", PROVIDER_ROW, "No providers.")


@providers.command("show", cls=ApiCommand)
@with_options()
def show_provider(options: Options, name: NameArgument) -> None:
    """One provider: settings, capabilities, regions, key slots and last check."""
    with options.api() as client:
        answer = client.get(v3("operator", "providers", name))
    show = options.printer()
    if show.json:
        show.record(answer, PROVIDER)
    else:
        _show(show, answer.body)


@providers.command("add", cls=ApiCommand)
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
        **_service_key(access_key_id, secret_access_key_env),
        "secrets": _named_secrets(secret),
        "slots": _slots(slot),
        "settings": _settings(setting),
        "regions": _regions_given(region),
    }
    with options.api() as client:
        answer = client.post(v3("operator", "providers"), body)
    show = options.printer()
    if show.json:
        show.record(answer, PROVIDER)
        return
    _show(show, answer.body)
    show.note(f"Added provider {name!r}; try it with `loopback providers test {name}`.")


@providers.command("update", cls=ApiCommand)
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
        **_service_key(access_key_id, secret_access_key_env),
        "secrets": _named_secrets(secret, remove_secret),
        "slots": _slots(slot),
        "settings": _settings(setting, unset_setting),
        "regions": _regions_given(region, enable_region, disable_region),
    }
    if all(value is None for value in body.values()):
        raise typer.BadParameter("nothing to change: give at least one option")
    with options.api() as client:
        answer = client.patch(v3("operator", "providers", name), body)
    show = options.printer()
    if show.json:
        show.record(answer, PROVIDER)
    else:
        _show(show, answer.body)


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


@providers.command("disable", cls=ApiCommand)
@with_options()
def disable_provider(options: Options, name: NameArgument) -> None:
    """Take no new buckets here; existing buckets, keys and usage keep working."""
    _set_enabled(options, name, "disable")


@providers.command("enable", cls=ApiCommand)
@with_options()
def enable_provider(options: Options, name: NameArgument) -> None:
    """Take new buckets here again."""
    _set_enabled(options, name, "enable")


@providers.command("test", cls=ApiCommand)
@with_options()
def check_provider(
    options: Options,
    name: NameArgument,
    region: Annotated[
        str | None,
        typer.Option(help="the region to try; the first enabled one by default", show_default=False),
    ] = None,
) -> None:
    """A round trip: scratch bucket, key, write, read, delete, each step timed; exit 1 on failure."""
    with options.api() as client:
        answer = client.post(v3("operator", "providers", name, "test"), {"region": region})
    show = options.printer()
    if show.json:
        typer.echo(answer.text)
    else:
        show.table(answer.body.get("steps") or [], STEP, "No steps ran.")
    body = answer.body
    if body.get("ok"):
        show.note(f"Provider {name!r} passed in region {body.get('region')} ({body.get('total_ms')} ms).")
        return
    show.note(f"Provider {name!r} failed in region {body.get('region')}: {body.get('error')}")
    raise typer.Exit(int(ExitCode.REFUSED))


def register(app: typer.Typer) -> None:
    """Add ``loopback providers ...`` to the ``loopback`` command."""
    app.add_typer(providers, name="providers", rich_help_panel=PANEL)
