"""The reference target behind a real HTTP socket (in the style of pytest-httpserver).

:class:`ReferenceServer` runs a :class:`~pytest_connector_contract.reference.connectors.ReferenceTarget` on a
background thread, bound to a loopback port (0 = a free one, read back through :attr:`port`). It speaks
HTTP/1.1 with keep-alive, always sends ``Content-Length``, and writes each answer in one piece so that
clients never wait on Nagle's algorithm. A bug inside the target becomes an Elasticsearch-style 500 *and*
is recorded in :attr:`errors`, so that a test can fail on a server-side exception instead of on a
confusing client-side symptom. ``stop()`` closes every connection it accepted: nothing leaks, even when a
client still holds a keep-alive connection.

Given a certificate (``certfile``/``keyfile``, or a ready ``ssl_context``) it speaks HTTPS instead. The TLS
handshake runs on the connection's own thread, so a client that stalls or refuses the certificate never
holds up the others; a failed handshake just closes that connection (it is not a target error).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pytest_connector_contract.reference.connectors import ReferenceTarget
from pytest_connector_contract.reference.messages import Response

__all__ = ["ReferenceServer", "ReferenceServerError"]

_MAX_BODY = 100 * 1024 * 1024  # Elasticsearch's default http.max_content_length
_HANDSHAKE_TIMEOUT = 10.0  # seconds a client gets to complete the TLS handshake


class ReferenceServerError(AssertionError):
    """Raised by :meth:`ReferenceServer.check_errors` when the target raised while answering."""


class ReferenceServer:
    """Serve a :class:`ReferenceTarget` over HTTP on a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (both safe to call twice)::

        with ReferenceServer() as server:
            requests.get(server.url + "/")

    For HTTPS give ``certfile`` (PEM: the certificate, then any intermediates; it may hold the key too)
    and ``keyfile``, or a server-side ``ssl_context`` you configured yourself; :attr:`url` then starts
    with ``https://``. Certificate problems raise ``OSError`` (``ssl.SSLError``) from the constructor.
    """

    def __init__(
        self,
        target: ReferenceTarget | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if ssl_context is not None and (certfile is not None or keyfile is not None):
            raise ValueError("give either ssl_context or certfile/keyfile, not both")
        if keyfile is not None and certfile is None:
            raise ValueError("keyfile needs a certfile")
        if ssl_context is not None and ssl_context.protocol == ssl.PROTOCOL_TLS_CLIENT:
            raise ValueError("ssl_context must be a server-side context (ssl.PROTOCOL_TLS_SERVER)")
        if certfile is not None:
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
            ssl_context.load_cert_chain(certfile, keyfile)
        self._target = target if target is not None else ReferenceTarget()
        self.host = host
        self._requested_port = port
        self.latency_ms = latency_ms
        #: The server-side TLS context, None for plain HTTP.
        self.ssl_context = ssl_context
        #: Exceptions raised by the target while answering, oldest first.
        self.errors: list[BaseException] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Bind, listen and start serving; the server accepts connections when this returns.

        Raises OSError when the address cannot be bound (e.g. the port is in use)."""
        with self._lock:
            if self._httpd is not None:
                raise RuntimeError("the server is already running")
            httpd = _Server(self)
            ready = threading.Event()

            def serve() -> None:
                ready.set()
                httpd.serve_forever()

            thread = threading.Thread(target=serve, name=f"connector-contract-{httpd.port}", daemon=True)
            thread.start()
            ready.wait()
            self._httpd, self._thread, self._port = httpd, thread, httpd.port

    def stop(self) -> None:
        """Stop serving, close every connection and the listening socket, join the threads."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()  # joins the connection threads
        if thread is not None:
            thread.join()

    def __enter__(self) -> ReferenceServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ access

    @property
    def target(self) -> ReferenceTarget:
        return self._target

    @property
    def port(self) -> int:
        """The bound port (known once started; kept after stop)."""
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def scheme(self) -> str:
        return "http" if self.ssl_context is None else "https"

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` with TLS) without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def check_errors(self) -> None:
        """Raise :class:`ReferenceServerError` (chained to the first one) if the target raised."""
        if self.errors:
            first = self.errors[0]
            raise ReferenceServerError(
                f"the reference target raised {len(self.errors)} time(s); first: {first!r}"
            ) from first

    def _record(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)


class _Server(ThreadingHTTPServer):
    """One thread per connection; tracks connections so that stop() can close idle keep-alive ones."""

    daemon_threads = True
    block_on_close = True  # server_close() joins the connection threads

    def __init__(self, owner: ReferenceServer) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in owner.host else socket.AF_INET
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._stopping = False
        self._stopped = threading.Event()
        super().__init__((owner.host, owner._requested_port), _Handler)
        self._wakeup = socket.socketpair()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """socketserver's loop, plus a wake-up socket so that shutdown() returns at once instead of
        after a poll interval (it matters to test suites that start hundreds of servers)."""
        assert self._wakeup is not None
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wakeup[0], selectors.EVENT_READ)
                while not self._stopping:
                    for key, _ in selector.select(poll_interval):
                        if key.fileobj is self and not self._stopping:
                            self._accept_one()
        finally:
            self._stopped.set()

    def _accept_one(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.shutdown_request(request)

    def shutdown(self) -> None:
        self._stopping = True
        if self._wakeup is not None:
            with contextlib.suppress(OSError):
                self._wakeup[1].send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        if self._wakeup is not None:
            for end in self._wakeup:
                end.close()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host (slow on some machines)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.owner.host
        self.server_port = self.port

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """On the connection's thread: the TLS handshake (when serving HTTPS), then the handler."""
        context = self.owner.ssl_context
        if context is None:
            super().finish_request(request, client_address)
            return
        # wrap_socket() detaches ``request``: from here on the TLS socket owns the file descriptor.
        with context.wrap_socket(request, server_side=True, do_handshake_on_connect=False) as tls:
            with self._connections_lock:
                self._connections.discard(request)
                if self._stopping:
                    return
                self._connections.add(tls)
            try:
                tls.settimeout(_HANDSHAKE_TIMEOUT)
                tls.do_handshake()
                tls.settimeout(None)
                super().finish_request(tls, client_address)
            except OSError:
                pass  # refused certificate, plain HTTP on the TLS port, hang-up: only this connection ends
            finally:
                with self._connections_lock:
                    self._connections.discard(tls)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every connection thread (blocked reading the next request) with an EOF."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                # socket.socket's own shutdown: SSLSocket.shutdown() would tear the TLS state down under
                # the thread still reading from it; a plain TCP shutdown just hands that thread an EOF.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection-level trouble (a client hanging up, stop() closing a socket) is not news."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: a conformance run makes thousands of requests."""

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method reaches the target, which answers 405 for the ones a route does not serve.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        if body is None:
            return
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {name: value for name, value in self.headers.items()}
        try:
            response = owner.target.handle(self.command, split.path or "/", query, headers, body)
        except Exception as exc:  # a bug of the target: answer like Elasticsearch would, and record it
            owner._record(exc)
            response = _internal_error(exc)
        if owner.latency_ms:
            time.sleep(owner.latency_ms / 1000)
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body by Content-Length, or de-chunked; None after answering a framing error."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self._framing_error(400, f"invalid Content-Length [{length_header}]")
            return None
        if length > _MAX_BODY:
            self._framing_error(413, f"request body is larger than {_MAX_BODY} bytes")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._framing_error(400, "invalid chunked transfer encoding")
                return None
            if size == 0:
                break
            total += size
            if total > _MAX_BODY:
                self._framing_error(413, f"request body is larger than {_MAX_BODY} bytes")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)  # the CRLF closing the chunk
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _framing_error(self, status: int, message: str) -> None:
        self.close_connection = True
        body = json.dumps({"error": message, "status": status}).encode()
        self._send(Response(status, {"Content-Type": "application/json", "Connection": "close"}, body))

    def _send(self, response: Response) -> None:
        """Status line, headers and body in one write."""
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {response.status} {phrase}\r\n"]
        for name, value in response.headers.items():
            if name.lower() in ("content-length", "transfer-encoding"):
                continue
            if name.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
            lines.append(f"{name}: {value}\r\n")
        for name, values in response.header_lists.items():
            lines.extend(f"{name}: {value}\r\n" for value in values)
        lines.append(f"Content-Length: {len(response.body)}\r\n\r\n")
        head = "".join(lines).encode("latin-1", "replace")
        # HEAD answers carry the length of the body they do not send, like Elasticsearch.
        self.wfile.write(head if self.command == "HEAD" else head + response.body)


def _internal_error(exc: BaseException) -> Response:
    reason = f"{type(exc).__name__}: {exc}"
    error = {"type": "exception", "reason": reason}
    body = {"error": {"root_cause": [dict(error)], **error}, "status": 500}
    headers = {"Content-Type": "application/json", "X-elastic-product": "Elasticsearch"}
    return Response(500, headers, json.dumps(body).encode())
