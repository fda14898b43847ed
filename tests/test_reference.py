"""The reference target, its server and its CLI, exercised over real loopback HTTP (no mocks).

The faithful reference is what the whole suite is calibrated against, so these tests pin it to the
ground-truth document (docs: es-connector-status-api.md) and to the packaged spec: every row of the
bad-input table, the transition matrix of each profile, the version-dependent behaviours, the protocol
forms (400 no handler, 405, 406), headers on every answer, thread safety, and the official Python client.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from support.session import ReferenceSession, new_id

import pytest_connector_contract
from pytest_connector_contract.cli import main as cli
from pytest_connector_contract.config.settings import DEFAULT_CONCURRENCY
from pytest_connector_contract.contract.spec import ValidationCase, case_request, load_spec
from pytest_connector_contract.reference.endpoints import DEFAULT_ES_VERSION, Document, ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.reader import Field
from pytest_connector_contract.reference.server import ReferenceServer, ReferenceServerError

SPEC = load_spec()
JSON = {"Content-Type": "application/json"}
INVALID = "Such a status transition is not supported by the Connector Protocol."


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def make_client(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., ReferenceSession]]:
    """Start a server (``start_target``) for a given version/flavor and a client for it, closed at teardown."""
    clients: list[ReferenceSession] = []

    def make(es_version: str = DEFAULT_ES_VERSION, **kwargs: Any) -> ReferenceSession:
        target_kwargs = {k: kwargs.pop(k) for k in ("build_flavor",) if k in kwargs}
        client = ReferenceSession(start_target(ReferenceTarget(es_version, **target_kwargs), **kwargs))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def es(make_client: Callable[..., ReferenceSession]) -> ReferenceSession:
    """A 9.1.0 emulation (the newest profile, soft delete)."""
    return make_client()


@pytest.fixture
def es814(make_client: Callable[..., ReferenceSession]) -> ReferenceSession:
    return make_client("8.14.3")


def assert_error(
    response: requests.Response,
    status: int,
    error_type: str,
    reason_contains: str | None = None,
    caused_by_type: str | None = None,
    *,
    strict_cause: bool = True,
) -> dict[str, Any]:
    """Check an error answer; with ``strict_cause`` a missing ``caused_by_type`` means "no cause"."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    error = body["error"]
    assert error["type"] == error_type
    assert error["root_cause"][0]["type"] == error_type
    assert all("caused_by" not in cause for cause in error["root_cause"])
    if reason_contains is not None:
        assert reason_contains in error["reason"]
    if caused_by_type is None:
        assert not strict_cause or "caused_by" not in error
    else:
        assert error["caused_by"]["type"] == caused_by_type
    assert isinstance(error, dict)
    return error


# ---------------------------------------------------------------------------------------- routes


