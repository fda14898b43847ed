"""The reference target under hostile input and load (issue 13, section 4).

Teams run the reference target in CI as a local Elasticsearch, so it must never fall over. These tests talk
to a real :class:`ReferenceServer` over raw sockets, so that they control every byte: random methods, paths,
query strings, headers, framings and bodies (invalid UTF-8, oversized, broken chunked encoding), several per
keep-alive connection; connections closed mid-request; many clients at once. Every answer must be an
Elasticsearch-shaped JSON answer (or one of the empty-bodied answers Elasticsearch's Netty layer gives),
never a 5xx on the default 9.1.0 target (where no release bug gives one), never a hang or a silently dropped
connection; a bad request never garbles the next one, and a connector nobody addressed stays byte-identical.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import Document, ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
LIMIT = 16 * 1024  # the servers' max_content_length here: small, so that oversized bodies stay cheap
TIMEOUT = 10.0  # seconds an answer may take before the connection counts as hung
GUARD = "guard"  # a connector no generated request addresses: it must stay byte-identical


# ------------------------------------------------------------------------------------ raw HTTP


@dataclass
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def closes(self) -> bool:
        return (self.header("Connection") or "").lower() == "close"

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """One client connection over which requests are written as raw bytes and answers parsed by hand."""

    def __init__(self, server: ReferenceServer) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"no answer within {TIMEOUT} s: the connection hung") from None
        except ConnectionResetError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise AssertionError(f"the connection was dropped mid-answer: {self.buffer!r}")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def read_answer(self, *, head: bool = False) -> Answer:
        if not self.buffer and not self._fill():
            raise AssertionError("the connection was closed without an answer")
        while True:
            status_line = self._line().decode("latin-1")
            version, _, rest = status_line.partition(" ")
            assert version == "HTTP/1.1", status_line
            code, _, reason = rest.partition(" ")
            headers: list[tuple[str, str]] = []
            while line := self._line():
                name, sep, value = line.decode("latin-1").partition(":")
                assert sep, f"bad header line {line!r}"
                headers.append((name, value.strip()))
            if code != "100":  # 100 Continue is an interim answer: the real one follows
                break
            assert headers == [], headers
        answer = Answer(int(code), reason, headers, b"")
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        assert len(lengths) == 1, f"every answer carries one Content-Length: {headers}"
        assert answer.header("Transfer-Encoding") is None
        length = 0 if head else int(lengths[0])
        while len(self.buffer) < length:
            if not self._fill():
                raise AssertionError("the connection was dropped mid-body")
        answer.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return answer

    def exchange(self, data: bytes, *, head: bool = False) -> Answer:
        self.send(data)
        return self.read_answer(head=head)

    def closed_by_server(self) -> bool:
        """Whether the server closes its end (EOF) within the timeout, with nothing more to read."""
        while self._fill():
            pass
        return not self.buffer

    def close(self) -> None:
        self.sock.close()


def raw(method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes = b"") -> bytes:  # type: ignore[assignment]
    """A request with a Content-Length when it has a body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def put_json(target: str, body: Any) -> bytes:
    return raw("PUT", target, [("Content-Type", "application/json")], json.dumps(body).encode())


def assert_es_shaped(answer: Answer, *, head: bool = False) -> None:
    """What every answer of the reference target looks like, whatever the request was."""
    assert answer.status < 500, (answer.status, answer.body[:500])
    if answer.status in (413, 417):  # Netty4HttpContentSizeHandler: empty body, connection closed
        assert answer.body == b""
        assert answer.closes
        return
    options = (
        answer.status == 200 and answer.body == b"" and (answer.header("Content-Type") or "").startswith("text/plain")
    )
    if head or options:
        # HEAD answers carry no body; OPTIONS answers 200 with an empty text/plain body, with Allow when a route
        # matched the path and without it otherwise (RestController.handleOptionsRequest)
        return
    content_type = answer.header("Content-Type") or ""
    assert content_type.startswith(("application/json", "application/vnd.elasticsearch+json")), answer.headers
    assert answer.header("X-elastic-product") == "Elasticsearch", answer.headers
    body = answer.json()
    assert isinstance(body, dict), body
    if answer.status >= 400:
        error = body["error"]
        if isinstance(error, dict):
            assert isinstance(error["type"], str)
            assert "reason" in error
            assert isinstance(error["root_cause"], list)
            assert body["status"] == answer.status
        else:
            assert isinstance(error, str)
            assert body.get("status", answer.status) == answer.status


