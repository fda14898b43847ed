"""A real forwarding HTTP proxy for the tests, on the standard library: absolute-URI requests are forwarded
(plain HTTP) and ``CONNECT`` opens a tunnel (HTTPS), as corporate proxies do.

It records the request line of everything it is asked (so a test proves the traffic went through it) and
the ``Proxy-Authorization`` it received, and can require credentials (407 without them). ``hosts`` gives it
names of its own (``{"es.cluster.test": "127.0.0.1"}``): a target under such a name is reachable only
through the proxy, as a cluster on a network that only the proxy can see.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["ForwardingProxy"]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade"}
)


class ForwardingProxy:
    """``with ForwardingProxy() as proxy:`` serves on a free loopback port; ``proxy.url`` is
    ``http://127.0.0.1:<port>``, with ``user:password@`` when credentials are required."""

    def __init__(self, *, credentials: tuple[str, str] | None = None, hosts: dict[str, str] | None = None) -> None:
        self.credentials = credentials
        self.hosts = dict(hosts or {})
        #: bytes relayed through CONNECT tunnels, from the client and from the target
        self.tunnelled = [0, 0]
        #: every request line seen, in order: ``GET http://host:port/path HTTP/1.1``, ``CONNECT host:port HTTP/1.1``
        self.requests: list[str] = []
        #: the Proxy-Authorization header of each request (None where there was none)
        self.authorizations: list[str | None] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        if self.credentials is None:
            return f"http://127.0.0.1:{self.port}"
        user, password = self.credentials
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def plain_url(self) -> str:
        """The URL without credentials."""
        return f"http://127.0.0.1:{self.port}"

    def resolve(self, host: str) -> str:
        return self.hosts.get(host, host)

    def record(self, line: str, authorization: str | None) -> None:
        with self._lock:
            self.requests.append(line)
            self.authorizations.append(authorization)

    def start(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ForwardingProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: ForwardingProxy) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``requests`` instead."""

    def _authorized(self) -> bool:
        owner = self.server.owner
        given = self.headers.get("Proxy-Authorization")
        owner.record(self.requestline, given)
        if owner.credentials is None:
            return True
        expected = "Basic " + base64.b64encode(":".join(owner.credentials).encode()).decode()
        if given == expected:
            return True
        body = b"proxy authentication required"
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="test-proxy"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def do_CONNECT(self) -> None:
        if not self._authorized():
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((self.server.owner.resolve(host.strip("[]")), int(port)), timeout=10)
        except OSError as exc:
            self.send_error(502, f"cannot connect to {self.path}: {exc}")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        with upstream:
            _relay(self.connection, upstream, self.server.owner.tunnelled)

    def _forward(self) -> None:
        if not self._authorized():
            return
        parts = urlsplit(self.path)
        if parts.scheme != "http" or not parts.hostname:
            self.send_error(400, "a proxy request needs an absolute http:// URI")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        upstream = http.client.HTTPConnection(self.server.owner.resolve(parts.hostname), parts.port or 80, timeout=10)
        try:
            upstream.putrequest(self.command, target or "/", skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.endheaders(body)
            answer = upstream.getresponse()
            content = answer.read()
        except OSError as exc:
            self.server.owner.errors.append(f"{self.requestline}: {exc}")
            self.send_error(502, f"the target did not answer: {exc}")
            return
        finally:
            upstream.close()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward


def _relay(client: socket.socket, upstream: socket.socket, counts: list[int]) -> None:
    """Copy bytes both ways until either side closes; ``counts``: bytes from the client, from upstream."""
    sockets = [client, upstream]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 30)
        if broken or not readable:
            return
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            counts[0 if sock is client else 1] += len(data)
            (upstream if sock is client else client).sendall(data)