def test_root_identifies_the_emulated_version(es: ReferenceSession) -> None:
    response = es.request("GET", "/")
    assert response.status_code == 200
    body = response.json()
    assert body["tagline"] == "You Know, for Search"
    assert body["version"]["number"] == DEFAULT_ES_VERSION
    assert body["version"]["build_flavor"] == "default"
    assert {"name", "cluster_name", "cluster_uuid"} <= body.keys()
    assert {"build_type", "build_hash", "lucene_version", "minimum_wire_compatibility_version"} <= body[
        "version"
    ].keys()
    head = es.request("HEAD", "/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["X-elastic-product"] == "Elasticsearch"


def test_create_get_replace_list_delete(es: ReferenceSession) -> None:
    cid = new_id()
    created = es.request("PUT", f"/_connector/{cid}", json={"index_name": "idx-a", "name": "A"})
    assert (created.status_code, created.json()) == (201, {"id": cid, "result": "created"})
    es.drive(cid, "configured")

    doc = es.request("GET", f"/_connector/{cid}").json()
    assert doc["id"] == cid
    assert doc["status"] == "configured"
    assert doc["deleted"] is False
    for key in ("name", "index_name", "is_native", "configuration", "error", "filtering", "scheduling"):
        assert key in doc
    assert doc["sync_now"] is False
    assert doc["filtering"][0]["active"]["rules"][0]["id"] == "DEFAULT"

    replaced = es.request("PUT", f"/_connector/{cid}", json={"index_name": "idx-a", "name": "B"})
    assert (replaced.status_code, replaced.json()) == (200, {"id": cid, "result": "updated"})
    assert es.status_of(cid) == "created"  # a replace resets the status

    listed = es.request("GET", "/_connector", params={"index_name": "idx-a"}).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == cid

    deleted = es.request("DELETE", f"/_connector/{cid}", params={"hard": "true"})
    assert (deleted.status_code, deleted.json()) == (200, {"acknowledged": True})
    assert_error(es.request("GET", f"/_connector/{cid}"), 404, "resource_not_found_exception", f"[{cid}]")


def test_post_generates_an_id(es: ReferenceSession) -> None:
    response = es.request("POST", "/_connector", json={"index_name": "idx-post"})
    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "created"
    assert es.status_of(body["id"]) == "created"


def test_is_native_starts_in_needs_configuration(es: ReferenceSession) -> None:
    cid = es.create(is_native=True, index_name=f"content-{uuid.uuid4().hex[:8]}")
    assert es.status_of(cid) == "needs_configuration"


def test_list_filters_and_paging(es: ReferenceSession) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [es.create(f"list-{tag}-{i}", service_type="gdrive" if i % 2 else "jira") for i in range(5)]
    everything = es.request("GET", "/_connector", params={"query": tag}).json()
    assert everything["count"] == 5
    assert [r["id"] for r in everything["results"]] == ids  # sorted by index name
    page = es.request("GET", "/_connector", params={"query": tag, "from": 1, "size": 2}).json()
    assert page["count"] == 5
    assert [r["id"] for r in page["results"]] == ids[1:3]
    jira = es.request("GET", "/_connector", params={"query": tag, "service_type": "jira"}).json()
    assert jira["count"] == 3
    named = es.request("GET", "/_connector", params={"connector_name": f"{ids[0]},{ids[4]}"}).json()
    assert [r["id"] for r in named["results"]] == [ids[0], ids[4]]
    bad = es.request("GET", "/_connector", params={"size": "many"})
    assert_error(
        bad, 400, "illegal_argument_exception", "Failed to parse int parameter [size]", "number_format_exception"
    )


def test_url_encoded_ids_are_decoded(es: ReferenceSession) -> None:
    assert es.request("PUT", "/_connector/a%2Fb%20c%C3%A9", json={"index_name": "idx-enc"}).json()["id"] == "a/b cé"
    response = es.request("PUT", "/_connector/a%2Fb%20c%C3%A9/_status", json={"status": "error"})
    assert response.json() == {"result": "updated"}
    assert es.request("GET", "/_connector/a%2Fb%20c%C3%A9").json()["status"] == "error"


def test_unknown_path_has_a_string_error_without_status(es: ReferenceSession) -> None:
    response = es.request("GET", "/_nope/x", params={"a": "1"})
    assert response.status_code == 400
    assert response.json() == {"error": "no handler found for uri [/_nope/x?a=1] and method [GET]"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/_connector/x/_status", "PUT"),
        ("POST", "/_connector/x/_status", "PUT"),
        ("DELETE", "/_connector/x/_status", "PUT"),
        ("PATCH", "/_connector/x", "GET,PUT,DELETE"),
        ("DELETE", "/", "GET,HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(es: ReferenceSession, method: str, path: str, allowed: str) -> None:
    response = es.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json() == {
        "error": f"Incorrect HTTP method for uri [{path}] and method [{method}], "
        f"allowed: [{allowed.replace(',', ', ')}]",
        "status": 405,
    }


def test_options_lists_allowed_methods(es: ReferenceSession) -> None:
    response = es.request("OPTIONS", "/_connector/x/_status")
    assert (response.status_code, response.headers["Allow"], response.content) == (200, "PUT", b"")


def test_405_leaves_the_connector_in_place(es: ReferenceSession) -> None:
    cid = es.create()
    assert es.request("DELETE", f"/_connector/{cid}/_status").status_code == 405
    assert es.status_of(cid) == "created"


# ---------------------------------------------------------------------------- bad input (section 4)


def send_case(client: ReferenceSession, connector_id: str, request: dict[str, Any]) -> requests.Response:
    """Send one spec validation case as the suite sends it (``case_request`` writes it on the wire)."""
    wire = case_request(request)
    headers = {"Content-Type": wire.content_type} if wire.content_type is not None else {}
    if wire.accept is not None:
        headers["Accept"] = wire.accept
    return client.request(
        wire.method,
        f"/_connector/{connector_id}/_status",
        data=wire.body.encode() if wire.body is not None else None,
        headers=headers,
        params=wire.query,
    )


@pytest.mark.parametrize("case", SPEC.validation_cases, ids=lambda c: c.id)
def test_spec_validation_case_on_newest(es: ReferenceSession, case: ValidationCase) -> None:
    """The faithful reference meets every validation expectation of the packaged spec."""
    cid = es.create()
    response = send_case(es, cid, case.request)
    expect = case.expect
    assert response.status_code == expect["http"], response.text
    assert response.headers["X-elastic-product"] == "Elasticsearch"
    body = None if expect.get("empty_body") else response.json()
    if expect.get("empty_body"):
        assert response.content == b""
    if "error_type" in expect:
        error = assert_error(
            response,
            expect["http"],
            expect["error_type"],
            expect.get("reason_contains"),
            expect.get("caused_by", {}).get("type"),
            strict_cause=False,
        )
        if "reason_contains" in expect.get("caused_by", {}):
            assert expect["caused_by"]["reason_contains"] in error["caused_by"]["reason"]
    if "error_string_contains" in expect:
        assert isinstance(body["error"], str)
        assert expect["error_string_contains"] in body["error"]
    if "allow_contains" in expect:
        assert expect["allow_contains"] in response.headers["Allow"]
    if "stored_status" in expect:
        assert es.status_of(cid) == expect["stored_status"]
    elif expect["http"] != 200:
        assert es.status_of(cid) == "created"  # a refused request changes nothing


@pytest.mark.parametrize(
    ("raw", "error_type", "reason", "cause"),
    [
        (
            '{"status":" connected"}',
            "x_content_parse_exception",
            "failed to parse field [status]",
            "illegal_argument_exception",
        ),
        ('{"status":{"a":1}}', "x_content_parse_exception", "values of type: START_OBJECT", None),
        (
            '{"status":"needs_configuration","status":"error"}',
            "x_content_parse_exception",
            "Duplicate field 'status'",
            "json_parse_exception",
        ),
        ('{"foo":1,"status":"bad"}', "x_content_parse_exception", "unknown field [foo]", None),
        (
            '{"status":"bad","foo":1}',
            "x_content_parse_exception",
            "failed to parse field [status]",
            "illegal_argument_exception",
        ),
        ('{"status":"needs_configuration",}', "x_content_parse_exception", "double-quote", "json_parse_exception"),
        ("{'status':'error'}", "x_content_parse_exception", "double-quote", "json_parse_exception"),
        ('{"status":"error"', "x_content_e_o_f_exception", None, "json_e_o_f_exception"),
        (
            "  ",
            "x_content_parse_exception",
            "[connector_update_status_request] Expected START_OBJECT but was: null",
            None,
        ),
    ],
)
def test_more_bad_bodies(
    es: ReferenceSession, raw: str, error_type: str, reason: str | None, cause: str | None
) -> None:
    cid = es.create()
    response = es.request("PUT", f"/_connector/{cid}/_status", data=raw.encode(), headers=JSON)
    assert_error(response, 400, error_type, reason, cause)
    assert es.status_of(cid) == "created"


@pytest.mark.parametrize(
    ("raw", "token"), [("[]", "START_ARRAY"), ('"connected"', "VALUE_STRING"), ("1", "VALUE_NUMBER")]
)
def test_a_body_that_is_not_an_object_names_the_parser(es: ReferenceSession, raw: str, token: str) -> None:
    """Facts sheet section 4: ObjectParser's ``throwExpectedStartObject`` names the parser."""
    cid = es.create()
    response = es.request("PUT", f"/_connector/{cid}/_status", data=raw.encode(), headers=JSON)
    error = assert_error(response, 400, "x_content_parse_exception", None, None)
    assert error["reason"].endswith(f"[connector_update_status_request] Expected START_OBJECT but was: {token}")
    assert error["root_cause"][0]["reason"] == error["reason"]
    assert es.status_of(cid) == "created"


def test_unknown_value_cause_names_the_value(es: ReferenceSession) -> None:
    error = assert_error(
        es.put_status(es.create(), "foo"),
        400,
        "x_content_parse_exception",
        "failed to parse field [status]",
        "illegal_argument_exception",
    )
    assert error["caused_by"] == {"type": "illegal_argument_exception", "reason": "Unknown ConnectorStatus: foo"}


def test_comments_and_trailing_text_are_tolerated_like_jackson(es: ReferenceSession) -> None:
    cid = es.create()
    body = b'{ /* why not */ "status" : "Needs_Configuration" } // trailing'
    response = es.request("PUT", f"/_connector/{cid}/_status", data=body, headers=JSON)
    assert response.json() == {"result": "updated"}


def test_body_is_parsed_before_the_connector_is_read(es: ReferenceSession) -> None:
    response = es.request("PUT", "/_connector/missing/_status", data=b"[]", headers=JSON)
    assert_error(response, 400, "x_content_parse_exception", "Expected START_OBJECT")
    response = es.put_status("missing", "error")
    error = assert_error(response, 404, "resource_not_found_exception")
    assert error["reason"] == "connector [missing] not found"


def test_body_is_parsed_before_parameters_and_parameters_before_validation(es: ReferenceSession) -> None:
    cid = es.create()
    bad_body = es.put_status(cid, "nope", params={"foo": "1"})
    assert_error(
        bad_body, 400, "x_content_parse_exception", "failed to parse field [status]", "illegal_argument_exception"
    )
    empty = es.request("PUT", f"/_connector/{cid}/_status", json={}, params={"foo": "1"})
    assert_error(empty, 400, "illegal_argument_exception", "contains unrecognized parameter: [foo]")
    typo = es.request("DELETE", f"/_connector/{cid}", params={"hardd": "true"})
    assert_error(typo, 400, "illegal_argument_exception", "[hardd] -> did you mean [hard]?")


def test_case_insensitive_like_java() -> None:
    target = ReferenceTarget()
    assert target.parse_status("CONNECTED") == "connected"
    assert target.parse_status("conFIGured") == "configured"
    assert target.parse_status("conf\u0131gured") == "configured"  # Java maps dotless i to I
    with pytest.raises(ValueError, match="Unknown ConnectorStatus: connected "):
        target.parse_status("connected ")


def test_global_parameters(es: ReferenceSession) -> None:
    cid = es.create()
    pretty = es.request("GET", f"/_connector/{cid}", params={"pretty": "", "filter_path": "id,status"})
    assert pretty.text == f'{{\n  "id" : "{cid}",\n  "status" : "created"\n}}\n'
    traced = es.put_status(cid, "foo", params={"error_trace": "true", "human": "true"})
    assert "stack_trace" in traced.json()["error"]


# --------------------------------------------------------------------------------- content types


def test_406_forms(es: ReferenceSession) -> None:
    cid = es.create()
    body = b'{"status":"error"}'
    missing = es.request("PUT", f"/_connector/{cid}/_status", data=body)
    assert missing.status_code == 406
    assert missing.json() == {"error": "Content-Type header is missing", "status": 406}
    plain = es.request("PUT", f"/_connector/{cid}/_status", data=body, headers={"Content-Type": "text/plain"})
    assert plain.json() == {"error": "Content-Type header [text/plain] is not supported", "status": 406}
    assert es.status_of(cid) == "created"
    utf8 = es.request(
        "PUT", f"/_connector/{cid}/_status", data=body, headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    assert utf8.json() == {"result": "updated"}


@pytest.mark.parametrize("compat", ["8", "9"])
def test_vendor_media_type_is_accepted_and_echoed(es: ReferenceSession, compat: str) -> None:
    vendor = f"application/vnd.elasticsearch+json; compatible-with={compat}"
    cid = es.create()
    response = es.put_status(cid, "error", headers={"Content-Type": vendor, "Accept": vendor})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"application/vnd.elasticsearch+json;compatible-with={compat}"


def test_unsupported_compatible_version_is_refused(es: ReferenceSession) -> None:
    vendor = "application/vnd.elasticsearch+json; compatible-with=7"
    response = es.put_status(es.create(), "error", headers={"Content-Type": vendor, "Accept": vendor})
    error = assert_error(response, 400, "media_type_header_exception", caused_by_type="status_exception")
    assert "must be either version 9 or 8, but found 7" in error["caused_by"]["reason"]
    assert response.headers["Content-Type"] == "application/json"


def test_headers_on_every_answer(es: ReferenceSession) -> None:
    cid = es.create()
    answers = [
        es.request("GET", "/"),
        es.put_status(cid, "error"),
        es.put_status(cid, "created"),
        es.put_status("nope", "error"),
        es.request("POST", f"/_connector/{cid}/_status"),
        es.request("PUT", f"/_connector/{cid}/_status", data=b"{}"),
        es.request("GET", "/nowhere"),
        es.request("GET", "/_connector"),
        es.request("DELETE", f"/_connector/{cid}"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 400, 404, 405, 406, 400, 200, 200]
    for answer in answers:
        assert answer.headers["X-elastic-product"] == "Elasticsearch"
        assert answer.headers["Content-Type"] == "application/json"
        assert int(answer.headers["Content-Length"]) == len(answer.content)


# -------------------------------------------------------------------------------- transitions


MATRIX = [(p, a, b) for p in ("8.14.3", "9.1.0") for a in SPEC.statuses for b in SPEC.statuses]


@pytest.mark.parametrize(("version", "current", "requested"), MATRIX)
def test_transition_matrix(
    make_client: Callable[..., ReferenceSession], version: str, current: str, requested: str
) -> None:
    client = make_client(version)
    profile = client.server.target.profile
    assert profile.name == ("8.13" if version.startswith("8.14") else "8.15")
    cid = client.create()
    client.drive(cid, current)
    before = client.request("GET", f"/_connector/{cid}").json()
    response = client.put_status(cid, requested)
    if profile.allows(current, requested):
        expected = "noop" if current == requested else "updated"
        assert (response.status_code, response.json()) == (200, {"result": expected})
        assert client.status_of(cid) == requested
    else:
        reason = f"Invalid transition attempt from [{current}] to [{requested}]. {INVALID}"
        assert response.json() == {
            "error": {
                "root_cause": [{"type": "status_exception", "reason": reason}],
                "type": "status_exception",
                "reason": reason,
                "caused_by": {"type": "connector_invalid_status_transition_exception", "reason": reason},
            },
            "status": 400,
        }
        assert client.request("GET", f"/_connector/{cid}").json() == before


def test_self_transitions_differ_between_profiles(make_client: Callable[..., ReferenceSession]) -> None:
    old, new = make_client("8.14.3"), make_client("8.15.0")
    for client, expected in ((old, 400), (new, 200)):
        cid = client.create()
        client.drive(cid, "connected")
        assert client.put_status(cid, "connected").status_code == expected


def test_serverless_uses_the_newest_profile_whatever_its_version(make_client: Callable[..., ReferenceSession]) -> None:
    client = make_client("8.11.0", build_flavor="serverless")
    info = client.request("GET", "/").json()["version"]
    assert (info["number"], info["build_flavor"]) == ("8.11.0", "serverless")
    assert client.server.target.profile.name == SPEC.newest_profile
    cid = client.create()
    client.drive(cid, "error")
    assert client.put_status(cid, "error").json() == {"result": "noop"}


@pytest.mark.parametrize(
    ("version", "flavor", "message"),
    [
        ("8.12.9", "default", "appeared in 8.13.0"),
        ("nine", "default", "not an Elasticsearch version"),
        ("9.1.0", "oss", "unknown build flavor"),
    ],
)
def test_unsupported_versions_are_refused(version: str, flavor: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReferenceTarget(version, build_flavor=flavor)


# ----------------------------------------------------------------------- version behaviours


def test_empty_status_body_is_500_on_8_14_and_400_later(
    make_client: Callable[..., ReferenceSession], es814: ReferenceSession
) -> None:
    cid = es814.create()
    crash = es814.request("PUT", f"/_connector/{cid}/_status", data=b"")
    assert_error(crash, 500, "null_pointer_exception")
    assert crash.json()["error"]["reason"] is None
    newer = make_client("8.15.0")
    response = newer.request("PUT", f"/_connector/{newer.create()}/_status", data=b"")
    assert_error(response, 400, "parse_exception", "request body is required")


def test_create_rules_before_8_15(make_client: Callable[..., ReferenceSession], es814: ReferenceSession) -> None:
    assert_error(es814.request("PUT", "/_connector/c1"), 400, "parse_exception", "request body is required")
    assert es814.request("PUT", "/_connector/c1", json={}).status_code == 201  # no index_name needed on 8.14
    put_collection = es814.request("PUT", "/_connector", json={})
    assert (put_collection.status_code, put_collection.headers["Allow"]) == (405, "GET,POST")
    v813 = make_client("8.13.4")
    assert_error(
        v813.request("PUT", "/_connector/c1", json={"name": "x"}),
        400,
        "action_request_validation_exception",
        "[index_name] cannot be [null]",
    )
    v815 = make_client("8.15.0")
    assert v815.request("PUT", "/_connector/c1").status_code == 201


def test_put_body_is_strict(es: ReferenceSession) -> None:
    assert_error(
        es.request("PUT", "/_connector/c1", json={"index_name": "i", "x": 1}),
        400,
        "x_content_parse_exception",
        "[connector_put_request] unknown field [x]",
    )
    assert_error(
        es.request("PUT", "/_connector/c1", json={"index_name": "Upper"}),
        400,
        "action_request_validation_exception",
        "must be lowercase",
    )
    assert es.request("PUT", "/_connector/c1", json={"index_name": None}).status_code == 201


def test_soft_delete_on_9(es: ReferenceSession) -> None:
    cid = es.create()
    es.drive(cid, "configured")
    assert es.request("DELETE", f"/_connector/{cid}").json() == {"acknowledged": True}
    assert_error(es.request("GET", f"/_connector/{cid}"), 404, "resource_not_found_exception")
    assert_error(es.put_status(cid, "connected"), 404, "resource_not_found_exception", f"connector [{cid}]")
    assert_error(es.request("DELETE", f"/_connector/{cid}"), 404, "resource_not_found_exception")
    kept = es.request("GET", f"/_connector/{cid}", params={"include_deleted": "true"}).json()
    assert (kept["deleted"], kept["status"]) == (True, "configured")
    assert es.request("GET", "/_connector", params={"query": cid}).json()["count"] == 0
    replaced = es.request("PUT", f"/_connector/{cid}", json={"index_name": f"idx-{cid}"})
    assert (replaced.status_code, replaced.json()["result"]) == (200, "updated")
    assert es.request("GET", f"/_connector/{cid}").json()["deleted"] is False
    assert es.request("DELETE", f"/_connector/{cid}").status_code == 200
    assert es.request("DELETE", f"/_connector/{cid}", params={"hard": "true"}).status_code == 200
    assert es.server.target.snapshot(cid) is None
    assert_error(es.request("DELETE", f"/_connector/{cid}", params={"hard": ""}), 404, "resource_not_found_exception")


def test_hard_delete_only_before_9(es814: ReferenceSession) -> None:
    cid = es814.create()
    assert "deleted" not in es814.request("GET", f"/_connector/{cid}").json()
    assert_error(
        es814.request("DELETE", f"/_connector/{cid}", params={"hard": "true"}),
        400,
        "illegal_argument_exception",
        f"request [/_connector/{cid}] contains unrecognized parameter: [hard]",
    )
    assert es814.request("DELETE", f"/_connector/{cid}", params={"delete_sync_jobs": "true"}).status_code == 200
    assert es814.server.target.snapshot(cid) is None


def test_index_name_is_unique_among_live_connectors(es: ReferenceSession) -> None:
    first = es.create(index_name="shared-idx")
    clash = es.request("PUT", f"/_connector/{new_id()}", json={"index_name": "shared-idx"})
    assert_error(clash, 400, "status_exception", "Index name [shared-idx] is used by another connector.")
    assert es.request("PUT", f"/_connector/{first}", json={"index_name": "shared-idx"}).status_code == 200
    for _ in range(2):
        assert es.request("PUT", f"/_connector/{new_id()}", json={"index_name": None}).status_code == 201
    es.request("DELETE", f"/_connector/{first}")  # soft delete frees the name
    assert es.request("PUT", f"/_connector/{new_id()}", json={"index_name": "shared-idx"}).status_code == 201


# ------------------------------------------------------------------------------- the official client


@pytest.mark.filterwarnings("ignore::elasticsearch.exceptions.GeneralAvailabilityWarning")
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "http_compress"])
def test_official_python_client(es: ReferenceSession, compress: bool) -> None:
    """The example of Elastic's "Update connector status API" page, with and without the client's documented
    request compression (facts sheet sections 0 and 9: Elasticsearch decodes gzip request bodies)."""
    from elasticsearch import Elasticsearch, NotFoundError

    client = Elasticsearch(es.url, http_compress=compress)
    try:
        assert client.info()["version"]["number"] == DEFAULT_ES_VERSION
        client.connector.put(connector_id="py-client", index_name="py-client-idx", name="Py")
        assert (
            client.connector.update_status(connector_id="py-client", status="needs_configuration")["result"]
            == "updated"
        )
        assert client.connector.get(connector_id="py-client")["status"] == "needs_configuration"
        with pytest.raises(NotFoundError):
            client.connector.update_status(connector_id="nope", status="error")
    finally:
        client.close()


# ------------------------------------------------------------------------------- concurrency


def test_concurrent_mixed_requests(es: ReferenceSession) -> None:
    """8 threads x 50 requests of every kind: no 5xx, no server-side error, every state consistent."""
    failures: list[str] = []
    finals: dict[str, str] = {}

    def worker(n: int) -> None:
        rng = random.Random(n)
        with requests.Session() as session:

            def call(method: str, path: str, **kw: Any) -> requests.Response:
                response = session.request(method, es.url + path, **kw)
                if response.status_code >= 500:
                    failures.append(f"{method} {path} -> {response.status_code} {response.text}")
                return response

            cid = f"thread-{n}"
            call("PUT", f"/_connector/{cid}", json={"index_name": f"idx-thread-{n}"})
            path = ["needs_configuration", "configured", "connected", "error", "configured"]
            done = 0
            for i in range(49):
                kind = i % 5
                if kind == 0 and done < len(path):
                    r = call("PUT", f"/_connector/{cid}/_status", json={"status": path[done]})
                    failures.extend([] if r.status_code == 200 else [f"{cid}: {r.text}"])
                    done += 1
                elif kind == 1:
                    call("PUT", f"/_connector/{cid}/_status", json={"status": rng.choice(["created", "bogus"])})
                elif kind == 2:
                    call("GET", "/_connector", params={"size": 3})
                elif kind == 3:
                    call("PUT", "/_connector/shared/_status", data=b'{"status": 1}', headers=JSON)
                else:
                    call("GET", f"/_connector/{cid}")
            finals[cid] = path[done - 1]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for cid, status in finals.items():
        assert es.status_of(cid) == status
    assert es.server.errors == []


def test_status_updates_are_atomic(es: ReferenceSession) -> None:
    """Racing the same refused-after-first transition: exactly one winner per round."""
    cid = es.create()
    es.drive(cid, "configured")
    barrier = threading.Barrier(8, timeout=30)
    results: list[list[int]] = [[] for _ in range(10)]

    def worker() -> None:
        with requests.Session() as session:
            for round_results in results:
                barrier.wait()
                body = {"status": "needs_configuration"}
                response = session.put(f"{es.url}/_connector/{cid}/_status", json=body)
                round_results.append(response.status_code)
                barrier.wait()
                if response.status_code == 200:
                    session.put(f"{es.url}/_connector/{cid}/_status", json={"status": "configured"})
                barrier.wait()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for round_results in results:
        assert sorted(round_results) == [200] + [400] * 7


# ---------------------------------------------------------------------------- server mechanics


def test_target_exceptions_become_500_and_are_recorded() -> None:
    class Broken(ReferenceTarget):
        def transition_allowed(self, current: str, requested: str) -> bool:
            raise KeyError("boom")

    with ReferenceServer(Broken()) as server, requests.Session() as session:
        session.put(f"{server.url}/_connector/c1", json={"index_name": "i"})
        response = session.put(f"{server.url}/_connector/c1/_status", json={"status": "error"})
        assert response.status_code == 500
        assert response.json()["error"]["type"] == "exception"
        assert response.headers["X-elastic-product"] == "Elasticsearch"
        assert session.get(f"{server.url}/").status_code == 200  # the connection survives
    assert len(server.errors) == 1
    assert isinstance(server.errors[0], KeyError)
    with pytest.raises(ReferenceServerError, match="boom"):
        server.check_errors()


def test_lifecycle() -> None:
    server = ReferenceServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    server.stop()  # stopping a server that never ran is fine
    server.start()
    with pytest.raises(RuntimeError):
        server.start()
    session = requests.Session()
    assert session.get(server.url + "/").status_code == 200  # leaves an idle keep-alive connection
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() hung on an idle keep-alive connection"
    server.stop()
    session.close()
    assert server.url.startswith("http://127.0.0.1:")
    with pytest.raises(requests.ConnectionError), requests.Session() as fresh:
        fresh.get(server.url + "/", timeout=2)


def test_port_in_use_raises() -> None:
    with ReferenceServer() as first, pytest.raises(OSError, match="in use"):
        ReferenceServer(port=first.port).start()


def test_chunked_request_bodies(es: ReferenceSession) -> None:
    cid = es.create()

    def chunks() -> Iterator[bytes]:
        yield b'{"status":'
        yield b'"error"}'

    response = es.request("PUT", f"/_connector/{cid}/_status", data=chunks(), headers=JSON)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.json() == {"result": "updated"}


def test_latency_is_injected(start_target: Callable[..., ReferenceServer], monkeypatch: pytest.MonkeyPatch) -> None:
    """The server waits ``latency_ms`` between handling a request and answering it (the order of what happened,
    as the target, the server's sleep and the client saw it; no time is measured)."""
    events: list[object] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        events.append(("sleeps", seconds))
        real_sleep(seconds)
        events.append("woke")

    class Recording(ReferenceTarget):
        def handle(self, *args: Any, **kwargs: Any) -> Response:
            events.append("handled")
            return super().handle(*args, **kwargs)

    server = start_target(Recording(), latency_ms=60)
    monkeypatch.setattr(time, "sleep", sleep)
    with requests.Session() as session:
        assert session.get(server.url + "/").status_code == 200
    events.append("answered")
    assert events == ["handled", ("sleeps", 0.06), "woke", "answered"]


# ------------------------------------------------------------------------------ fault injection


def test_behaviour_is_overridable_in_a_few_lines(make_client: Callable[..., ReferenceSession]) -> None:
    """The override points the mutants rely on take effect through the whole HTTP pipeline."""

    class Mutant(ReferenceTarget):
        def transition_allowed(self, current: str, requested: str) -> bool:
            return True

        def unknown_field(self, parser_name: str, name: str, fields: Mapping[str, Field], location: str) -> None:
            return None

        def apply_status(self, doc: Document, status: str) -> str:
            doc["status"] = status.upper()
            return "updated"

        def base_headers(self, request: Request) -> dict[str, str]:
            headers = super().base_headers(request)
            del headers["X-elastic-product"]
            return headers

        def check_content_type(self, request: Request) -> Response | None:
            return None

    with ReferenceServer(Mutant()) as server, requests.Session() as session:
        session.put(f"{server.url}/_connector/m", json={"index_name": "m"})
        body = b'{"status":"connected","extra":{"a":[1,2]}}'
        response = session.put(f"{server.url}/_connector/m/_status", data=body)
        assert (response.status_code, response.json()) == (200, {"result": "updated"})
        assert "X-elastic-product" not in response.headers
        assert session.get(f"{server.url}/_connector/m").json()["status"] == "CONNECTED"


# ------------------------------------------------------------------------------------------ CLI


def _cli_env() -> dict[str, str]:
    root = str(Path(pytest_connector_contract.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def test_cli_serve_subprocess() -> None:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "serve", "--port", "0"]
    command += ["--es-version", "8.15.2", "--max-content-length", "1kb"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cli_env()
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            expected = "connector-contract reference target (Elasticsearch 8.15.2 emulation) listening on "
            assert line.startswith(expected + "http://127.0.0.1:"), line
            url = line.rsplit(" ", 1)[1]
            with requests.Session() as session:
                assert session.get(url + "/").json()["version"]["number"] == "8.15.2"
                session.put(url + "/_connector/cli", json={"index_name": "cli"})
                assert session.put(url + "/_connector/cli/_status", json={"status": "error"}).status_code == 200
                padded = b'{"status":"error"}' + b" " * 1024
                assert session.put(url + "/_connector/cli/_status", data=padded, headers=JSON).status_code == 413
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_cli_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pytest_connector_contract.cli.main", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=_cli_env(),
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_cli_bad_version_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--es-version", "8.12.0", "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "8.12.0" in captured.err


class HeldUntilAllArrive(ReferenceTarget):
    """Answers no request before ``parties`` requests are being handled at once."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def handle(self, *args: Any, **kwargs: Any) -> Any:
        self.barrier.wait()  # BrokenBarrierError (a 500 and a server error) unless all are served together
        return super().handle(*args, **kwargs)


def test_the_server_serves_as_many_connections_at_once_as_a_run_keeps_in_flight() -> None:
    """As many clients as the default number of checks in flight each open a connection and send a request at
    the same moment: all are handled at once, none waits for another to be answered."""
    parties = DEFAULT_CONCURRENCY
    with ReferenceServer(HeldUntilAllArrive(parties)) as server:
        answers: list[int] = []

        def one() -> None:
            with requests.Session() as session:
                answers.append(session.get(f"{server.url}/_connector/missing", timeout=15).status_code)

        threads = [threading.Thread(target=one) for _ in range(parties)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not server.errors
    assert answers == [404] * parties


@pytest.mark.parametrize("size", ["lots", "10xb", "-1", ""])
def test_cli_bad_max_content_length_is_a_usage_error(capsys: pytest.CaptureFixture[str], size: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--max-content-length", size, "--port", "0"])
    assert exit_info.value.code == 2
    assert "--max-content-length: expected a size in bytes such as 1048576, 512kb or 100mb" in capsys.readouterr().err