# ------------------------------------------------------------------------------------ servers


@pytest.fixture
def server(start_target: Callable[..., ReferenceServer]) -> ReferenceServer:
    return start_target(max_content_length=LIMIT)


def create(conn: Conn, connector_id: str) -> None:
    answer = conn.exchange(put_json(f"/_connector/{connector_id}", {"index_name": f"idx-{connector_id}"}))
    assert answer.status in (200, 201), answer.body


def snapshot(conn: Conn, connector_id: str) -> bytes:
    answer = conn.exchange(raw("GET", f"/_connector/{connector_id}"))
    assert answer.status == 200, answer.body
    return answer.body


# ------------------------------------------------------------------------- the request strategy

VERBS = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"]
METHODS = VERBS * 3 + ["PUT"] * 6 + ["TRACE", "CONNECT", "get", "FOO", "BREW", "G\tT", "G(T"]
IDS = ["c1", "c2", "missing", "%63%31", "a+b", "%ZZ", "%C3%A9", "\u00e9", "x" * 600, "*", "_status"]
SEGMENT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="/?#"), max_size=12)
STATUSES = [*SPEC.statuses, "CONNECTED", "bogus", "", " connected"]
MEDIA_TYPES = [
    "application/json",
    "application/json; charset=UTF-8",
    "application/json; charset=latin-1",
    "application/vnd.elasticsearch+json; compatible-with=9",
    "application/vnd.elasticsearch+json; compatible-with=8",
    "application/vnd.elasticsearch+json; compatible-with=7",
    "application/vnd.elasticsearch+json; compatible-with=x",
    "text/plain",
    "application/x-ndjson",
    "application/yaml",
    "*/*",
    "a/b/c",
    ";;;",
    "",
    "\u00e9t\u00e9",
]
#: header name -> values it gets (the media types for the two media-type headers)
HEADERS: dict[str, list[str]] = {
    "Content-Type": MEDIA_TYPES,
    "Accept": MEDIA_TYPES,
    "X-Opaque-Id": ["abc", "", "\u00e9", "x" * 200],
    "Connection": ["keep-alive", "close", "Keep-Alive", "upgrade", ""],
    "Authorization": ["Basic Zm9vOmJhcg==", "ApiKey abc", "Bearer", ""],
    "Accept-Encoding": ["gzip", "identity", "*"],
    "Expect": ["100-continue", "100-Continue", "200-ok"],
    "X-Unknown": ["1", "\u00e9"],
}


@st.composite
def paths(draw: st.DrawFn) -> str:
    ident = draw(st.one_of(st.sampled_from(IDS), SEGMENT.filter(bool)))
    if unquote_plus(ident) == GUARD:
        ident = "c1"
    choices = [
        "/",
        "/_connector",
        f"/_connector/{ident}",
        f"/_connector/{ident}/_status",
        f"/_connector/{ident}/_status/",
        f"/_connector/{ident}/_status/extra",
        f"//_connector//{ident}//_status",
        f"/_connector/{ident}/_STATUS",
        "/" + "/".join(draw(st.lists(SEGMENT, max_size=4))),
        f"http://localhost/_connector/{ident}/_status",
        "*",
        "/_connector/" + "%" * draw(st.integers(1, 3)),
    ]
    return draw(st.sampled_from(choices))


@st.composite
def queries(draw: st.DrawFn) -> str:
    keys = ["pretty", "filter_path", "error_trace", "human", "format", "foo", "hard", "include_deleted", "size"]
    values = ["", "true", "false", "1", "-1", "status", "error.type", "-error", "**", "%ZZ", "a=b", "\u00e9"]
    pairs = draw(st.lists(st.tuples(st.sampled_from(keys), st.sampled_from(values)), max_size=3))
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={v}" if v else k for k, v in pairs)


def big(size: int, byte: bytes = b" ") -> bytes:
    return b'{"status":"error"}' + byte * max(0, size - 18)


