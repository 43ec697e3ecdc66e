"""What the operator gives the provider commands, declared once and read into the API's body.

Secrets never come on the command line: each is read from an environment variable the option
names, or asked for on the terminal without echo. Settings are ``KEY=VALUE`` (JSON values parse),
key slots ``NAME=ACCESS_KEY_ID[:ENV_VAR]``, regions ``code=...,name=...,endpoint=...``. A value
not given is None, which the API reads as "leave it as it is".
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from loopback.providers.schemas import mask

REGION_KEYS = ("code", "name", "endpoint", "country", "enabled")

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


def settings(values: list[str] | None, unset: list[str] | None = None) -> dict[str, Any] | None:
    """``--setting KEY=VALUE`` (and ``--unset-setting KEY``, as None) as the API's ``settings``."""
    found: dict[str, Any] = {}
    for key, raw in _pairs(values, "--setting"):
        if raw is None:
            raise typer.BadParameter(f"{key!r} needs a value, KEY=VALUE", param_hint="--setting")
        try:
            found[key] = json.loads(raw)
        except ValueError:
            found[key] = raw
    for key in unset or []:
        found[key] = None
    return found or None


def named_secrets(values: list[str] | None, remove: list[str] | None = None) -> dict[str, Any] | None:
    """``--secret NAME[=ENV_VAR]`` (and ``--remove-secret NAME``, as None) as the API's ``secrets``."""
    secrets: dict[str, Any] = {
        name: _secret(f"Secret {name}", env) for name, env in _pairs(values, "--secret")
    }
    for name in remove or []:
        secrets[name] = None
    return secrets or None


def slots(values: list[str] | None) -> list[dict[str, str]] | None:
    """``--slot NAME=ACCESS_KEY_ID[:ENV_VAR]`` as the API's ``slots``, each with its secret."""
    found = []
    for name, rest in _pairs(values, "--slot"):
        if not rest:
            raise typer.BadParameter(
                f"{name!r} needs its key, NAME=ACCESS_KEY_ID[:ENV_VAR]", param_hint="--slot"
            )
        key, _, env = rest.partition(":")
        secret = _secret(f"Secret of slot {name} ({mask(key)})", env or None)
        found.append({"name": name, "access_key_id": key, "secret_access_key": secret})
    return found or None


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


def regions(
    specs: list[str] | None, enable: list[str] | None = None, disable: list[str] | None = None
) -> list[dict[str, Any]] | None:
    """``--region SPEC`` (and ``--enable-region``/``--disable-region CODE``) as the API's ``regions``."""
    found = [_region(spec) for spec in specs or []]
    found += [{"code": code, "enabled": True} for code in enable or []]
    found += [{"code": code, "enabled": False} for code in disable or []]
    return found or None


def service_key(access_key_id: str | None, secret_env: str | None) -> dict[str, str | None]:
    """``--access-key-id`` with its secret (from ``--secret-access-key-env`` or asked for), if given."""
    if access_key_id is None:
        if secret_env is not None:
            raise typer.BadParameter("give --access-key-id with it", param_hint="--secret-access-key-env")
        return {}
    return {
        "access_key_id": access_key_id,
        "secret_access_key": _secret(f"Secret access key for {mask(access_key_id)}", secret_env),
    }
