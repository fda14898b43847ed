"""The reference target behind a real HTTP socket (in the style of pytest-httpserver).

:class:`ReferenceServer` runs a :class:`~pytest_connector_contract.reference.endpoints.ReferenceTarget` on a
background thread, bound to a loopback port (0 = a free one, read back through :attr:`port`). It speaks
HTTP/1.1 with keep-alive, always sends ``Content-Length``, and writes each answer in one piece so that
clients never wait on Nagle's algorithm. A bug inside the target becomes an Elasticsearch-style 500 *and*
is recorded in :attr:`errors`, so that a test can fail on a server-side exception instead of on a
confusing client-side symptom. ``stop()`` closes every connection it accepted: nothing leaks, even when a
client still holds a keep-alive connection.

Given a certificate (``certfile``/``keyfile``, or a ready ``ssl_context``) it speaks HTTPS instead. The TLS
handshake runs on the connection's own thread, so a client that stalls or refuses the certificate never
holds up the others; a failed handshake just closes that connection (it is not a target error).

Hostile input. Teams run this server in CI as a local Elasticsearch, so no request may bring it down, and
each framing answer is the one Elasticsearch's Netty layer gives:

- a request Netty's decoder refuses (no or a bad version, a request line over ``http.max_initial_line_length``
  (4kb), a header block over ``http.max_header_size`` (16kb), a line that is no header, a bad or repeated
  ``Content-Length``, a broken chunked encoding) reaches ``RestController.dispatchBadRequest`` in Elasticsearch
  (``AbstractHttpServerTransport.handleIncomingRequest`` hands it the decoder's exception): a 400 JSON error
  whose type is that exception (``illegal_argument_exception``, ``too_long_http_line_exception``, ...). The
  connection is then closed (``Connection: close``), since where the request ends is unknown; the exact
  reasons and the closing are *derived*, not seen asserted by an Elastic test;
- a body over ``max_content_length`` (``http.max_content_length``, 100mb by default) is answered 413 with an
  empty body and ``Connection: close`` before it is read, and an ``Expect`` other than ``100-continue`` gets
  417 the same way (``Netty4HttpContentSizeHandler``); ``100 Continue`` is sent only once the size is known
  to be acceptable;
- a gzip or deflate request body (``Content-Encoding: gzip``, ``x-gzip``, ``deflate``, ``x-deflate``; deflate
  zlib-wrapped or raw) is decoded before anything reads it, as Netty's ``HttpContentDecompressor`` does ahead of
  the aggregator in Elasticsearch's pipeline (``Netty4HttpServerTransport``), and the target sees it without
  ``Content-Encoding``; the size limit applies to the decoded body, which is inflated only up to the limit, so a
  small body that inflates past it gets the 413 without being inflated in full (*derived*: the aggregator
  counts decoded bytes). Another encoding reaches the target as it came (the decompressor passes what it has no
  decoder for). A body that does not decode closes the connection without an answer (*derived*: the
  decompressor's exception reaches ``AbstractHttpServerTransport.onException``, which closes the channel);
- a client that hangs up mid-request gets nothing, and nothing of its request reaches the target;
- the path ends at the first ``?`` (``RestRequest``), whatever follows; of a repeated header a lookup gives the
  first value (``RestRequest.header``) and ``Headers.get_all`` every one (``getAllHeaderValues``), which the
  REST layer reads to refuse a repeated ``Content-Type`` or ``X-Opaque-Id``.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
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
from urllib.parse import parse_qs

from pytest_connector_contract.contract.encoding import BodyTooLarge, BodyUndecodable, decodes, inflate
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Headers, Response

__all__ = ["DEFAULT_MAX_CONTENT_LENGTH", "ReferenceServer", "ReferenceServerError"]

#: Elasticsearch's default ``http.max_content_length`` (100mb).
DEFAULT_MAX_CONTENT_LENGTH = 100 * 1024 * 1024
_HANDSHAKE_TIMEOUT = 10.0  # seconds a client gets to complete the TLS handshake
_MAX_INITIAL_LINE = 4096  # http.max_initial_line_length (4kb)
_MAX_HEADER_SIZE = 16 * 1024  # http.max_header_size (16kb)
_MAX_CHUNK_LINE = 1024  # a chunk-size line: hex digits and extensions
_MAX_BLANK_LINES = 16  # empty lines skipped before a request line
_LINGER_SECONDS = 1.0  # how long a closing connection drops what the client still sends
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: what a header name may be
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_SPACES = re.compile(r"[ \t]+")
_FOLD = re.compile(r"\r?\n[ \t]*")


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

    ``max_content_length`` bounds request bodies (default 100 MiB, like Elasticsearch): a longer one gets
    413 without being read into memory.
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
        max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if max_content_length < 0:
            raise ValueError("max_content_length must not be negative")
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
        #: The largest request body accepted, in bytes (Elasticsearch's ``http.max_content_length``): a
        #: larger one is answered 413 before it is read.
        self.max_content_length = max_content_length
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
    #: connections the kernel queues before they are accepted. socketserver's 5 is too few for a run with 16
    #: checks in flight, each opening its keep-alive connection at the same moment: the connects beyond the
    #: queue were dropped and retried by the client's TCP a second later (measured: one check 1 s late).
    request_queue_size = 128

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
    """One connection: HTTP/1.1 framing as Elasticsearch's Netty layer does it, then the target.

    Whatever the bytes, the client gets an answer or (only when it hung up mid-request) nothing, never
    http.server's HTML error page, and never a half-read request passed on to the target. See
    "Hostile input" in the module docstring for where each answer comes from."""

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

    # ---------------------------------------------------------------------------- framing

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with Netty's limits and leniencies, and a safety net: a bug in the
        framing code becomes a 500 (recorded like a target's) instead of a silently dropped connection."""
        self.command = self.request_version = ""  # until parse_request() knows: error answers carry a body
        try:
            line = self.rfile.readline(_MAX_INITIAL_LINE + 2)
            for _ in range(_MAX_BLANK_LINES):  # Netty skips empty lines before a request line
                if line not in (b"\r\n", b"\n"):
                    break
                line = self.rfile.readline(_MAX_INITIAL_LINE + 2)
            self.raw_requestline = line
            if len(line.rstrip(b"\r\n")) > _MAX_INITIAL_LINE:
                self.requestline, self.request_version = "", ""
                self._bad_request(
                    f"An HTTP line is larger than {_MAX_INITIAL_LINE} bytes.", "too_long_http_line_exception"
                )
                return
            if not line.endswith(b"\n"):  # EOF, or the client hung up inside the request line
                self.close_connection = True
                return
            if not self.parse_request() or not self._check_head():
                return
            self._dispatch()
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away, or stop() closed the connection
        except Exception as exc:  # a bug of the server itself: answer and record it
            self.server.owner._record(exc)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(_internal_error(exc), closing=True)

    def parse_request(self) -> bool:
        """The request line and headers as Netty's ``HttpObjectDecoder`` reads them: words split on spaces
        and tabs only, a version of HTTP/1.0 or 1.1, a token for a method; False after answering a 400."""
        self.close_connection = True
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        words = _SPACES.split(self.requestline.strip(" \t"))
        if len(words) != 3:
            self._bad_request(f"invalid request line [{self.requestline}]")
            return False
        method, target, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            self._bad_request(f"invalid version format: {version}")
            return False
        if not _TOKEN.fullmatch(method):
            self._bad_request(f"invalid character in method name [{method}]")
            return False
        self.request_version = version
        block = self._read_header_block()
        if block is None:
            return False
        try:
            self.headers = http.client.parse_headers(io.BytesIO(block), _class=self.MessageClass)
        except http.client.HTTPException:  # more than 100 headers
            self._headers_too_large()
            return False
        self.command, self.path = method, target
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        return True

    def _read_header_block(self) -> bytes | None:
        """The header lines up to and with the empty line that ends them, within ``http.max_header_size``;
        None after answering a 400, or when the client hung up before the end (http.server took an EOF
        there for the end of the headers, and served the half request)."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(_MAX_HEADER_SIZE + 3 - size)
            if line in (b"\r\n", b"\n"):
                lines.append(line)
                return b"".join(lines)
            size += len(line)
            if size > _MAX_HEADER_SIZE + 2:
                self._headers_too_large()
                return None
            if not line.endswith(b"\n"):
                self.close_connection = True
                return None
            lines.append(line)

    def handle_expect_100(self) -> bool:
        """Deferred: Elasticsearch answers 100 Continue only once it knows the body is not too large."""
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line or version, headers too long or too many):
        Elasticsearch's 400 instead of an HTML page."""
        if code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
            self._headers_too_large()
        else:
            self._bad_request(message or HTTPStatus(code).phrase)

    def _check_head(self) -> bool:
        """The header block as Netty's decoder validates it; False after answering a 400."""
        if self.headers.defects:  # a line that is no header (no colon, white space before it, ...)
            self._bad_request("invalid header line")
            return False
        size = 0
        for name, value in self.headers.items():
            size += len(name) + len(value) + 4
            if not _TOKEN.fullmatch(name):
                self._bad_request(f"a header name cannot contain prohibited characters: [{name}]")
                return False
        if size > _MAX_HEADER_SIZE:
            self._headers_too_large()
            return False
        return True

    def _dispatch(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        if body is None:
            return
        encoding = self.headers.get("Content-Encoding")
        decoded = encoding is not None and decodes(encoding)
        if encoding is not None and decoded:
            body = self._inflate(body, encoding)
            if body is None:
                return
        # Like Elasticsearch's RestRequest: the path ends at the first "?"; no fragment, no authority.
        path, _, query_string = self.path.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        pairs: list[tuple[str, str]] = []
        for name, value in self.headers.items():
            if decoded and name.lower() == "content-encoding":
                continue  # HttpContentDecoder removes it once it decoded the body
            # Every value of a repeated header is kept (Headers: a lookup gives the first, as RestRequest.header()
            # does, get_all() every one); Netty joins a folded (obs-fold) value's lines with one space, where the
            # email parser behind http.server keeps the line break.
            pairs.append((name, _FOLD.sub(" ", value).strip()))
        headers = Headers(pairs)
        try:
            response = owner.target.handle(self.command, path or "/", query, headers, body)
        except Exception as exc:  # a bug of the target: answer like Elasticsearch would, and record it
            owner._record(exc)
            response = _internal_error(exc)
        if owner.latency_ms:
            time.sleep(owner.latency_ms / 1000)
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The whole request body, never more than ``max_content_length`` of it in memory; None when the
        request was answered already (a framing error, too large) or the client hung up mid-body."""
        limit = self.server.owner.max_content_length
        expect = self.headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            self._refuse(HTTPStatus.EXPECTATION_FAILED)
            return None
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = 0
        if not chunked:
            values = self.headers.get_all("Content-Length") or []
            if len(values) > 1:
                self._bad_request(f"Multiple Content-Length values found: [{', '.join(values)}]")
                return None
            if values:
                if not values[0].strip().isdigit() or not values[0].strip().isascii():
                    self._bad_request(f"invalid Content-Length [{values[0]}]")
                    return None
                length = int(values[0])
            if length > limit:
                self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                return None
        if expect is not None and self.request_version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if chunked:
            return self._read_chunked(limit)
        return self._read_exactly(length)

    def _inflate(self, body: bytes, encoding: str) -> bytes | None:
        """``body`` decoded, never more than ``max_content_length`` of it in memory; None when the request
        was answered already (413: it inflates past the limit) or the body does not decode (the connection
        is closed without an answer)."""
        try:
            return inflate(body, encoding, limit=self.server.owner.max_content_length)
        except BodyTooLarge:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        except BodyUndecodable:
            self.close_connection = True
            self._linger()
        return None

    def _read_exactly(self, length: int) -> bytes | None:
        data = self.rfile.read(length) if length else b""
        if len(data) < length:  # the client hung up mid-body: nothing to answer, nothing to dispatch
            self.close_connection = True
            return None
        return data

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE + 2)
            if not line.endswith(b"\n"):
                if len(line) <= _MAX_CHUNK_LINE:  # EOF
                    self.close_connection = True
                else:
                    self._bad_request("invalid chunk size line")
                return None
            size_text = line.split(b";", 1)[0].strip(b" \t\r\n")
            if not _HEX.fullmatch(size_text):
                self._bad_request(f"invalid chunk size [{size_text.decode('latin-1')}]")
                return None
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                return None
            chunk = self._read_exactly(size + 2)
            if chunk is None:
                return None
            if chunk[-2:] != b"\r\n":
                self._bad_request("a chunk is not followed by CRLF")
                return None
            chunks.append(chunk[:-2])
        trailers = 0
        while True:  # trailers: read and dropped, within the header limits
            line = self.rfile.readline(_MAX_HEADER_SIZE)
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)
            if not line.endswith(b"\n"):
                self.close_connection = True
                return None
            trailers += len(line)
            if trailers > _MAX_HEADER_SIZE:
                self._headers_too_large()
                return None

    # ---------------------------------------------------------------------------- answers

    def _bad_request(self, reason: str, error_type: str = "illegal_argument_exception") -> None:
        """A request Netty cannot decode: Elasticsearch's 400 (``RestController.dispatchBadRequest``), and the
        connection closed, since where the request ends is unknown."""
        error = {"type": error_type, "reason": reason}
        body = {"error": {"root_cause": [dict(error)], **error}, "status": 400}
        headers = {"Content-Type": "application/json", "X-elastic-product": "Elasticsearch"}
        self._send(Response(400, headers, json.dumps(body).encode()), closing=True)

    def _headers_too_large(self) -> None:
        self._bad_request(f"HTTP header is larger than {_MAX_HEADER_SIZE} bytes.", "too_long_http_header_exception")

    def _refuse(self, status: HTTPStatus) -> None:
        """413 and 417 as ``Netty4HttpContentSizeHandler`` sends them: no body, ``Connection: close``."""
        self._send(Response(status, {}, b""), closing=True)

    def _send(self, response: Response, *, closing: bool = False) -> None:
        """Status line, headers and body in one write; ``closing`` also closes the connection gently."""
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {response.status} {phrase}\r\n"]
        for name, value in response.headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                if name.lower() == "connection" and value.lower() == "close":
                    closing = True
                continue
            lines.append(f"{name}: {_one_line(value)}\r\n")
        for name, values in response.header_lists.items():
            lines.extend(f"{name}: {_one_line(value)}\r\n" for value in values)
        # DefaultRestChannel says when it closes (the client asked, or spoke HTTP/1.0 without keep-alive),
        # and echoes an HTTP/1.0 client's keep-alive.
        if closing or self.close_connection:
            lines.append("Connection: close\r\n")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append(f"Content-Length: {len(response.body)}\r\n\r\n")
        head = "".join(lines).encode("latin-1", "replace")
        # HEAD answers carry the length of the body they do not send, like Elasticsearch.
        self.wfile.write(head if self.command == "HEAD" else head + response.body)
        if closing:
            self.close_connection = True
            self._linger()

    def _linger(self) -> None:
        """Before closing with request bytes still unread, say we are done writing and read (and drop)
        what the client still sends for a moment: closing at once would make the kernel answer those bytes
        with a reset, which can destroy the answer before the client read it."""
        self.wfile.flush()
        connection = self.connection
        with contextlib.suppress(OSError):
            socket.socket.shutdown(connection, socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                connection.settimeout(left)
                if not connection.recv(65536):
                    break


def _one_line(value: str) -> str:
    """A header value that cannot end the header early (an echoed request header must not inject one)."""
    return value.replace("\r", " ").replace("\n", " ")


def _internal_error(exc: BaseException) -> Response:
    reason = f"{type(exc).__name__}: {exc}"
    error = {"type": "exception", "reason": reason}
    body = {"error": {"root_cause": [dict(error)], **error}, "status": 500}
    headers = {"Content-Type": "application/json", "X-elastic-product": "Elasticsearch"}
    return Response(500, headers, json.dumps(body).encode())
