"""The HTTP transport of the client: a ``requests.Session`` bound to one target (keep-alive, one small pool).

What the suite needs from it, and what requests would otherwise do on its own:

- **The bytes the suite means to send.** The session has no default headers; every request carries exactly
  the headers of :meth:`Transport.headers_for` (so a body sent without a ``Content-Type`` goes without one),
  its body as the bytes given (a truncated body keeps its true ``Content-Length``), and its path as given.
- **No retries and no redirects.** The adapter retries nothing (``Retry(total=0)``) and redirects are
  never followed: retrying setup requests is the client's decision, and the request under test is never
  retried.
- **One timeout** for connecting and for reading.
- **Proxies as every requests user expects**: the cluster's own proxy (``--connector-proxy``, or
  ``--connector-reference-proxy`` for the reference cluster) for both http and https targets, or else
  ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` unless ``NO_PROXY`` names the target. https targets go
  through a ``CONNECT`` tunnel. A failure at the proxy says so and names the proxy, without its credentials.
- **TLS**: a CA file (``--connector-ca-certs``), or else ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, or
  else certifi's bundle; no verification when asked; a client certificate.
- **Never** ``~/.netrc`` credentials and never cookies: the session does not trust the environment
  (``trust_env = False``); the proxy and CA settings above are read from it here instead, once per client.
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
from collections.abc import Iterator, Mapping, MutableMapping
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pytest_connector_contract import __version__
from pytest_connector_contract.config.credentials import redact_url, url_secrets

if TYPE_CHECKING:
    import requests

__all__ = ["POOL_SIZE", "USER_AGENT", "Headers", "ProxyRefused", "Transport", "describe_error"]

USER_AGENT = f"pytest-connector-contract/{__version__}"
#: connections a client's pool keeps open. Every client has its own session, and each thread of the run
#: (the racing clients included) its own client, so one would do; the spare ones cover a client that is
#: ever shared by a few threads without a "pool is full" warning.
POOL_SIZE = 4
#: headers the HTTP stack (http.client, urllib3) would add to a request that lacks them: a request is sent with
#: exactly the headers given
_STACK_DEFAULTS = ("Accept-Encoding", "User-Agent")
#: the environment variables of the CA bundle, in requests' order; used when no CA file is given
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


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


class ProxyRefused(OSError):
    """The proxy answered a plain-HTTP request itself with 407: it wants (other) proxy credentials."""


def proxy_for(url: str, proxy: str | None = None, *, trust_env: bool = True) -> str | None:
    """The proxy a request to ``url`` goes through: ``proxy`` when given, else the environment's for the
    URL's scheme (``NO_PROXY`` honoured), else none. Returned with a scheme (``http://`` by default)."""
    if proxy is None and trust_env:
        from requests.utils import get_environ_proxies, select_proxy

        proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def ca_bundle(verify: bool | str, *, trust_env: bool = True) -> bool | str:
    """What to verify the target's certificate with: the CA file given, or else (when verifying) the
    environment's ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, as requests does, or else certifi's bundle."""
    if verify is True and trust_env:
        for name in CA_BUNDLE_VARIABLES:
            if os.environ.get(name):
                return os.environ[name]
    return verify


@functools.cache
def _session_class() -> type[requests.Session]:
    import requests

    class Session(requests.Session):
        """Sees no redirect in any answer: a 3xx is the answer, its body unread by requests."""

        def get_redirect_target(self, resp: requests.Response) -> None:
            return None

    return Session


