"""The client's HTTP transport (a requests.Session): one keep-alive connection, reconnects when the server
closed it, exactly the bytes the suite means to send, no retries, redirects, cookies or ~/.netrc, the CA
bundle of the environment, and errors that say why without a traceback."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from pytest_connector_contract import __version__
from pytest_connector_contract.client.api import ConnectorClient, TargetUnreachable
from pytest_connector_contract.client.transport import Headers, Transport, describe_error
from pytest_connector_contract.reference.server import ReferenceServer


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, close_after: int | None = None) -> None:
        self.accepted = 0
        self.requests: list[bytes] = []
        self.close_after = close_after
        #: the status line and extra header lines of every answer
        self.status = b"200 OK"
        self.extra = b""
        #: close the connection after reading a request, without answering it
        self.drop = False
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(socketserver.StreamRequestHandler):
    server: _Recorder

    def handle(self) -> None:
        self.server.accepted += 1
        served = 0
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                chunk = self.rfile.readline()
                if not chunk:
                    return
                head += chunk
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = self.rfile.read(length)
            self.server.requests.append(head + body)
            if self.server.drop:
                return
            served += 1
            closing = self.server.close_after is not None and served >= self.server.close_after
            payload = b'{"ok":true}'
            extra = b"Connection: close\r\n" if closing else b""
            self.wfile.write(
                b"HTTP/1.1 " + self.server.status + b"\r\n"
                b"Content-Type: application/json\r\nX-Twice: a\r\nX-Twice: b\r\n"
                + self.server.extra
                + extra
                + b"Content-Length: "
                + str(len(payload)).encode()
                + b"\r\n\r\n"
                + payload
            )
            if closing:
                return


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: socketserver.TCPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_many_requests_share_one_connection(recorder: _Recorder) -> None:
    client = ConnectorClient(_url(recorder) + "/prefix/", timeout=5)
    try:
        for n in range(20):
            answer = client.update_status(f"c{n}", "error")
            assert answer.status == 200
            assert answer.json == {"ok": True}
            assert answer.headers["x-twice"] == "a, b"
    finally:
        client.close()
    assert recorder.accepted == 1
    first = recorder.requests[0]
    assert first.startswith(b"PUT /prefix/_connector/c0/_status HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in first
    assert first.endswith(b'\r\n\r\n{"status":"error"}')


def test_a_connection_the_server_closed_is_replaced(recorder: _Recorder) -> None:
    recorder.close_after = 2
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        statuses = [client.get_connector(f"c{n}").status for n in range(5)]
    finally:
        client.close()
    assert statuses == [200] * 5
    assert recorder.accepted == 3


def test_a_body_less_put_still_says_its_length(recorder: _Recorder) -> None:
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        client.request("PUT", "/_connector/x/_status", content_type=None)
        client.request("GET", "/")
    finally:
        client.close()
    put, get = recorder.requests
    assert b"\r\nContent-Length: 0\r\n" in put
    assert b"Content-Type" not in put
    assert b"Content-Length" not in get


def test_a_refused_connection_is_target_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ConnectorClient(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(TargetUnreachable, match="Connection refused"):
        client.get_connector("x")
    assert client.exchanges[-1].error is not None


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = ConnectorClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.2)
        with pytest.raises(TargetUnreachable, match="timed out"):
            client.get_connector("x")
        client.close()


def test_describe_error_names_tls_failures() -> None:
    assert describe_error(ssl.SSLCertVerificationError(1, "certificate verify failed")).startswith("TLS failure")
    assert describe_error(ConnectionResetError(104, "Connection reset by peer")).startswith("ConnectionError")


def test_headers_are_case_insensitive_and_keep_their_spelling() -> None:
    headers = Headers({"X-Elastic-Product": "Elasticsearch"})
    assert headers["x-elastic-product"] == "Elasticsearch"
    assert list(headers) == ["X-Elastic-Product"]
    del headers["X-ELASTIC-PRODUCT"]
    assert len(headers) == 0


def test_only_http_urls_make_a_transport() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Transport("ftp://x", timeout=1)


def test_a_truncated_body_goes_as_given_with_its_true_length(recorder: _Recorder) -> None:
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        client.request("PUT", "/_connector/x/_status", raw_body=b'{"status":"err', content_type=None)
        client.request("PUT", "/_connector/x/_status", raw_body="{}", content_type="text/plain; charset=UTF-8")
    finally:
        client.close()
    bare, typed = recorder.requests
    assert bare == (
        b"PUT /_connector/x/_status HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: pytest-connector-contract/%s\r\n"
        b"Accept-Encoding: identity\r\nAccept: */*\r\nConnection: keep-alive\r\nContent-Length: 14\r\n\r\n"
        b'{"status":"err' % (recorder.server_address[1], __version__.encode())
    )
    assert b"\r\nContent-Type: text/plain; charset=UTF-8\r\n" in typed
    assert b"\r\nContent-Length: 2\r\n" in typed


def test_a_request_is_never_sent_twice(recorder: _Recorder) -> None:
    recorder.drop = True
    client = ConnectorClient(_url(recorder), timeout=5)
    with pytest.raises(TargetUnreachable, match="RemoteDisconnected"):
        client.update_status("x", "error")
    client.close()
    assert len(recorder.requests) == 1
    assert recorder.accepted == 1


def test_a_redirect_is_answered_not_followed(recorder: _Recorder) -> None:
    recorder.status = b"307 Temporary Redirect"
    recorder.extra = b"Location: /elsewhere\r\n"
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        answer = client.update_status("x", "error")
    finally:
        client.close()
    assert answer.status == 307
    assert answer.headers["location"] == "/elsewhere"
    assert len(recorder.requests) == 1


def test_cookies_are_never_sent_back(recorder: _Recorder) -> None:
    recorder.extra = b"Set-Cookie: session=abc123; Path=/\r\n"
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        client.get_connector("x")
        client.get_connector("x")
    finally:
        client.close()
    assert len(recorder.requests) == 2  # the second request is the one that would carry the cookie back
    assert [b"Cookie" in request for request in recorder.requests] == [False, False]


def test_netrc_credentials_are_never_sent(recorder: _Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login elastic password netrc-pass-0008\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    import requests.utils

    assert requests.utils.get_netrc_auth(_url(recorder)) == ("elastic", "netrc-pass-0008")  # requests would
    client = ConnectorClient(_url(recorder), timeout=5)
    try:
        client.get_connector("x")
    finally:
        client.close()
    assert b"Authorization" not in recorder.requests[0]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_target(start_target: Callable[..., ReferenceServer], ca: trustme.CA) -> ReferenceServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return start_target(ssl_context=context)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_ca_bundle_of_the_environment_is_used_unless_a_ca_file_is_given(
    variable: str, tls_target: ReferenceServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file, other = tmp_path / "ca.pem", tmp_path / "other.pem"
    ca.cert_pem.write_to_path(ca_file)
    trustme.CA().cert_pem.write_to_path(other)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(ca_file))
    from_env = ConnectorClient(tls_target.url, timeout=5)
    assert from_env.request("GET", "/").status == 200
    from_env.close()
    monkeypatch.setenv(variable, str(other))
    wrong_env = ConnectorClient(tls_target.url, timeout=5)
    with pytest.raises(TargetUnreachable, match="TLS failure"):
        wrong_env.request("GET", "/")
    given = ConnectorClient(tls_target.url, timeout=5, verify=str(ca_file))  # --connector-ca-certs wins
    assert given.request("GET", "/").status == 200
    given.close()
    ignored = ConnectorClient(tls_target.url, timeout=5, trust_env=False)  # certifi's bundle only
    with pytest.raises(TargetUnreachable, match="TLS failure"):
        ignored.request("GET", "/")
