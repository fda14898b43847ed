"""A gateway in front of a target, for the tests: it forwards every request over real HTTP to a backend (a
reference server), and injects faults deterministically on the way.

- ``drop_every=N``: every Nth ``PUT _connector/<id>/_status`` (counted from the start, preflight included) is
  dropped: the gateway closes the connection without answering and without forwarding it, as a proxy that
  loses answers does. The request under test is never retried by the harness, so its check ends in error.
- ``drop_once=True`` (with ``drop_every``): a drop that a check's rerun cannot meet again. A status update is
  known by its kind: the how-manyth forwarded update of its connector it is, its query and its body (not the
  connector id, which a rerun makes anew). A kind is dropped at most once; a later Nth update of a kind already
  dropped is forwarded. A rerun sends the kinds of its first attempt again, so each attempt of a check that
  ends in error uses up one of its kinds: a check sending at most K status updates ends in error at most K
  times, and a retried setup update (the same kind) always gets through.
- ``script``: answers given instead of the backend's, in order, one per request, before anything is forwarded
  (``[CLOSE, (503, {...}), (401, {...})]``): a cluster that is still starting. :data:`CLOSE` closes the
  connection without answering (what a load balancer in front of a node that is not up yet may do).
- ``start(delay=...)``: the gateway starts listening only after ``delay`` seconds, on the port it was given
  (``port``, reserved by :func:`free_port`): a server that starts late.

A gateway answers ``GET /`` with its backend's identity, as a real one does: only
``--connector-implementation`` can say what was tested.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CLOSE", "Gateway", "free_port"]

#: a script entry: close the connection without answering
CLOSE = "close"

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def free_port() -> int:
    """A loopback port nothing listens on now (bound once and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gateway:
    def __init__(
        self,
        backend: str,
        *,
        drop_every: int = 0,
        drop_once: bool = False,
        script: Sequence[tuple[int, dict[str, Any]] | str] = (),
        port: int = 0,
    ) -> None:
        parts = urlsplit(backend)
        self.backend = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop_every = drop_every
        self.drop_once = drop_once
        self._dropped_kinds: set[tuple[int, str, bytes]] = set()
        self._forwarded_updates: dict[str, int] = {}  # connector path -> status updates forwarded
        self.script = list(script)
        self.port = port
        #: how many status updates were seen, and how many of them were dropped
        self.status_updates = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, delay: float = 0.0) -> Gateway:
        if delay <= 0:
            self._listen()
        else:
            if not self.port:
                self.port = free_port()
            self._timer = threading.Timer(delay, self._listen)
            self._timer.start()
        return self

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.gateway = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="test-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join(5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def decide(self, method: str, path: str, body: bytes = b"") -> tuple[str, Any]:
        """What to do with one request: ``("answer", (status, body))``, ``("drop", None)`` or
        ``("forward", None)``."""
        with self._lock:
            if self.script:
                return "answer", self.script.pop(0)
            where, _, query = path.partition("?")
            if method == "PUT" and where.startswith("/_connector/") and where.endswith("/_status"):
                self.status_updates += 1
                forwarded = self._forwarded_updates.get(where, 0)
                kind = (forwarded, query, body)
                if (
                    self.drop_every
                    and self.status_updates % self.drop_every == 0
                    and not (self.drop_once and kind in self._dropped_kinds)
                ):
                    self.dropped += 1
                    self._dropped_kinds.add(kind)
                    return "drop", None
                self._forwarded_updates[where] = forwarded + 1
        return "forward", None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    gateway: Gateway


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body leave at once

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._relay
        raise AttributeError(name)

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action, scripted = self.server.gateway.decide(self.command, self.path, body)
        if action == "drop" or scripted == CLOSE:
            self.close_connection = True  # no answer at all: the client sees the connection closed
            return
        if action == "answer":
            status, document = scripted
            self._answer(status, [("Content-Type", "application/json")], json.dumps(document).encode())
            return
        connection = http.client.HTTPConnection(*self.server.gateway.backend, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            self._answer(
                answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP], content
            )
        finally:
            connection.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
