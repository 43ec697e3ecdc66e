"""The providers file: providers declared in YAML (``LOOPBACK_PROVIDERS_FILE``), applied at every start.

The file is a list under ``providers:``; each entry has the shape of ``POST /v3/operator/providers``
(``ProviderCreate``). ``loopback serve`` reads it before it starts anything and applies it once the
database is migrated: a provider it names is created, or brought to what the entry states (the
fields the entry gives; a field left out, a region or slot not listed, stays as it is). Applying
the same file again changes nothing: no row, no ``updated_at``, no re-encrypted secret.

Any string may refer to the environment as ``${NAME}`` (``$$`` is a literal ``$``), which is how
secrets should arrive; a secret may also be written inline. A variable that is not set, a YAML
error or an invalid entry stops the start with the file's path and the field, e.g.
``providers[0].regions[1].endpoint``, and never with a value.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from loopback.kit.errors import Invalid
from loopback.providers.schemas import ProviderCreate, field_path
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)

ENV_REFERENCE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\})")


class ProvidersFileError(Exception):
    """The file cannot be read or applied; ``problems`` are ``(field, detail)`` pairs."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{field}: {detail}" if field else detail for field, detail in problems]
        super().__init__(f"providers file {path}: " + "; ".join(lines))


@dataclass(frozen=True)
class ProvidersFile:
    path: Path
    providers: list[ProviderCreate]

    def __repr__(self) -> str:
        return f"ProvidersFile(path={str(self.path)!r}, providers={[p.name for p in self.providers]!r})"


def _interpolate(
    value: Any, where: list[str | int], environ: Mapping[str, str], problems: list[tuple[str, str]]
) -> Any:
    """``value`` with every ``${NAME}`` in its strings replaced from ``environ``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(1):
                return "$"
            name = match.group(2)
            if name not in environ:
                problems.append((field_path(where), f"the environment variable {name} is not set"))
                return ""
            return environ[name]

        return ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, list):
        return [_interpolate(item, [*where, index], environ, problems) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _interpolate(item, [*where, str(key)], environ, problems) for key, item in value.items()}
    return value


def parse(text: str, path: Path, environ: Mapping[str, str] | None = None) -> ProvidersFile:
    """The providers a file's text declares, validated; ``ProvidersFileError`` names what is wrong."""
    import yaml  # read once at a start that names a file: not loaded by a process that has none

    environ = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = getattr(error, "problem", None) or type(error).__name__
        raise ProvidersFileError(path, [("", f"not YAML: {where}{reason}")]) from None
    if document is None:
        return ProvidersFile(path, [])
    if not isinstance(document, dict) or set(document) - {"providers"}:
        raise ProvidersFileError(
            path, [("", "the file holds one key, `providers`, with a list of providers")]
        )
    entries = document.get("providers") or []
    if not isinstance(entries, list):
        raise ProvidersFileError(path, [("providers", "a list of providers")])
    problems: list[tuple[str, str]] = []
    providers: list[ProviderCreate] = []
    names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        missing = len(problems)
        entry = _interpolate(entry, ["providers", index], environ, problems)
        if len(problems) > missing:
            continue  # a variable that is not set says more than the empty value left in its place
        try:
            spec = ProviderCreate.model_validate(entry)
        except ValidationError as invalid:
            problems += [(field_path(["providers", index, *e["loc"]]), e["msg"]) for e in invalid.errors()]
            continue
        if spec.name in names:
            problems.append((f"providers[{index}].name", f"{spec.name!r} is declared twice"))
        names[spec.name] = index
        providers.append(spec)
    if problems:
        raise ProvidersFileError(path, problems)
    return ProvidersFile(path, providers)


def load(path: Path, environ: Mapping[str, str] | None = None) -> ProvidersFile:
    try:
        text = path.read_text()
    except OSError as error:
        raise ProvidersFileError(path, [("", f"cannot read it: {error.strerror or error}")]) from None
    return parse(text, path, environ)


def apply(
    service: ProviderService,
    session: Session,
    declared: ProvidersFile,
    reserved: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Create or update every provider the file declares, in the caller's transaction.

    ``reserved`` names providers the file may not declare (``local``, while the embedded storage
    registers itself under that name). Answers what changed per provider; nothing, the second time.
    """
    changes: dict[str, list[str]] = {}
    for index, spec in enumerate(declared.providers):
        if spec.name in reserved:
            raise ProvidersFileError(
                declared.path,
                [
                    (
                        f"providers[{index}].name",
                        f"{spec.name!r} is the embedded storage's; choose another name",
                    )
                ],
            )
        try:
            _, changed = service.apply(session, spec)
        except Invalid as invalid:
            raise ProvidersFileError(
                declared.path, [(f"providers[{index}].{p.field}", p.detail) for p in invalid.problems]
            ) from None
        if changed:
            changes[spec.name] = changed
    if changes:
        for name, changed in changes.items():
            log.info("providers file %s: %s: %s", declared.path, name, ", ".join(changed))
    else:
        log.info("providers file %s: every provider is as declared", declared.path)
    return changes