BODIES = st.one_of(
    st.just(b""),
    st.sampled_from(STATUSES).map(lambda s: json.dumps({"status": s}).encode()),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"null",
            b'{"status":',
            b'{"status":"error"}{"status":"connected"}',
            b'{"status":"error","foo":1}',
            b'{"index_name":"idx-new","name":"n"}',
            b"\xff\xfe\xfd",
            b'{"status":"\xc3\x28"}',
            b"\xef\xbb\xbf{}",
            b"\x00" * 10,
            b"\x1f\x8b\x08\x00",
        ]
    ),
    st.binary(max_size=64),
    st.integers(LIMIT - 2, LIMIT + 2).map(big),  # around the limit
    st.integers(LIMIT + 3, 4 * LIMIT).map(big),  # beyond it
)


@dataclass
class Hostile:
    """One generated request: its bytes, and what the test may expect of the connection afterwards."""

    data: bytes
    head: bool
    #: the request's own framing cannot tell the server where it ends (no Content-Length for a body, or a
    #: short one): the rest of the bytes are a next "request" that the client chose to send
    desync: bool = False
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Hostile({self.data[:300]!r}{'...' if len(self.data) > 300 else ''}, desync={self.desync})"


def chunked(body: bytes, draw: st.DrawFn) -> tuple[bytes, bool]:
    """A chunked body, valid or broken; returns (bytes, broken)."""
    cut = draw(st.integers(0, len(body)))
    parts = [p for p in (body[:cut], body[cut:]) if p]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    breakage = draw(
        st.sampled_from(["none", "none", "size", "negative", "plus", "underscore", "no-crlf", "extension", "trailer"])
    )
    if breakage == "size":
        return b"zz\r\n" + body + b"\r\n0\r\n\r\n", True
    if breakage == "negative":
        return b"-5\r\nhello\r\n0\r\n\r\n", True
    if breakage == "plus":
        return b"+5\r\nhello\r\n0\r\n\r\n", True
    if breakage == "underscore":
        return b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", True
    if breakage == "no-crlf" and parts:
        return b"%x\r\n%sXX0\r\n\r\n" % (len(parts[0]), parts[0]), True
    if breakage == "extension":
        return encoded.replace(b"\r\n", b";name=value\r\n", 1), False
    if breakage == "trailer":
        return encoded[:-2] + b"X-Trailer: 1\r\n\r\n", False
    return encoded, False


