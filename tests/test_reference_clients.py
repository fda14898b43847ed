"""The reference target serves what real clients send (issue 19, section 4; facts sheet sections 4, 5, 6, 9).

Each test asserts the answer the facts sheet (or the Elasticsearch source it cites) gives, never the
reference's own output: media types and ``compatible-with``, the headers clients read (``X-Opaque-Id``, the
product header, what 401 and 403 carry), the standard parameters, every method of the REST layer, ``+`` in
paths, the list endpoint's ``index_name`` validation, the ``content-`` rule of native connectors, the
``_error`` endpoint, the one transition cell of profile 8.13 left unpinned, and the official Python client
driven against ``ReferenceServer`` for the releases it supports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from support.session import ReferenceSession

from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.security import CONNECTOR_READ_ONLY, ApiKey, Security
from pytest_connector_contract.reference.server import ReferenceServer

JSON = "application/json"
VENDOR = "application/vnd.elasticsearch+json"
INVALID = "Invalid transition attempt from [created] to [connected]"
COMPATIBLE = "A compatible version is required on both Content-Type and Accept headers"
GA_WARNING = "ignore::elasticsearch.exceptions.GeneralAvailabilityWarning"  # the client's experimental-API notice


@pytest.fixture
def es_for(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., ReferenceSession]]:
    """Start a reference target of a release (with the target's keyword arguments) and a session to it,
    closed after the test."""
    sessions: list[ReferenceSession] = []

    def start(version: str = "9.1.0", **kwargs: Any) -> ReferenceSession:
        sessions.append(ReferenceSession(start_target(ReferenceTarget(version, **kwargs))))
        return sessions[-1]

    yield start
    for session in sessions:
        session.close()


@pytest.fixture
def es(es_for: Callable[..., ReferenceSession]) -> ReferenceSession:
    return es_for()


def media_type(value: str | None) -> tuple[str, str | None]:
    """The media type and its compatible-with: how the facts sheet says to compare a Content-Type."""
    assert value is not None
    kind, *params = (part.strip().lower() for part in value.split(";"))
    found = dict(p.split("=", 1) for p in params if "=" in p)
    return kind, found.get("compatible-with")


def assert_error(response: requests.Response, status: int, error_type: str, reason: str | None = None) -> Any:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == error_type, error
    assert error["root_cause"][0]["type"] == error_type
    if reason is not None:
        assert reason in error["reason"], error
    return error


# ------------------------------------------------------------------------------------------- media types


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=UTF-8",
        "application/json; charset=iso-8859-1",
        "application/json;charset=utf-16",
        "application/json; foo=bar",
        "application/x-ndjson",
        "application/*",
        "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
    ],
)
def test_json_media_types_are_read_as_json(es: ReferenceSession, content_type: str) -> None:
    """Section 9: application/json with any charset, application/x-ndjson and application/* are JSON."""
    connector = es.create()
    accept = {"Accept": f"{VENDOR}; compatible-with=9"} if "compatible-with" in content_type else {}
    response = es.status(connector, b'{"status":"needs_configuration"}', **{"Content-Type": content_type}, **accept)
    assert response.status_code == 200, response.text
    assert es.get(connector)["status"] == "needs_configuration"


def test_a_vendor_type_whose_compatible_with_is_not_a_number_is_no_type(es: ReferenceSession) -> None:
    """ParsedMediaType.toMediaType validates the parameters a type declares: compatible-with is digits."""
    vendor = f"{VENDOR}; compatible-with=x"
    response = es.status(es.create(), b'{"status":"error"}', **{"Content-Type": vendor, "Accept": JSON})
    assert response.status_code in (400, 406)  # the version check or the content-type check refuses it first


@pytest.mark.parametrize(("version", "accepted"), [("9.1.0", (8, 9)), ("8.19.0", (7, 8)), ("8.13.4", (7, 8))])
def test_compatible_with_the_current_major_and_the_one_before(
    es_for: Callable[..., ReferenceSession], version: str, accepted: tuple[int, int]
) -> None:
    es = es_for(version)
    for major in (*accepted, accepted[1] + 1):
        vendor = f"{VENDOR}; compatible-with={major}"
        response = es.status(es.create(), b'{"status":"error"}', **{"Content-Type": vendor, "Accept": vendor})
        if major in accepted:
            assert response.status_code == 200, response.text
            assert media_type(response.headers["Content-Type"]) == (VENDOR, str(major))
        else:
            assert_error(response, 400, "media_type_header_exception")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": f"{VENDOR}; compatible-with=9", "Accept": f"{VENDOR}; compatible-with=8"},
        {"Content-Type": f"{VENDOR}; compatible-with=9"},
        {"Content-Type": JSON, "Accept": f"{VENDOR}; compatible-with=8"},
    ],
    ids=["mismatch", "no-accept", "plain-content-type"],
)
def test_accept_and_content_type_must_carry_the_same_compatible_with(
    es: ReferenceSession, headers: dict[str, str]
) -> None:
    """Section 9: the status, the type and a caused_by substring only (RestCompatibleVersionHelper)."""
    error = assert_error(es.status(es.create(), b'{"status":"error"}', **headers), 400, "media_type_header_exception")
    assert COMPATIBLE in error["caused_by"]["reason"]


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("", {}, (JSON, None)),
        ("", {"Accept": f"{VENDOR}; compatible-with=9"}, (VENDOR, "9")),
        ("", {"Accept": f"{VENDOR}; compatible-with=8"}, (VENDOR, "8")),
        ("?format=json", {"Accept": f"{VENDOR}; compatible-with=9"}, (JSON, "9")),
        ("", {"Accept": JSON}, (JSON, None)),
        ("", {"Accept": "text/plain"}, (JSON, None)),
    ],
)
def test_the_response_type_follows_format_then_accept_then_json(
    es: ReferenceSession, query: str, headers: dict[str, str], expected: tuple[str, str | None]
) -> None:
    """AbstractRestChannel.newBuilder: ``format``, then an Accept naming a known type, then the request's own
    Content-Type, then JSON, with Accept's parameters."""
    response = es.request("GET", "/" + query, headers=headers)
    assert response.status_code == 200, response.text
    assert media_type(response.headers["Content-Type"]) == expected


def test_without_accept_the_response_type_is_the_requests_content_type(es: ReferenceSession) -> None:
    connector = es.create()
    response = es.request(
        "PUT",
        f"/_connector/{connector}/_status",
        data=b'{"status":"error"}',
        headers={"Content-Type": f"{VENDOR}; compatible-with=9", "Accept": f"{VENDOR}; compatible-with=9"},
    )
    assert media_type(response.headers["Content-Type"]) == (VENDOR, "9")
    plain = es.status(connector, b'{"status":"configured"}', **{"Content-Type": JSON})
    assert media_type(plain.headers["Content-Type"])[0] == JSON


def test_a_repeated_content_type_is_refused(es: ReferenceSession) -> None:
    """RestRequest.parseHeaderWithMediaType: "Incorrect header [Content-Type]. Only one value should be
    provided", as a media_type_header_exception."""
    path = f"/_connector/{es.create()}/_status"
    status, _, body = es.raw("PUT", path, [("Content-Type", JSON), ("Content-Type", JSON)], b'{"status":"error"}')
    assert status == 400
    assert b"media_type_header_exception" in body
    assert b"Only one value should be provided" in body


# ----------------------------------------------------------------------------------------------- headers


def _answers_of_every_kind(es: ReferenceSession) -> dict[str, requests.Response]:
    connector = es.create()
    path = f"/_connector/{connector}/_status"
    opaque = {"X-Opaque-Id": "op-1"}
    return {
        "200": es.request("PUT", path, json={"status": "error"}, headers=opaque),
        "400 transition": es.request("PUT", path, json={"status": "created"}, headers=opaque),
        "400 no handler": es.request("GET", "/_no_such_api", headers=opaque),
        "404": es.request("PUT", "/_connector/nope/_status", json={"status": "error"}, headers=opaque),
        "405": es.request("POST", path, json={"status": "error"}, headers=opaque),
        "406": es.request("PUT", path, data=b'{"status":"error"}', headers={**opaque, "Content-Type": "text/plain"}),
        "OPTIONS": es.request("OPTIONS", path, headers=opaque),
    }


def test_the_opaque_id_is_echoed_on_every_answer(es: ReferenceSession) -> None:
    """Section 9: DefaultRestChannel echoes X-Opaque-Id on every answer, errors, 405 and 406 included."""
    for kind, response in _answers_of_every_kind(es).items():
        assert response.headers.get("X-Opaque-Id") == "op-1", kind
        assert response.headers.get("X-elastic-product") == "Elasticsearch", kind
        assert "Warning" not in response.headers, kind


def test_a_repeated_opaque_id_is_refused(es: ReferenceSession) -> None:
    status, _, body = es.raw("GET", "/", [("X-Opaque-Id", "a"), ("X-Opaque-Id", "b")])
    assert status == 400
    assert b"multiple values for single-valued header [X-Opaque-Id]" in body
    status, headers, _ = es.raw("GET", "/", [("X-Opaque-Id", "a"), ("X-Opaque-Id", "a")])
    assert status == 200  # the same value twice is one value (distinct values are counted)
    assert headers["X-Opaque-Id"] == "a"


@pytest.fixture
def secured(start_target: Callable[..., ReferenceServer]) -> ReferenceSession:
    security = Security(api_keys=[ApiKey("rw", "s3cret"), ApiKey("ro", "s3cret2", privileges=CONNECTOR_READ_ONLY)])
    es = ReferenceSession(start_target(ReferenceTarget(security=security)))
    es.session.headers["Authorization"] = "ApiKey " + ApiKey("rw", "s3cret").encoded
    return es


def test_401_and_403_carry_neither_the_product_header_nor_warning(secured: ReferenceSession) -> None:
    """RestResponse.filterHeaders; a 401 never carries a stack trace, even with error_trace."""
    connector = secured.create()
    anonymous = requests.put(
        f"{secured.url}/_connector/{connector}/_status?error_trace=true",
        json={"status": "error"},
        headers={"X-Opaque-Id": "op-2"},
        timeout=10,
    )
    error = assert_error(anonymous, 401, "security_exception")
    assert "stack_trace" not in error
    read_only = {"Authorization": "ApiKey " + ApiKey("ro", "s3cret2").encoded, "X-Opaque-Id": "op-2"}
    forbidden = requests.put(
        f"{secured.url}/_connector/{connector}/_status", json={"status": "error"}, headers=read_only, timeout=10
    )
    assert_error(forbidden, 403, "security_exception")
    for response in (anonymous, forbidden):
        assert "X-elastic-product" not in response.headers
        assert "Warning" not in response.headers
        assert response.headers["X-Opaque-Id"] == "op-2"


def test_options_bypasses_authentication(secured: ReferenceSession) -> None:
    """SecurityRestFilter: OPTIONS is answered without credentials."""
    response = requests.options(f"{secured.url}/_connector/x/_status", timeout=10)
    assert response.status_code == 200
    assert response.headers["Allow"] == "PUT"
    assert response.content == b""


# ----------------------------------------------------------------------------------- standard parameters


def test_error_trace_adds_stack_trace_everywhere_in_an_error_object(es: ReferenceSession) -> None:
    connector = es.create()
    for body in ({"status": "connected"}, {"status": "foo"}):
        response = es.request("PUT", f"/_connector/{connector}/_status?error_trace=true", json=body)
        error = response.json()["error"]
        assert response.status_code == 400
        assert "stack_trace" in error
        assert "stack_trace" in error["caused_by"]
        assert all("stack_trace" in cause for cause in error["root_cause"])


def test_error_trace_leaves_the_plain_string_errors_as_they_are(es: ReferenceSession) -> None:
    path = f"/_connector/{es.create()}/_status?error_trace=true"
    for response in (
        es.request("POST", path, json={"status": "error"}),
        es.request("PUT", path, data=b'{"status":"error"}', headers={"Content-Type": "text/plain"}),
    ):
        assert response.status_code in (405, 406)
        assert isinstance(response.json()["error"], str)
        assert "stack_trace" not in response.text


def test_filter_path_filters_success_bodies_only(es: ReferenceSession) -> None:
    connector = es.create()
    assert es.request("GET", f"/_connector/{connector}?filter_path=status").json() == {"status": "created"}
    refused = es.request("PUT", f"/_connector/{connector}/_status?filter_path=result", json={"status": "connected"})
    assert_error(refused, 400, "status_exception", INVALID)  # AbstractRestChannel.newErrorBuilder: never filtered
    accepted = es.request("PUT", f"/_connector/{connector}/_status?filter_path=result", json={"status": "error"})
    assert accepted.json() == {"result": "updated"}


@pytest.mark.parametrize("query", ["pretty", "pretty=true", "human", "human=true", "format=json", "error_trace"])
def test_the_standard_parameters_are_accepted(es: ReferenceSession, query: str) -> None:
    response = es.request("PUT", f"/_connector/{es.create()}/_status?{query}", json={"status": "error"})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": "updated"}


# ------------------------------------------------------------------------------------------------ methods


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH", "HEAD"])
def test_every_method_but_put_is_405_with_allow_put(es: ReferenceSession, method: str) -> None:
    path = f"/_connector/{es.create()}/_status"
    response = es.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == "PUT"
    if method == "HEAD":
        assert response.content == b""
    else:
        expected = f"Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [PUT]"
        assert response.json()["error"] == expected


def test_options_is_200_text_plain_with_allow_and_no_body(es: ReferenceSession) -> None:
    response = es.request("OPTIONS", f"/_connector/{es.create()}/_status")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Allow"] == "PUT"
    assert response.content == b""


# -------------------------------------------------------------------------------------------------- paths


def test_a_plus_in_the_path_stays_a_plus_and_is_a_space_in_the_query(es: ReferenceSession) -> None:
    """RestUtils.decodeComponent: es.rest.url_plus_as_space is false for paths; decodeQueryString maps + to a
    space."""
    created = es.request("PUT", "/_connector/a+b", json={"index_name": "plus-idx", "name": "x y"})
    assert created.json()["id"] == "a+b"
    assert es.request("GET", "/_connector/a%2Bb").json()["id"] == "a+b"
    assert es.request("GET", "/_connector/a%20b").status_code == 404
    found = es.request("GET", "/_connector?connector_name=x+y").json()
    assert [c["id"] for c in found["results"]] == ["a+b"]


# ------------------------------------------------------------------------ found by Elastic's YAML REST tests


@pytest.mark.parametrize("name", ["Bad*Name", "_underscore", "a,b#c", "has:colon"])
def test_the_list_endpoint_validates_index_names(es: ReferenceSession, name: str) -> None:
    """ListConnectorAction.Request.validate: each index_name through validateIndexOrAliasName."""
    response = es.request("GET", "/_connector", params={"index_name": name})
    assert_error(response, 400, "action_request_validation_exception", "Invalid index name [")


def test_the_list_endpoint_does_not_check_the_case_of_index_names(es: ReferenceSession) -> None:
    assert es.request("GET", "/_connector", params={"index_name": "Upper"}).json() == {"count": 0, "results": []}


@pytest.mark.parametrize(("version", "refused"), [("8.16.0", False), ("8.19.0", False), ("9.0.0", True)])
def test_the_content_prefix_of_native_connectors_starts_at_9_0(
    es_for: Callable[..., ReferenceSession], version: str, refused: bool
) -> None:
    """Section 6: PR #117778, merged for 9.0."""
    es = es_for(version)
    body = {"index_name": "search-native", "is_native": True}
    response = es.request("PUT", "/_connector/native", json=body)
    if refused:
        assert_error(response, 400, "action_request_validation_exception", "[content-]")
    else:
        assert response.status_code == 201, response.text


# ------------------------------------------------------------------------------------------------- _error


@pytest.mark.parametrize(("version", "sets_status"), [("8.13.4", False), ("8.14.3", False), ("8.15.0", True)])
def test_error_endpoint_per_release(es_for: Callable[..., ReferenceSession], version: str, sets_status: bool) -> None:
    """Section 6: _error sets the error; from 8.15 (PR #110192) also the status: error, or connected when null."""
    es = es_for(version)
    connector = es.create()
    response = es.request("PUT", f"/_connector/{connector}/_error", json={"error": "it broke"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "updated"
    document = es.get(connector)
    assert document["error"] == "it broke"
    assert document["status"] == ("error" if sets_status else "created")
    if sets_status:  # what 8.13/8.14 do with a null error is not pinned (an older handler wrote Map.of(..., null))
        es.request("PUT", f"/_connector/{connector}/_error", json={"error": None})
        document = es.get(connector)
        assert (document["error"], document["status"]) == (None, "connected")


def test_error_endpoint_answers(es: ReferenceSession) -> None:
    connector = es.create()
    missing = es.request("PUT", "/_connector/nope/_error", json={"error": "x"})
    assert_error(missing, 404, "resource_not_found_exception", "connector [nope] not found")
    unknown = es.request("PUT", f"/_connector/{connector}/_error", json={"error": "x", "foo": 1})
    assert_error(unknown, 400, "x_content_parse_exception", "unknown field [foo]")
    number = es.request("PUT", f"/_connector/{connector}/_error", json={"error": 1})
    assert_error(number, 400, "x_content_parse_exception", "error doesn't support values of type: VALUE_NUMBER")
    assert es.request("POST", f"/_connector/{connector}/_error", json={"error": "x"}).status_code == 405


def test_status_leaves_the_error_alone(es: ReferenceSession) -> None:
    """Section 9: _status writes the status field and nothing else, accepted or refused."""
    connector = es.create()
    es.request("PUT", f"/_connector/{connector}/_error", json={"error": "kept"})
    assert es.request("PUT", f"/_connector/{connector}/_status", json={"status": "configured"}).status_code == 200
    assert es.request("PUT", f"/_connector/{connector}/_status", json={"status": "created"}).status_code == 400
    document = es.get(connector)
    assert (document["status"], document["error"]) == ("configured", "kept")


# ------------------------------------------------------------------------------ the unpinned 8.13 cell


@pytest.mark.parametrize("refuses", [False, True], ids=["accepts", "refuses"])
def test_needs_configuration_to_error_passes_either_way_on_8_13(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], refuses: bool
) -> None:
    """The 8.13.0 ConnectorStateMachine is not pinned for that cell: both answers pass there, on 8.13 only."""
    from support.mutants import RefusesAllowedTransition

    target = RefusesAllowedTransition("8.13.4") if refuses else ReferenceTarget("8.13.4")
    run = run_suite(start_target(target).url, "-k", "needs_configuration and error")
    assert run.outcome("transition[needs_configuration->error]") == "passed"


def test_exploration_walks_accept_either_answer_for_the_unpinned_cell_on_8_13(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusesAllowedTransition

    class CountingRefusal(RefusesAllowedTransition):
        refused = 0

        def transition_allowed(self, current: str, requested: str) -> bool:
            allowed = super().transition_allowed(current, requested)
            if (current, requested) == ("needs_configuration", "error"):
                self.refused += 1
            return allowed

    target = CountingRefusal("8.13.4")
    run = run_suite(start_target(target).url, "--connector-explore", "3", "--connector-seed", "7", "-k", "explore")
    assert run.not_passed() == {}, run.result.stdout.str()[-3000:]
    assert target.refused > 0, "no walk reached needs_configuration -> error: pick another seed"


# ------------------------------------------------------------------------------------ the official client


@pytest.fixture
def client_for(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., Any]]:
    from elasticsearch import Elasticsearch

    clients: list[Elasticsearch] = []

    def connect(version: str, build_flavor: str = "default", **options: Any) -> Elasticsearch:
        client = Elasticsearch(start_target(ReferenceTarget(version, build_flavor=build_flavor)).url, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.mark.filterwarnings(GA_WARNING)
@pytest.mark.parametrize(("version", "flavor"), [("9.0.0", "default"), ("9.1.0", "default"), ("8.11.0", "serverless")])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "http_compress"])
def test_the_official_client_with_its_options(
    client_for: Callable[..., Any], version: str, flavor: str, compress: bool
) -> None:
    """The 9.x client (it sends compatible-with=9) with an opaque id and every standard parameter of
    update_status, on each release it supports (Serverless too, whatever version it reports): each call is
    answered as Elasticsearch answers it, and no Warning reaches the client."""
    from elasticsearch import BadRequestError, ElasticsearchWarning

    client = client_for(version, flavor, http_compress=compress)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ElasticsearchWarning)
        client.connector.put(connector_id="py", index_name="py-idx", name="Py")
        traced = client.options(opaque_id="op-py")
        answer = traced.connector.update_status(
            connector_id="py", status="needs_configuration", error_trace=True, human=True, pretty=True
        )
        assert answer["result"] == "updated"
        assert answer.meta.headers["X-Opaque-Id"] == "op-py"
        assert media_type(answer.meta.headers["Content-Type"]) == (VENDOR, "9")
        filtered = client.connector.update_status(connector_id="py", status="configured", filter_path="result")
        assert filtered.body == {"result": "updated"}
        with pytest.raises(BadRequestError) as refused:
            traced.connector.update_status(connector_id="py", status="created", error_trace=True, filter_path="result")
        assert refused.value.error == "status_exception"
        body = refused.value.body
        assert body["error"]["caused_by"]["type"] == "connector_invalid_status_transition_exception"
        assert "Invalid transition attempt from [configured] to [created]" in body["error"]["reason"]
        assert "stack_trace" in body["error"]
        assert refused.value.meta.headers["X-Opaque-Id"] == "op-py"
        assert client.connector.get(connector_id="py")["status"] == "configured"


@pytest.mark.filterwarnings(GA_WARNING)
@pytest.mark.parametrize("version", ["8.13.4", "8.19.0"])
def test_an_8x_server_refuses_the_9x_client(client_for: Callable[..., Any], version: str) -> None:
    """Section 9: compatible-with=9 is not the current major of 8.x nor the one before; refused, correctly."""
    from elasticsearch import BadRequestError

    client = client_for(version)
    with pytest.raises(BadRequestError) as refused:
        client.connector.put(connector_id="py", index_name="py-idx", name="Py")
    assert refused.value.error == "media_type_header_exception"
