"""Replaying a captured client request: verbatim at a capturing server (over the suite's transport, and with real
curl), credentials and framing aside; and answered by the reference target as the client's request is."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest
from support.capturing import capture

from pytest_connector_contract.client.replay import FRAMING_HEADERS, curl_command, headers_for, send
from pytest_connector_contract.client.transport import Transport
from pytest_connector_contract.config.credentials import Secret
from pytest_connector_contract.contract.captures import Capture, CapturedRequest, load_captures
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

CAPTURES = load_captures()
AUTH = "ApiKey dXNlcjpyZXBsYXk="
CURL = shutil.which("curl")


def _ids(captures: tuple[Capture, ...]) -> list[str]:
    return [c.name.replace(" ", "-") for c in captures]


def _without(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a replay must send as captured: all but framing and credentials."""
    return [(n, v) for n, v in headers if n.lower() not in FRAMING_HEADERS and n.lower() != "authorization"]


@pytest.fixture(scope="module")
def capturing() -> Iterator[capture.CapturingServer]:
    with capture.CapturingServer() as server:
        yield server


@pytest.fixture(scope="module")
def transport(capturing: capture.CapturingServer) -> Iterator[Transport]:
    transport = Transport(capturing.url, timeout=30, trust_env=False)
    yield transport
    transport.close()


def _received(server: capture.CapturingServer, before: int) -> CapturedRequest:
    (raw,) = server.requests[before:]
    return raw


def _assert_same_target_and_body(raw: CapturedRequest, request: CapturedRequest, connector_id: str) -> None:
    assert (raw.method, raw.target(""), raw.body) == (request.method, request.target(connector_id), request.body)


@pytest.mark.parametrize("stored", CAPTURES, ids=_ids(CAPTURES))
def test_a_replay_sends_the_capture_verbatim_but_credentials_and_framing(
    stored: Capture, capturing: capture.CapturingServer, transport: Transport
) -> None:
    before = len(capturing.requests)
    send(transport, stored.request, "replayed-id", authorization=Secret(AUTH))
    raw = _received(capturing, before)
    request = stored.request
    _assert_same_target_and_body(raw, request, "replayed-id")
    # On the wire: exactly what headers_for says, in its order (nothing added by the HTTP stack) ...
    assert list(raw.headers) == list(
        headers_for(request, authority=transport.authority, authorization=Secret(AUTH)).items()
    )
    # ... which is the capture's headers in order, with the user's credentials and the transport's framing.
    assert _without(raw.headers) == _without(request.headers)
    assert raw.header("Authorization") == AUTH
    assert raw.header("Host") == transport.authority
    assert raw.header("Content-Length") == str(len(request.body or b""))
    assert raw.header("Connection") is None


def test_framing_headers_keep_their_place_credentials_are_replaced_and_nothing_is_added() -> None:
    request = CapturedRequest(
        "PUT",
        "/_connector/{connector_id}/_status",
        "",
        (
            ("Host", "{host}"),
            ("Content-Length", "99"),
            ("authorization", "ApiKey c3RvbGVu"),
            ("connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("accept", "application/json"),
        ),
        b"{}",
    )
    assert list(headers_for(request, authority="es:9200").items()) == [
        ("Host", "es:9200"),
        ("Content-Length", "2"),
        ("accept", "application/json"),
    ]
    bare = CapturedRequest("GET", "/x", "", (("accept", "*/*"),), None)
    assert headers_for(bare, authority="es", authorization=Secret(AUTH)) == {
        "Host": "es",
        "accept": "*/*",
        "Authorization": AUTH,
    }


def test_a_missing_accept_encoding_or_user_agent_is_not_added_by_the_http_stack(
    capturing: capture.CapturingServer, transport: Transport
) -> None:
    request = CapturedRequest("PUT", "/_connector/{connector_id}/_status", "", (("accept", "*/*"),), b"{}")
    before = len(capturing.requests)
    send(transport, request, "x")
    assert [name.lower() for name, _ in _received(capturing, before).headers] == ["host", "accept", "content-length"]


@pytest.fixture
def reference(start_target: Callable[..., ReferenceServer]) -> Iterator[tuple[ReferenceServer, Transport]]:
    server = start_target(ReferenceTarget())
    transport = Transport(server.url, timeout=30, trust_env=False)
    yield server, transport
    transport.close()


def test_the_reference_answers_each_uncompressed_replay_as_the_client_expects(
    reference: tuple[ReferenceServer, Transport],
) -> None:
    """Compressed captures are left out: what the reference answers them is its own test's business (the
    fidelity of their replay is proven at the capturing server above)."""
    server, transport = reference
    plain = [c for c in CAPTURES if c.request.header("Content-Encoding") is None]
    assert len(plain) == 48
    answers = []
    for number, stored in enumerate(plain):
        connector_id = f"replay-{number}"
        capture.create_connector(server.target, connector_id)
        status, headers, _ = send(transport, stored.request, connector_id, authorization=Secret(AUTH))
        answers.append((stored.name, status, headers.get("X-Opaque-Id")))
    assert answers == [
        (c.name, capture.CASES[c.case][1], capture.OPAQUE_ID if c.option == "opaque-id" else None) for c in plain
    ]


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install -y curl; .ci/run does)")
@pytest.mark.parametrize("stored", CAPTURES, ids=_ids(CAPTURES))
def test_the_curl_reproduction_sends_the_same_bytes(stored: Capture, capturing: capture.CapturingServer) -> None:
    before = len(capturing.requests)
    command = curl_command(stored.request, "curl-id", authorization=True)
    done = subprocess.run(
        ["sh", "-c", command],
        env={"PATH": os.environ["PATH"], "CONNECTOR_URL": capturing.url, "CONNECTOR_AUTH": AUTH},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    raw = _received(capturing, before)
    request = stored.request
    _assert_same_target_and_body(raw, request, "curl-id")
    # curl decides the order of its own headers (and of Content-Type); the set is the capture's.
    lowered = sorted((n.lower(), v) for n, v in _without(raw.headers))
    assert lowered == sorted((n.lower(), v) for n, v in _without(request.headers))
    assert raw.header("Authorization") == AUTH
    assert raw.header("Content-Length") == str(len(request.body or b""))