@st.composite
def hostile_requests(draw: st.DrawFn) -> Hostile:
    method = draw(st.sampled_from(METHODS))
    target = draw(paths()) + draw(queries())
    names = draw(st.lists(st.sampled_from(list(HEADERS)), max_size=4))
    headers = [(name, draw(st.sampled_from(HEADERS[name]))) for name in names]
    if draw(st.booleans()):
        headers.insert(0, ("Content-Type", "application/json"))
    body = draw(BODIES)
    framing = draw(st.sampled_from(["length"] * 12 + ["chunked"] * 3 + ["none", "short", "duplicate", "bad-length"]))
    junk_line = draw(st.sampled_from([""] * 24 + ["NoColonHere", "Bad Name: x", "Content-Length : 3", " folded"]))
    version = draw(st.sampled_from(["HTTP/1.1"] * 24 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.x", "", "http/1.1"]))
    request_line = f"{method} {target} {version}".rstrip()
    lines = [request_line, "Host: localhost"] + [f"{n}: {v}" for n, v in headers]
    if junk_line:
        lines.append(junk_line)
    desync = False
    payload = body
    if framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        payload, broken = chunked(body, draw)
        desync = broken
    elif framing == "none":
        desync = bool(body)
    elif framing == "short" and body:
        lines.append(f"Content-Length: {len(body) - 1}")
        desync = True
    elif framing == "duplicate":
        lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"]
        desync = True
    elif framing == "bad-length":
        lines.append(draw(st.sampled_from(["Content-Length: abc", "Content-Length: -1", "Content-Length: 0x10"])))
        desync = True
    elif body or draw(st.booleans()):
        lines.append(f"Content-Length: {len(body)}")
    if junk_line or version != "HTTP/1.1" or " " in method or "\t" in method:
        desync = True  # the server may stop reading anywhere once the request is unparsable
    head = method == "HEAD" and version in ("HTTP/1.0", "HTTP/1.1")  # once the request line parses
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
    return Hostile(data, head, desync)


# ------------------------------------------------------------------------------- the property


def test_hostile_requests_get_elasticsearch_shaped_answers(server: ReferenceServer) -> None:
    """Random requests, several per keep-alive connection: every one gets an Elasticsearch-shaped answer with
    no 5xx, the connection either stays usable (a known-good request right after it gets the right answer) or
    is closed by the server after it answered, and the guard connector never changes."""
    setup = Conn(server)
    create(setup, GUARD)
    create(setup, "c1")
    guard_before = snapshot(setup, GUARD)
    setup.close()
    known_good = raw("GET", f"/_connector/{GUARD}")

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(hostile_requests(), min_size=1, max_size=4))
    def run(requests: list[Hostile]) -> None:
        conn = Conn(server)
        try:
            for request in requests:
                conn.send(request.data)
                answer = conn.read_answer(head=request.head)
                assert_es_shaped(answer, head=request.head)
                event(f"HTTP {answer.status}{' close' if answer.closes else ''}")
                if request.desync or answer.closes:
                    if answer.closes:
                        assert conn.closed_by_server(), "Connection: close, but the server kept the connection"
                    conn.close()
                    conn = Conn(server)
                follow = conn.exchange(known_good)
                assert follow.status == 200, (follow.status, follow.body[:300])
                assert follow.body == guard_before, "the guard connector changed, or the answer was garbled"
        finally:
            conn.close()
        assert server.errors == [], server.errors

    run()
    check = Conn(server)
    assert snapshot(check, GUARD) == guard_before
    check.close()


# ------------------------------------------------------------------ what the property test found


def test_filter_path_never_empties_an_error_answer(server: ReferenceServer) -> None:
    """Elasticsearch builds error bodies with ``AbstractRestChannel.newErrorBuilder()``, which disables
    filtering: ``filter_path`` shapes successes only (found by the property test: a 405 filtered to ``{}``)."""
    conn = Conn(server)
    create(conn, "c1")
    refused = conn.exchange(raw("GET", "/_connector/c1/_status?filter_path=status"))
    assert refused.status == 405
    assert refused.json()["error"].startswith("Incorrect HTTP method")
    missing = conn.exchange(put_json("/_connector/nope/_status?filter_path=-error", {"status": "error"}))
    assert missing.status == 404
    assert missing.json()["error"]["type"] == "resource_not_found_exception"
    found = conn.exchange(raw("GET", "/_connector/c1?filter_path=status"))
    assert found.json() == {"status": "created"}
    conn.close()


MALFORMED = {
    "HTTP/2.0": b"GET / HTTP/2.0\r\n\r\n",
    "lower-case version": b"GET / http/1.1\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "four words": b"GET / x HTTP/1.1\r\n\r\n",
    "method not a token": b"G(T / HTTP/1.1\r\n\r\n",
    "no colon": b"GET / HTTP/1.1\r\nNoColon\r\nContent-Length: 3\r\n\r\nabc",
    "space before colon": b"GET / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
    "request line over 4kb": b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
    "header block over 16kb": b"GET / HTTP/1.1\r\n" + b"X-A: " + b"a" * 17000 + b"\r\n\r\n",
    "more than 100 headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n",
    "two Content-Length": b"PUT /_connector/c1 HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "Content-Length not a number": b"PUT /_connector/c1 HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}",
    "chunk size not hex": b"PUT /_connector/c1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"x" * 16,
    "negative chunk size": b"PUT /_connector/c1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk without CRLF": b"PUT /_connector/c1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_http_gets_elasticsearch_json_400_and_a_closed_connection(
    server: ReferenceServer, data: bytes
) -> None:
    """What Netty's decoder refuses reaches ``RestController.dispatchBadRequest``: a JSON 400, never
    http.server's HTML page (nor a hang, for the negative chunk size that once read to end of stream)."""
    conn = Conn(server)
    answer = conn.exchange(data)
    assert answer.status == 400, answer.body
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("X-elastic-product") == "Elasticsearch"
    error = answer.json()["error"]
    assert error["type"] in (
        "illegal_argument_exception",
        "too_long_http_line_exception",
        "too_long_http_header_exception",
    )
    assert error["root_cause"][0]["type"] == error["type"]
    assert answer.json()["status"] == 400
    assert answer.closes
    assert conn.closed_by_server()
    conn.close()


def test_blank_lines_before_a_request_are_skipped(server: ReferenceServer) -> None:
    """Netty skips them; http.server dropped the connection without an answer."""
    conn = Conn(server)
    answer = conn.exchange(b"\r\n\r\n" + raw("GET", "/"))
    assert answer.status == 200
    conn.close()


