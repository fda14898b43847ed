"""The packaged JSON Schemas: valid draft 2020-12, shipped in the package, and right about real bodies."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pytest_connector_contract.contract import schemas

REPO_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12_and_loads_from_the_package(name: str) -> None:
    packaged = resources.files("pytest_connector_contract.contract").joinpath("schemas", f"{name}.schema.json")
    assert packaged.is_file()
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_repository_schemas_directory_is_the_packaged_one() -> None:
    assert sorted(p.name for p in REPO_SCHEMAS.glob("*.json")) == sorted(
        f"{name}.schema.json" for name in schemas.SCHEMA_NAMES
    )


# Example bodies quoted in the facts document (es-connector-status-api.md, sections 0, 4, 5, 6).
TRANSITION_ERROR = {
    "error": {
        "root_cause": [
            {
                "type": "status_exception",
                "reason": "Invalid transition attempt from [created] to [connected]. Such a status transition is "
                "not supported by the Connector Protocol.",
            }
        ],
        "type": "status_exception",
        "reason": "Invalid transition attempt from [created] to [connected]. Such a status transition is not "
        "supported by the Connector Protocol.",
        "caused_by": {
            "type": "connector_invalid_status_transition_exception",
            "reason": "Invalid transition attempt from [created] to [connected].",
        },
    },
    "status": 400,
}
PARSE_ERROR = {
    "error": {
        "root_cause": [
            {
                "type": "x_content_parse_exception",
                "reason": "[1:11] [connector_update_status_request] failed to parse field [status]",
            }
        ],
        "type": "x_content_parse_exception",
        "reason": "[1:11] [connector_update_status_request] failed to parse field [status]",
        "caused_by": {"type": "illegal_argument_exception", "reason": "Unknown ConnectorStatus: foo"},
    },
    "status": 400,
}
NOT_FOUND = {
    "error": {
        "root_cause": [{"type": "resource_not_found_exception", "reason": "connector [x] not found"}],
        "type": "resource_not_found_exception",
        "reason": "connector [x] not found",
    },
    "status": 404,
}
METHOD = {
    "error": "Incorrect HTTP method for uri [/_connector/x/_status] and method [POST], allowed: [PUT]",
    "status": 405,
}
MEDIA = {"error": "Content-Type header [text/plain] is not supported", "status": 406}
NO_HANDLER = {"error": "no handler found for uri [/_connector/x/_status] and method [PUT]"}
WITH_TRACE = {**NOT_FOUND, "error": {**NOT_FOUND["error"], "stack_trace": "ResourceNotFoundException[...]"}}


@pytest.mark.parametrize(
    "body",
    [TRANSITION_ERROR, PARSE_ERROR, NOT_FOUND, METHOD, MEDIA, NO_HANDLER, WITH_TRACE],
    ids=["transition", "parse", "not-found", "405", "406", "no-handler", "error-trace"],
)
def test_error_schema_accepts_real_error_bodies(body: dict) -> None:
    assert schemas.problems("error", body) == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"error": {"type": "x", "reason": "y"}, "status": 400}, "root_cause missing"),
        (
            {"error": {"root_cause": [{"type": "a", "caused_by": {"type": "b"}}], "type": "a"}, "status": 400},
            "root_cause entries never carry caused_by",
        ),
        ({"error": {"root_cause": [], "type": "a"}, "status": 400}, "empty root_cause"),
        ({"status": 400}, "no error"),
        ({"error": 3}, "error neither object nor string"),
        ({"error": {"root_cause": [{"type": "a"}], "type": "a"}}, "object form without status"),
    ],
)
def test_error_schema_rejects_broken_error_bodies(body: dict, why: str) -> None:
    assert schemas.problems("error", body), why


@pytest.mark.parametrize("body", [{"result": "updated"}, {"result": "noop"}, {"result": "updated", "_shards": {}}])
def test_status_response_schema_accepts_success_bodies(body: dict) -> None:
    assert schemas.problems("status-response", body) == []


@pytest.mark.parametrize("body", [{}, {"result": "created"}, {"result": "UPDATED"}, {"acknowledged": True}, []])
def test_status_response_schema_rejects_other_bodies(body: object) -> None:
    assert schemas.problems("status-response", body)


@pytest.mark.parametrize("body", [{"status": "connected"}, {"status": "needs_configuration"}])
def test_status_request_schema_accepts_documented_requests(body: dict) -> None:
    assert schemas.problems("status-request", body) == []


@pytest.mark.parametrize("body", [{}, {"status": "foo"}, {"status": None}, {"status": "connected", "foo": 1}, []])
def test_status_request_schema_rejects_what_elasticsearch_refuses(body: object) -> None:
    assert schemas.problems("status-request", body)


def test_connector_schema_accepts_a_real_document_with_extra_fields() -> None:
    document = {
        "id": "my-connector",
        "status": "configured",
        "name": "",
        "index_name": "search-x",
        "is_native": False,
        "configuration": {},
        "error": None,
        "filtering": [],
        "scheduling": {},
        "sync_now": False,
        "deleted": False,
        "api_key_id": None,
        "custom_scheduling": {},
        "features": {},
        "language": None,
        "last_seen": None,
    }
    assert schemas.problems("connector", document) == []


@pytest.mark.parametrize(
    "document",
    [{"status": "created"}, {"id": "x", "status": "CREATED"}, {"id": "x", "status": "created", "is_native": "no"}],
)
def test_connector_schema_rejects_documents_the_suite_cannot_rely_on(document: dict) -> None:
    assert schemas.problems("connector", document)


def test_problems_name_the_failing_location() -> None:
    (line,) = schemas.problems("status-response", {"result": "created"})
    assert line.startswith("result: ")


def test_digest_is_stable_and_covers_every_schema() -> None:
    assert schemas.digest() == schemas.digest()
    assert len(schemas.digest()) == 64