def _session(pool_size: int) -> requests.Session:
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = _session_class()()
    session.trust_env = False  # no ~/.netrc; proxies and CA bundle are resolved by the Transport
    session.headers.clear()  # no User-Agent, Accept, Accept-Encoding or Connection of requests' own
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # accepts no cookie, so sends none
    # Nothing is sent twice: not after a failed connect, a dropped connection or a read timeout (read=False
    # raises the read error itself), nor on a status or a redirect.
    retries = Retry(total=0, connect=0, read=False, redirect=0, status=0, raise_on_status=False)
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retries)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Transport:
    """One origin (``http(s)://host:port[/prefix]``) over one ``requests.Session``, connections kept alive."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        pool_size: int = POOL_SIZE,
    ) -> None:
        """``proxy`` (``--connector-proxy``) overrides the environment's proxies; ``trust_env=False`` reads
        neither proxies nor a CA bundle from the environment (the embedded target is in this process)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {redact_url(base_url)!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.verify = ca_bundle(verify, trust_env=trust_env)
        self.cert = cert
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = (self.scheme == "https" and self.port == 443) or (self.scheme == "http" and self.port == 80)
        #: the Host header
        self.authority = host if default_port else f"{host}:{self.port}"
        #: scheme, host and port: never user info, which requests would turn into an Authorization header
        self.origin = f"{self.scheme}://{self.authority}"
        #: the proxy every request goes through (None: straight to the target), and its form safe to show
        self.proxy = proxy_for(self.origin + self.prefix + "/", proxy, trust_env=trust_env)
        self.proxy_display = None if self.proxy is None else redact_url(self.proxy)
        self._proxies = {} if self.proxy is None else {"http": self.proxy, "https": self.proxy}
        self._session: requests.Session | None = None
        self._pool_size = pool_size

    def proxy_secrets(self) -> list[str]:
        """The proxy's credentials in every form they could take in text (for redaction)."""
        return url_secrets(self.proxy or "")

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
        """Send one request (``headers`` from :meth:`headers_for`, or a replayed client's: exactly those are
        sent) and read its whole answer, as received (not decompressed).

        Raises OSError: ``requests.RequestException`` (timeouts, refused connections, TLS and proxy
        failures, all of them OSError) or :class:`ProxyRefused`.
        """
        import requests
        from requests.structures import CaseInsensitiveDict
        from urllib3.exceptions import HTTPError
        from urllib3.util import SKIP_HEADER

        if self._session is None:
            self._session = _session(self._pool_size)
        request = requests.PreparedRequest()
        # Built by hand, not prepare()d: the URL is sent as given (requests would re-quote it) and the
        # headers are exactly these (requests adds only what urllib3 needs to frame the body, which
        # Content-Length here already does).
        request.method = method
        request.url = self.origin + self.prefix + path
        request.headers = CaseInsensitiveDict(headers)
        for name in _STACK_DEFAULTS:
            if name not in request.headers:
                request.headers[name] = SKIP_HEADER  # urllib3's way of sending none where it would add its own
        request.body = body
        request.hooks = {"response": []}
        response = self._session.send(
            request,
            stream=True,
            timeout=self.timeout,
            verify=self.verify,
            cert=self.cert,
            proxies=self._proxies,
            allow_redirects=False,
        )
        try:
            content = response.raw.read(decode_content=False)
        except (HTTPError, http.client.HTTPException) as exc:  # the answer broke off: one kind of error for all
            response.close()
            raise requests.ConnectionError(exc, request=request) from exc
        except BaseException:
            response.close()
            raise
        response.raw.release_conn()
        if response.status_code == 407 and self.proxy is not None and self.scheme == "http":
            raise ProxyRefused(f"HTTP 407 {response.reason or 'Proxy Authentication Required'}")
        answer = Headers()
        raw_headers = response.raw.headers
        for name in raw_headers:  # each name once, as the target spelt it first
            answer[name] = raw_headers[name]  # repeated headers joined with ", "
        return response.status_code, answer, content

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, outermost first: requests' exception, urllib3's MaxRetryError and its
    reason, and the OSError underneath."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        wrapped = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        todo.extend([*wrapped, reason if isinstance(reason, BaseException) else None])
        todo.extend([current.__cause__, current.__context__])
    return seen


def _is_proxy_failure(causes: list[BaseException]) -> bool:
    from requests.exceptions import ProxyError
    from urllib3.exceptions import ProxyError as Urllib3ProxyError

    return any(isinstance(c, ProxyError | Urllib3ProxyError | ProxyRefused) for c in causes)


def _reason(causes: list[BaseException]) -> str:
    """What went wrong, from the innermost error (the system's, not the libraries' summaries of it)."""
    libraries = ("requests", "urllib3")
    leaf = next((c for c in reversed(causes) if not type(c).__module__.startswith(libraries)), causes[-1])
    if isinstance(leaf, ProxyRefused):
        return f"the proxy refused the request: {leaf}"
    if isinstance(leaf, TimeoutError | socket.timeout):
        return f"timed out ({type(leaf).__name__}: {leaf or 'no answer in time'})"
    if isinstance(leaf, ssl.SSLError | ssl.CertificateError):
        reason = getattr(leaf, "reason", None) or str(leaf)
        return f"TLS failure: {type(leaf).__name__}: {reason} ({leaf})"
    if isinstance(leaf, socket.gaierror):
        return f"ConnectionError: name resolution failed: {leaf}"
    if isinstance(leaf, http.client.HTTPException):
        return f"ConnectionError: {type(leaf).__name__}: {leaf}"
    if isinstance(leaf, OSError) and str(leaf).startswith("Tunnel connection failed: "):
        # urllib3's words for a CONNECT the proxy answered with anything but 200
        return f"the proxy did not open a tunnel to the target: it answered {str(leaf).partition(': ')[2]}"
    if isinstance(leaf, OSError):
        return f"ConnectionError: {type(leaf).__name__}: {leaf.strerror or leaf}"
    return f"{type(leaf).__name__}: {leaf}"


def describe_error(exc: BaseException, *, proxy: str | None = None) -> str:
    """The reason a request got no answer, without the URL (which the caller adds in its redacted form).

    ``proxy`` is the proxy the request went through: a failure to reach it, or one it reported (refused
    credentials, no tunnel to the target), says so and names it, without its credentials.
    """
    causes = _causes(exc)
    reason = _reason(causes)
    if proxy is None or not _is_proxy_failure(causes):
        return reason
    where = f"through the proxy {redact_url(proxy)}"
    if reason.startswith("the proxy"):
        return f"{where}: {reason}"
    return f"{where}: the proxy could not be reached: {reason}"