def test_a_folded_header_cannot_inject_a_response_header(server: ReferenceServer) -> None:
    """An obs-fold continuation is joined with a space, as Netty does; echoed in X-Opaque-Id it once
    carried its line break into the answer (found by the property test)."""
    conn = Conn(server)
    answer = conn.exchange(b"GET / HTTP/1.1\r\nX-Opaque-Id: abc\r\n Set-Cookie: x=1\r\n\r\n")
    assert answer.status == 200
    assert answer.header("X-Opaque-Id") == "abc Set-Cookie: x=1"
    assert answer.header("Set-Cookie") is None
    assert conn.exchange(raw("GET", "/")).status == 200  # and the connection is still in step
    conn.close()


@pytest.mark.parametrize(
    "target",
    ["http://localhost/_connector/c1/_status", "/_connector/c1/_status#fragment", "/_connector/c1/_status;x"],
)
def test_the_path_is_everything_before_the_question_mark(server: ReferenceServer, target: str) -> None:
    """Elasticsearch's RestRequest cuts the URI at the first "?" and nowhere else: an absolute URI or a
    fragment is part of the path, so no route matches (urlsplit() once routed these to the connector)."""
    conn = Conn(server)
    create(conn, "c1")
    answer = conn.exchange(put_json(target, {"status": "error"}))
    assert answer.status == 400, answer.body
    assert answer.json()["error"] == f"no handler found for uri [{target}] and method [PUT]"
    assert json.loads(snapshot(conn, "c1"))["status"] == "created"
    assert conn.exchange(put_json("//_connector//c1//_status", {"status": "error"})).status == 200
    conn.close()


# ------------------------------------------------------------------------------ body size limit


def status_of(conn: Conn, connector_id: str) -> str:
    status: str = json.loads(snapshot(conn, connector_id))["status"]
    return status


def padded(size: int) -> bytes:
    """A valid _status body of exactly ``size`` bytes (trailing text after the object is ignored)."""
    return big(size)


def test_a_body_over_the_limit_gets_413_unread_and_one_at_the_limit_is_served(server: ReferenceServer) -> None:
    """``Netty4HttpContentSizeHandler``: 413, no body, ``Connection: close``, decided on the Content-Length
    before a byte of the body is read."""
    conn = Conn(server)
    create(conn, "c1")
    headers = [("Content-Type", "application/json")]
    conn.send(raw("PUT", "/_connector/c1/_status", headers)[:-2] + b"Content-Length: 1000000000000\r\n\r\n")
    answer = conn.read_answer()  # answered at once: the server does not wait for (or buffer) the body
    assert (answer.status, answer.body, answer.closes) == (413, b"", True)
    assert conn.closed_by_server()
    conn.close()

    conn = Conn(server)
    over = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, padded(LIMIT + 1)))
    assert (over.status, over.body, over.closes) == (413, b"", True)
    conn.close()
    conn = Conn(server)
    assert status_of(conn, "c1") == "created"
    at = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, padded(LIMIT)))
    assert at.status == 200, at.body
    assert status_of(conn, "c1") == "error"
    conn.close()


def test_a_chunked_body_is_counted_as_it_is_read(server: ReferenceServer) -> None:
    conn = Conn(server)
    create(conn, "c1")
    head = (
        b"PUT /_connector/c1/_status HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 4096
    conn.send(head + b'12\r\n{"status":"error"}\r\n')
    for _ in range(LIMIT // len(chunk)):
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    answer = conn.read_answer()  # the chunk that crosses the limit is refused before it is read
    assert (answer.status, answer.body, answer.closes) == (413, b"", True)
    conn.close()
    conn = Conn(server)
    assert status_of(conn, "c1") == "created"
    conn.close()


# --------------------------------------------------------------------- compressed request bodies


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


#: Content-Encoding -> how a client writes it (deflate: zlib-wrapped or raw, Netty's ZLIB_OR_NONE takes both)
ENCODERS = {
    "gzip": lambda data: _deflate(data, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda data: _deflate(data, 16 + zlib.MAX_WBITS),
    "deflate": lambda data: _deflate(data, zlib.MAX_WBITS),
    "x-deflate": lambda data: _deflate(data, -zlib.MAX_WBITS),
    "GZip": lambda data: _deflate(data, 16 + zlib.MAX_WBITS),
}


@pytest.mark.parametrize("encoding", ENCODERS)
def test_a_compressed_body_is_handled_like_the_plain_one(server: ReferenceServer, encoding: str) -> None:
    """Facts sheet section 9: Netty's ``HttpContentDecompressor`` decodes gzip and deflate request bodies
    before Elasticsearch reads them, so the answer is the plain request's."""
    conn = Conn(server)
    create(conn, "c1")
    compress = ENCODERS[encoding]
    headers = [("Content-Type", "application/json"), ("Content-Encoding", encoding)]
    accepted = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, compress(b'{"status":"error"}')))
    assert (accepted.status, accepted.json()) == (200, {"result": "updated"})
    refused = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, compress(b'{"status":"created"}')))
    assert refused.status == 400
    assert refused.json()["error"]["type"] == "status_exception"
    bad = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, compress(b'{"status":"foo"}')))
    assert bad.json()["error"]["caused_by"]["reason"] == "Unknown ConnectorStatus: foo"
    assert status_of(conn, "c1") == "error"
    chunked = [("Content-Type", "application/json"), ("Content-Encoding", encoding), ("Transfer-Encoding", "chunked")]
    body = compress(b'{"status":"configured"}')
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = conn.exchange(raw("PUT", "/_connector/c1/_status", chunked) + chunks)
    assert answer.status == 200, answer.body
    assert status_of(conn, "c1") == "configured"
    conn.close()


