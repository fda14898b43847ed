"""fastschema's yes/no answers agree with jsonschema's on the checks' schemas, over real answers and thousands
of mutations of them; a "yes" jsonschema would not give would let a broken answer pass a check."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.fastschema import compile_schema
from pytest_connector_contract.reference.endpoints import ReferenceTarget

REPLACEMENTS: list[Any] = [None, True, False, 0, 1, 400, 599, 600, 1.5, 400.0, "", "x", "updated", "created", [], {}]
REPLACEMENTS += [[{}], [{"type": "a"}], [{"type": "a", "caused_by": {"type": "b"}}], {"type": "a"}, {"type": ""}]


def _real_answers() -> dict[str, list[Any]]:
    target = ReferenceTarget()
    json_headers = {"Content-Type": "application/json"}

    def call(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        return json.loads(target.handle(method, path, {}, headers or {}, body).body or b"null")

    call("PUT", "/_connector/c", b'{"index_name": "c"}', json_headers)
    answers = {
        "status-response": [call("PUT", "/_connector/c/_status", b'{"status": "error"}', json_headers)],
        "connector": [call("GET", "/_connector/c")],
        "error": [
            call("PUT", "/_connector/c/_status", b'{"status": "created"}', json_headers),
            call("PUT", "/_connector/c/_status", b'{"status": 1}', json_headers),
            call("PUT", "/_connector/nope/_status", b'{"status": "error"}', json_headers),
            call("PUT", "/_connector/c/_status", b'{"status": "error"}'),
            call("POST", "/_connector/c/_status", b'{"status": "error"}', json_headers),
            call("GET", "/_nothing_here"),
        ],
    }
    return answers


def _mutations(value: Any, depth: int = 0) -> Iterator[Any]:
    """``value`` with one place changed: a key removed, or a value replaced (recursively)."""
    yield from REPLACEMENTS
    if depth > 4:
        return
    if isinstance(value, dict):
        for key in value:
            smaller = {k: v for k, v in value.items() if k != key}
            yield smaller
            for inner in _mutations(value[key], depth + 1):
                changed = copy.copy(value)
                changed[key] = inner
                yield changed
        for extra in ("status", "error", "root_cause", "caused_by", "result", "id", "type"):
            if extra not in value:
                yield {**value, extra: "x"}
    if isinstance(value, list):
        yield []
        for index, item in enumerate(value):
            for inner in _mutations(item, depth + 1):
                changed = list(value)
                changed[index] = inner
                yield changed
        yield [*value, *value]


@pytest.mark.parametrize("name", schemas.CHECK_SCHEMAS)
def test_fastschema_agrees_with_jsonschema(name: str) -> None:
    predicate = compile_schema(schemas.load(name))
    assert predicate is not None, f"{name} uses a keyword fastschema does not know: jsonschema would do all the work"
    reference = Draft202012Validator(schemas.load(name))
    instances = 0
    for answer in _real_answers()[name]:
        assert reference.is_valid(answer)
        for instance in [answer, *_mutations(answer)]:
            instances += 1
            assert predicate(instance) == reference.is_valid(instance), (name, instance)
    assert instances > 40


def test_schemas_beyond_fastschema_are_left_to_jsonschema() -> None:
    assert compile_schema(schemas.load("conformance-report")) is None
    assert compile_schema(schemas.load("status-request")) is None  # additionalProperties
    assert compile_schema({"type": "object", "additionalProperties": False}) is None
    assert compile_schema({"$ref": "https://elsewhere.invalid/schema.json"}) is None
    assert compile_schema({"type": "decimal"}) is None


def test_json_equality_keeps_booleans_and_numbers_apart() -> None:
    predicate = compile_schema({"enum": [1, "a", [True]]})
    assert predicate is not None
    assert predicate(1)
    assert predicate(1.0)
    assert not predicate(True)
    assert predicate([True])
    assert not predicate([1])
    assert not predicate("A")


def test_problems_still_come_from_jsonschema_for_invalid_answers() -> None:
    (line,) = schemas.problems("status-response", {"result": "created"})
    assert line == "result: 'created' is not one of ['updated', 'noop']"
    assert schemas.problems("status-response", {"result": "noop"}) == []
