"""The client's HTTP transport: one keep-alive connection, reconnects when the server closed it, one write per
request, and errors that say why without a traceback."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from pytest_connector_contract.client.connector import ConnectorClient, TargetUnreachable
from pytest_connector_contract.client.transport import Headers, Transport, describe_error


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, close_after: int | None = None) -> None:
        self.accepted = 0
        self.requests: list[bytes] = []
        self.close_after = close_after
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
            served += 1
            closing = self.server.close_after is not None and served >= self.server.close_after
            payload = b'{"ok":true}'
            extra = b"Connection: close\r\n" if closing else b""
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Twice: a\r\nX-Twice: b\r\n"
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
    import ssl

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