def test_a_decompression_bomb_gets_413_without_being_inflated_in_full() -> None:
    """The size limit applies to the decoded body (*derived*: the aggregator behind the decompressor counts
    decoded bytes), and the server inflates no more than the limit: 256 MiB of zeros, sent as 250 KiB of gzip
    to a server whose limit is 1 MiB, never takes more than a few MiB of memory."""
    limit = 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * limit
    bomb = b"".join(compressor.compress(zeros) for _ in range(256)) + compressor.flush()
    assert len(bomb) < limit
    with ReferenceServer(ReferenceTarget(), max_content_length=limit) as running:
        conn = Conn(running)
        create(conn, "c1")
        headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        tracemalloc.start()
        try:
            answer = conn.exchange(raw("PUT", "/_connector/c1/_status", headers, bomb))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (answer.status, answer.body, answer.closes) == (413, b"", True)
        assert peak < 8 * limit, f"the server held {peak} bytes for a body it should refuse after {limit}"
        conn.close()
        conn = Conn(running)
        at_limit = _deflate(b'{"status":"error"}' + b" " * (limit - 18), 16 + zlib.MAX_WBITS)
        assert conn.exchange(raw("PUT", "/_connector/c1/_status", headers, at_limit)).status == 200
        conn.close()
    assert running.errors == []


@pytest.mark.parametrize(
    "body", [b"not gzip at all", _deflate(b'{"status":"error"}', 16 + zlib.MAX_WBITS)[:-6]], ids=["corrupt", "cut"]
)
def test_a_body_that_does_not_decode_closes_the_connection(server: ReferenceServer, body: bytes) -> None:
    """*Derived*: the decompressor's exception reaches ``AbstractHttpServerTransport.onException``, which
    closes the channel; nothing reaches the connector."""
    conn = Conn(server)
    create(conn, "c1")
    conn.close()
    conn = Conn(server)
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    conn.send(raw("PUT", "/_connector/c1/_status", headers, body))
    assert conn.closed_by_server()
    conn.close()
    conn = Conn(server)
    assert status_of(conn, "c1") == "created"
    conn.close()


def test_the_limit_is_configurable_and_defaults_to_elasticsearchs() -> None:
    assert ReferenceServer().max_content_length == 100 * 1024 * 1024  # http.max_content_length: 100mb
    with pytest.raises(ValueError, match="max_content_length"):
        ReferenceServer(max_content_length=-1)


def test_expect_100_continue(server: ReferenceServer) -> None:
    """100 Continue only for a body within the limit; an oversized one gets 413 straight away; any other
    expectation gets 417 (``Netty4HttpContentSizeHandler``)."""
    conn = Conn(server)
    create(conn, "c1")
    body = json.dumps({"status": "error"}).encode()
    head = (
        b"PUT /_connector/c1/_status HTTP/1.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n"
    )
    conn.send(head % len(body))
    assert conn._line() == b"HTTP/1.1 100 Continue"
    assert conn._line() == b""
    conn.send(body)
    assert conn.read_answer().status == 200
    conn.send(head % (LIMIT + 1))
    answer = conn.read_answer()
    assert (answer.status, answer.closes) == (413, True)
    conn.close()
    conn = Conn(server)
    answer = conn.exchange(b"GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n")
    assert (answer.status, answer.body, answer.closes) == (417, b"", True)
    conn.close()


