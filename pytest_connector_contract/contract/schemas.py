"""The packaged JSON Schemas (draft 2020-12), loaded from the installed package and compiled once."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pytest_connector_contract.contract.fastschema import Predicate, compile_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = [
    "CHECK_SCHEMAS",
    "SCHEMA_NAMES",
    "digest",
    "load",
    "prepare",
    "problems",
    "report_schema_version",
    "validator",
]

SCHEMA_NAMES = (
    "status-request",
    "status-response",
    "error",
    "connector",
    "conformance-report",
    "spec",
    "baseline",
    "recording",
    "captures",
)


#: the schemas the checks validate answers against
CHECK_SCHEMAS = ("status-response", "error", "connector")


def _files() -> Any:
    return resources.files(__package__).joinpath("schemas")


@cache
def load(name: str) -> dict[str, Any]:
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no schema named {name!r}")
    text = _files().joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    # Imported on first use: only for a schema beyond fastschema, or to say what is wrong with an instance.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load(name))


@cache
def _predicate(name: str) -> Predicate | None:
    return compile_schema(load(name))


def prepare(names: tuple[str, ...] = CHECK_SCHEMAS) -> None:
    """Compile ``names`` now (each is compiled once per process, on first use otherwise)."""
    for name in names:
        if _predicate(name) is None:
            validator(name)


def problems(name: str, instance: Any) -> list[str]:
    """Every way ``instance`` breaks schema ``name``, one readable line each (empty when valid).

    A valid instance is recognised without jsonschema where :mod:`.fastschema` can (the checks' schemas);
    jsonschema judges everything else, and writes the messages."""
    predicate = _predicate(name)
    if predicate is not None and predicate(instance):
        return []
    lines = []
    for error in sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        lines.append(f"{where}: {error.message}")
    return lines


@cache
def digest() -> str:
    """sha256 over every packaged schema, for provenance in reports."""
    sha = hashlib.sha256()
    for name in SCHEMA_NAMES:
        sha.update(name.encode())
        sha.update(_files().joinpath(f"{name}.schema.json").read_bytes())
    return sha.hexdigest()


def report_schema_version() -> int:
    """The ``schema_version`` of the conformance report this version writes: the schema's own constant."""
    return int(load("conformance-report")["properties"]["schema_version"]["const"])
