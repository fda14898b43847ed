"""The HTTP transport of the client: one keep-alive HTTP/1.1 connection to the target, over ``http.client``.

It does what the suite needs from an HTTP library and nothing more: TLS with the system's CAs or a given
CA file (or no verification, when asked), a client certificate, one timeout for connect and read, no
proxies, no ``.netrc``, no redirects, no cookies, no retries (retrying is the client's decision, and the
request under test is never retried). The request is written in one piece and the answer read whole.

Why not ``requests``: a conformance run is hundreds of small requests, and ``requests`` costs several times
the CPU of the exchange itself per request (profiled in docs/performance.md), plus its import time in every
process, xdist workers included.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from pytest_connector_contract import __version__

__all__ = ["USER_AGENT", "Headers", "Transport", "describe_error"]

USER_AGENT = f"pytest-connector-contract/{__version__}"


class Headers(MutableMapping[str, str]):
    """Response headers: case-insensitive lookups, the target's spelling kept for display."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        if items:
            for key, value in items.items():
                self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _context(verify: bool | str, cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
        if not context.cert_store_stats().get("x509_ca"):
            # No system CA store (some Python builds): fall back on certifi's bundle where it is installed.
            try:
                import certifi
            except ImportError:  # pragma: no cover - depends on the machine
                pass
            else:  # pragma: no cover - depends on the machine
                context.load_verify_locations(cafile=certifi.where())
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


class Transport:
    """One origin (``http(s)://host:port[/prefix]``), one connection, reused while the server keeps it open."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self.cert = cert
        self._context: ssl.SSLContext | None = None
        self._conn: http.client.HTTPConnection | None = None
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = (self.scheme == "https" and self.port == 443) or (self.scheme == "http" and self.port == 80)
        #: the Host header
        self.authority = host if default_port else f"{host}:{self.port}"

    def headers_for(self, extra: Mapping[str, str], body: bytes | None, method: str) -> dict[str, str]:
        """Every header the request will carry, in the order they are sent."""
        headers = {
            "Host": self.authority,
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
            "Accept": "*/*",
            "Connection": "keep-alive",
        }
        headers.update(extra)
        if body is not None or method in ("PUT", "POST", "PATCH", "DELETE"):
            headers["Content-Length"] = str(len(body or b""))
        return headers

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Headers, bytes]:
        """Send one request (``headers`` from :meth:`headers_for`) and read its whole answer.

        Raises OSError (timeouts, refused connections, TLS failures) or ``http.client.HTTPException``.
        """
        conn = self._connection()
        try:
            conn.putrequest(method, self.prefix + path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)  # headers and body leave in one write
            response = conn.getresponse()
            content = response.read()
        except BaseException:
            self.close()
            raise
        answer = Headers()
        for name, value in response.getheaders():
            answer[name] = f"{answer[name]}, {value}" if name in answer else value
        if response.will_close:
            self.close()
        return response.status, answer, content

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and not self._usable(self._conn):
            self.close()
        if self._conn is None:
            if self.scheme == "https":
                if self._context is None:
                    self._context = _context(self.verify, self.cert)
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=self._context
                )
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.connect()
                sock = self._conn.sock
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                self.close()
                raise
        return self._conn

    @staticmethod
    def _usable(conn: http.client.HTTPConnection) -> bool:
        """An idle keep-alive connection the server has not closed (nothing may be waiting on it)."""
        sock: Any = conn.sock
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def describe_error(exc: BaseException) -> str:
    """The reason a request got no answer, without the URL (which the caller adds in its redacted form)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out ({type(exc).__name__}: {exc or 'no answer in time'})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        reason = getattr(exc, "reason", None) or str(exc)
        return f"TLS failure: {type(exc).__name__}: {reason} ({exc})"
    if isinstance(exc, http.client.HTTPException):
        return f"ConnectionError: {type(exc).__name__}: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"ConnectionError: name resolution failed: {exc}"
    if isinstance(exc, OSError):
        return f"ConnectionError: {type(exc).__name__}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