def test_connection_close_is_said_and_done(server: ReferenceServer) -> None:
    conn = Conn(server)
    answer = conn.exchange(raw("GET", "/", [("Connection", "close")]))
    assert (answer.status, answer.closes) == (200, True)
    assert conn.closed_by_server()
    conn.close()
    conn = Conn(server)
    answer = conn.exchange(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert answer.header("Connection") == "keep-alive"
    assert conn.exchange(b"GET / HTTP/1.0\r\n\r\n").closes
    conn.close()


# ------------------------------------------------------------------ connections closed mid-request


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_request_cut_short_is_never_served(data: st.DataObject) -> None:
    """A client that hangs up anywhere inside a request (request line, headers, body, chunked framing) gets
    nothing and changes nothing; the next connections are served as usual."""
    with ReferenceServer(ReferenceTarget(), max_content_length=LIMIT) as server:
        setup = Conn(server)
        create(setup, "c1")
        body = json.dumps({"status": "error"}).encode() + b" " * 20
        framing = data.draw(st.sampled_from(["length", "chunked"]))
        if framing == "length":
            request = raw("PUT", "/_connector/c1/_status", [("Content-Type", "application/json")], body)
        else:
            request = (
                b"PUT /_connector/c1/_status HTTP/1.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            )
        cut = data.draw(st.integers(1, len(request) - 1))
        half = Conn(server)
        half.send(request[:cut])
        half.sock.shutdown(socket.SHUT_WR)
        assert half.closed_by_server(), f"answered a request cut after {cut} bytes: {half.buffer!r}"
        half.close()
        assert status_of(setup, "c1") == "created"
        assert setup.exchange(request).status == 200  # the whole request, on another connection
        assert status_of(setup, "c1") == "error"
        setup.close()
    assert server.errors == []


# ---------------------------------------------------------------------------- concurrent load

LOAD_SECONDS = 2.0  # how long the clients hammer the server: bounded, so the test is too
LOAD_CLIENTS = 16
SHARED = [f"shared-{n}" for n in range(4)]


class RecordingTarget(ReferenceTarget):
    """The faithful target, plus a log of every status it writes: (connector, status before, after),
    taken under the store's lock at the moment of the write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: dict[str, list[tuple[str, str]]] = {}

    def apply_status(self, doc: Document, status: str) -> str:
        connector_id = next(cid for cid, stored in self.connectors.items() if stored is doc)
        self.writes.setdefault(connector_id, []).append((doc["status"], status))
        return super().apply_status(doc, status)


@dataclass
class LoadLog:
    answers: list[tuple[str, str, int, Any]] = field(default_factory=list)  # (connector, requested, status, body)
    hostile: int = 0
    problems: list[str] = field(default_factory=list)


def hammer(server: ReferenceServer, seed: int, deadline: float, log: LoadLog) -> None:
    """One client on its own keep-alive connection: status updates to the shared connectors, valid and
    invalid alike, and one request in eight a hostile one (bad JSON, an unparsable request line, an
    oversized body, a request cut short on a connection of its own)."""
    rng = random.Random(seed)
    conn = Conn(server)
    try:
        while time.monotonic() < deadline:
            if rng.random() < 0.125:
                log.hostile += 1
                kind = rng.choice(["json", "line", "oversized", "cut"])
                if kind == "cut":
                    half = Conn(server)
                    half.send(put_json(f"/_connector/{rng.choice(SHARED)}/_status", {"status": "error"})[:-5])
                    half.close()
                    continue
                data = {
                    "json": raw(
                        "PUT",
                        f"/_connector/{rng.choice(SHARED)}/_status",
                        [("Content-Type", "application/json")],
                        b'{"status":',
                    ),
                    "line": b"PUT /_connector/x/_status HTTP/9\r\n\r\n",
                    "oversized": raw(
                        "PUT",
                        f"/_connector/{rng.choice(SHARED)}/_status",
                        [("Content-Type", "application/json")],
                        big(LIMIT + 1),
                    ),
                }[kind]
                answer = conn.exchange(data)
                if answer.status != {"json": 400, "line": 400, "oversized": 413}[kind]:
                    log.problems.append(f"{kind}: HTTP {answer.status} {answer.body[:200]!r}")
                if answer.closes:
                    conn.close()
                    conn = Conn(server)
                continue
            cid = rng.choice(SHARED)
            requested = rng.choice([*SPEC.statuses, "bogus"])
            answer = conn.exchange(put_json(f"/_connector/{cid}/_status", {"status": requested}))
            log.answers.append((cid, requested, answer.status, answer.json()))
    except AssertionError as exc:  # a hang or a dropped connection: reported, not raised in a thread
        log.problems.append(f"client {seed}: {exc}")
    finally:
        conn.close()


@pytest.mark.parametrize("target_class", ["faithful", "stale"])
def test_concurrent_load_accepts_no_stale_transition_and_loses_nothing(target_class: str) -> None:
    """Many clients at once, mixed valid and invalid transitions on a few shared connectors and hostile
    requests in between: every request answered, no 5xx, and per connector the writes the target made form
    a path of the state machine from ``created`` (each accepted from the status current at that moment),
    one write per 200 a client got, ending where GET says. A target that checks the transition against a
    status it read before letting the lock go (the bench's ``StaleStatusTarget``) must fail this."""
    from support.mutants import StaleStatusTarget  # the mutant the bench's race model is proven against

    base = RecordingTarget if target_class == "faithful" else type("Stale", (StaleStatusTarget, RecordingTarget), {})
    target = base()
    with ReferenceServer(target, max_content_length=LIMIT) as server:
        setup = Conn(server)
        for cid in SHARED:
            create(setup, cid)
        logs = [LoadLog() for _ in range(LOAD_CLIENTS)]
        deadline = time.monotonic() + LOAD_SECONDS
        threads = [threading.Thread(target=hammer, args=(server, n, deadline, logs[n])) for n in range(LOAD_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 30)
        assert not any(thread.is_alive() for thread in threads), "a client hung"
        finals = {cid: status_of(setup, cid) for cid in SHARED}
        setup.close()
    problems = [p for log in logs for p in log.problems]
    answers = [a for log in logs for a in log.answers]
    assert sum(log.hostile for log in logs) > 0
    assert len(answers) > 100, "the load was too light to mean anything"

    violations: list[str] = []
    for cid, requested, status, body in answers:
        if status == 200:
            if body not in ({"result": "updated"}, {"result": "noop"}):
                violations.append(f"{cid} -> {requested}: 200 {body}")
        elif status == 400:
            kind = body["error"]["type"]
            if requested in SPEC.statuses and kind != "status_exception":
                violations.append(f"{cid} -> {requested}: 400 {kind}")
            if requested not in SPEC.statuses and kind != "x_content_parse_exception":
                violations.append(f"{cid} -> {requested}: 400 {kind}")
        else:
            violations.append(f"{cid} -> {requested}: HTTP {status} {body}")
    profile = target.profile
    for cid in SHARED:
        writes = target.writes.get(cid, [])
        current = "created"
        for before, after in writes:
            if before != current:
                violations.append(f"{cid}: a write from {before} while the status was {current}")
            if not profile.allows(before, after):
                violations.append(f"{cid}: {before} -> {after} accepted, which the state machine forbids")
            current = after
        if finals[cid] != current:
            violations.append(f"{cid}: GET says {finals[cid]}, the writes end at {current}")
        accepted = sum(1 for c, _, status, _ in answers if c == cid and status == 200)
        if accepted != len(writes):
            violations.append(f"{cid}: {accepted} answers 200, {len(writes)} writes")
    if target_class == "faithful":
        assert problems == []
        assert violations == []
        assert server.errors == []
    else:
        assert any("forbids" in v for v in violations), violations[:5]


def test_a_bug_in_the_framing_code_is_a_recorded_500_not_a_dropped_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_connector_contract.reference import server as server_module

    def broken(self: Any) -> bytes:
        raise RuntimeError("framing bug")

    monkeypatch.setattr(server_module._Handler, "_read_body", broken)
    with ReferenceServer() as running:
        conn = Conn(running)
        answer = conn.exchange(raw("GET", "/"))
        assert (answer.status, answer.closes) == (500, True)
        assert answer.json()["error"]["reason"] == "RuntimeError: framing bug"
        conn.close()
    assert [str(e) for e in running.errors] == ["framing bug"]
