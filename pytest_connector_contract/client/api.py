"""HTTP client bound to one target: keep-alive requests, timeouts, and a redacted record of every exchange.

The record is the evidence a failing check shows (and what the benchmark replays); it never holds a
credential: the target URL is shown without user info and authentication headers are replaced.
"""

from __future__ import annotations

import base64
import email.utils
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from pytest_connector_contract.client.requestlog import RequestLog
from pytest_connector_contract.client.transport import Headers, Transport, describe_error
from pytest_connector_contract.config.credentials import REDACTED, URL_USER_INFO, Secret, redact_url
from pytest_connector_contract.config.settings import Access, Settings
from pytest_connector_contract.contract.encoding import BodyUndecodable, decodes, inflate

__all__ = [
    "ApiResponse",
    "ConnectorClient",
    "Exchange",
    "RateLimiter",
    "Redactor",
    "RunStopped",
    "TargetUnreachable",
    "client_for",
    "parse_retry_after",
    "run_limiter",
    "untolerated_warnings",
]

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "es-secondary-authorization"}
)
_UNSET: Any = object()
#: what an evidence record keeps of a body; bodies the suite handles are far smaller
_EVIDENCE_BODY_LIMIT = 4096


#: answers after which a setup or teardown request is tried again (never the request under test)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: seconds to wait before each retry of a setup or teardown request
RETRY_DELAYS = (0.25, 1.0, 3.0)
#: answers whose ``Retry-After`` header a retry honours (waiting at most the rest of the request's timeout)
RETRY_AFTER_STATUSES = frozenset({429, 503})


class TargetUnreachable(Exception):
    """The target did not answer at all (connection refused, DNS, TLS, timeout)."""


class RunStopped(TargetUnreachable):
    """The run is stopping (``-x``, ``--maxfail``, Ctrl-C): the client's stop flag is set, so the request
    was not sent. Never retried; what the check created is left to the run's final clean-up."""

    #: whether an earlier attempt of the same (retried) request was sent: then it may still take effect
    sent_before: bool = False


class Redactor:
    """Replaces every known secret in a text by :data:`REDACTED` and removes the user info of every URL in
    it; the last line of defence for output. ``secrets`` are the forms to replace (``Settings.secrets()``:
    each credential as is, JSON-escaped, URL-encoded and base64-encoded as headers carry it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({*self.secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return URL_USER_INFO.sub(r"\1", text) if "://" in text else text

    def body(self, content: bytes) -> bytes:
        """A body with every secret redacted: in its bytes, and, for a JSON body, in every string it decodes
        to (which catches a secret that was JSON-escaped once more when the target echoed it)."""
        if not self.secrets and b"://" not in content:
            return content
        text = content.decode("utf-8", "surrogateescape")
        redacted = self(text)
        if self.secrets and "\\" in redacted:
            try:
                decoded = json.loads(redacted)
            except ValueError:
                pass
            else:
                cleaned = self.strings(decoded)
                if cleaned != decoded:
                    redacted = json.dumps(cleaned, ensure_ascii=False)
        return content if redacted == text else redacted.encode("utf-8", "surrogateescape")

    def strings(self, value: Any) -> Any:
        """``value`` (decoded JSON: dicts, lists, strings and the rest) with every string in it redacted, the
        keys included; each string on its own, so nothing is matched across the structure."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.strings(item) for item in value]
        if isinstance(value, dict):
            return {self(key): self.strings(item) for key, item in value.items()}
        return value


class RateLimiter:
    """Schedules request starts ``1 / rate`` seconds apart (thread-safe).

    The schedule, not the last actual start, sets the next slot: a late wake-up is not made up for by
    going faster later than the rate, and over any window the run sends at most ``rate * window + 1``.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


def run_limiter(
    settings: Settings,
    rate_share: int = 1,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RateLimiter:
    """The one limiter of a process, which every client of the process shares: ``--connector-max-rps``
    is the whole run's rate, so each of ``rate_share`` processes (the xdist workers) gets its share."""
    rate = settings.max_rps / max(rate_share, 1) if settings.max_rps else None
    return RateLimiter(rate, clock=clock, sleep=sleep)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delay-seconds, or an HTTP-date (``now``: the wall
    clock's time). None when there is no header or it is neither; a date in the past is 0."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


@dataclass
class Exchange:
    """One request and its answer, as far as it got, safe to show."""

    method: str
    path: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    error: str | None = None
    elapsed_ms: float | None = None
    #: the body's exact bytes, where ``request_body`` shows them decoded (a compressed body)
    request_bytes: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "headers": self.request_headers,
            "body": self.request_body,
        }
        if self.request_bytes is not None:
            request["body_base64"] = base64.b64encode(self.request_bytes).decode("ascii")
        return {
            "request": request,
            "response": None
            if self.status is None
            else {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "error": self.error,
            "elapsed_ms": self.elapsed_ms,
        }


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _decoded(body: bytes, content_encoding: str) -> bytes:
    """A body in ``content_encoding`` decoded, or as it came when it is not in one Elasticsearch decodes (or does
    not decode: then what the target makes of it is the evidence)."""
    if not decodes(content_encoding):
        return body
    try:
        return inflate(body, content_encoding)
    except BodyUndecodable:
        return body


def untolerated_warnings(value: str | None, status: int) -> list[str]:
    """The warnings of a ``Warning`` header (RFC 7234 form) an official client would raise on, which no
    conformant answer to a ``_status`` request carries (facts sheet, section 9): all but a license warning (a
    cluster whose license is about to expire adds one to any answer) and, on an error answer, a deprecation one
    (299, the code of every warning Elasticsearch writes). A value not in the RFC's form is one warning."""
    if not value:
        return []
    found = [(code, text) for code, _, text in _WARNING.findall(value)] or [("", value)]
    return [text for code, text in found if "license" not in text.lower() and not (status >= 400 and code == "299")]


#: one warning of a ``Warning`` header: code, agent, quoted text
_WARNING = re.compile(r'(\d{3}) (\S+) "((?:[^"\\]|\\.)*)"')


def _accepted_encodings(headers: Headers) -> set[str]:
    """The codings a request's ``Accept-Encoding`` names (lower case, weights dropped)."""
    return {part.split(";")[0].strip().lower() for part in (headers.get("Accept-Encoding") or "").split(",")}


def _text(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:_EVIDENCE_BODY_LIMIT].decode("utf-8", errors="replace")
    return text + "..." if len(body) > _EVIDENCE_BODY_LIMIT else text


class ApiResponse:
    """An answer of the target with lazy, tolerant JSON access."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        #: how many times the request was sent (more than 1 only for retried setup/teardown requests)
        self.attempts = 1
        self.headers = Headers(headers)
        self.body = body

    @cached_property
    def json(self) -> Any:
        """The decoded body, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def error(self) -> Any:
        data = self.json
        return data.get("error") if isinstance(data, dict) else None

    @property
    def error_type(self) -> str | None:
        error = self.error
        return error.get("type") if isinstance(error, dict) else None

    @property
    def error_reason(self) -> str | None:
        error = self.error
        return error.get("reason") if isinstance(error, dict) else None

    @property
    def root_cause(self) -> dict[str, Any] | None:
        """``error.root_cause[0]``, when the answer has one."""
        error = self.error
        causes = error.get("root_cause") if isinstance(error, dict) else None
        if isinstance(causes, list) and causes and isinstance(causes[0], dict):
            return causes[0]
        return None

    @property
    def root_cause_type(self) -> str | None:
        root = self.root_cause
        return root.get("type") if root is not None else None

    def summary(self) -> str:
        """A short description for messages: ``HTTP 400 status_exception: <reason>``."""
        parts = [f"HTTP {self.status}"]
        error = self.error
        if isinstance(error, dict):
            parts.append(str(error.get("type")))
            if error.get("reason"):
                parts[-1] += f": {error['reason']}"
        elif isinstance(error, str):
            parts.append(repr(error))
        elif isinstance(self.json, dict) and "result" in self.json:
            parts.append(f"result={self.json['result']!r}")
        elif self.json is None and self.body:
            parts.append(f"non-JSON body {_text(self.body[:120])!r}")
        return " ".join(parts)


class ConnectorClient:
    """Speaks to one target over its own keep-alive connection (its own ``requests.Session``).

    ``exchanges`` keeps a redacted record of requests since the last ``start_recording()``; the plugin
    resets it for every check so each check's evidence is its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        authorization: Secret | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        max_rps: float | None = None,
        limiter: RateLimiter | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        redactor: Redactor | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``limiter`` is the rate limit shared with other clients (the run's); without one the client has
        its own of ``max_rps``. ``proxy`` overrides the environment's proxies; ``trust_env=False`` reads no
        proxy and no CA bundle from the environment (see :class:`Transport`). ``clock``, ``sleep`` and
        ``wall_clock`` (which an HTTP-date in ``Retry-After`` is read against) are injectable for tests."""
        self.base_url = base_url.rstrip("/")
        self.display_url = redact_url(self.base_url)
        self.timeout = timeout
        # Keep-alive connections to the target, through the proxy the options or the environment name;
        # never ~/.netrc credentials, cookies or redirects.
        self.transport = transport or Transport(
            self.base_url, timeout=timeout, verify=verify, cert=cert, proxy=proxy, trust_env=trust_env
        )
        self._authorization = authorization
        self.authenticated = authorization is not None
        self.redact = redactor or Redactor()
        #: how the client waits: between retries and for the rate limit (tests inject a recorded one)
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self.redact.add(self.transport.proxy_secrets())
        self.limiter = limiter if limiter is not None else RateLimiter(max_rps, clock=clock, sleep=sleep)
        self.exchanges: list[Exchange] = []
        #: how many requests this client has sent
        self.request_count = 0
        #: where every request is logged (``--connector-request-log``), and the check they are logged for
        self.request_log: RequestLog | None = None
        self.label: str | None = None
        #: once set, every request raises :class:`RunStopped` instead of being sent (a check running ahead
        #: of its turn, stopped when the run stops)
        self.stop: threading.Event | None = None

    def close(self) -> None:
        self.transport.close()
        if self.request_log is not None:
            self.request_log.close()

    def start_recording(self, label: str | None = None) -> None:
        """Start a new evidence record; ``label`` (a check id) names the requests in the request log from now
        on (without one, the label stays: a check that restarts its record mid-way still names its requests)."""
        self.exchanges = []
        if label is not None:
            self.label = label

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _UNSET,
        raw_body: str | bytes | None = None,
        content_type: str | None = _UNSET,
        accept: str | None = None,
        params: Mapping[str, str] | None = None,
        retry: bool = False,
        paced: bool = True,
    ) -> ApiResponse:
        """Send one request; ``json_body`` is serialised exactly, ``raw_body`` is sent as given.

        ``content_type`` defaults to ``application/json`` when there is a body; pass None to send none.
        ``retry`` (setup and teardown only) tries again after connection errors and 429/502/503/504
        with backoff; the request under test is never retried, so no check can pass on a second try.
        A 429 or 503 with ``Retry-After`` is tried again after the wait it asks for (at least the backoff),
        but never later than the client's timeout after the first attempt: a wait beyond that is cut
        short, and once the timeout has passed the answer is the last one. ``paced=False``: the caller
        has already waited on :attr:`limiter` for this request (the racing requests, which leave together).
        """
        attempts = len(RETRY_DELAYS) + 1 if retry else 1
        first = self._clock()
        for attempt in range(attempts):
            last = attempt == attempts - 1
            delay = RETRY_DELAYS[attempt] if not last else 0.0
            try:
                answer = self._send_once(method, path, json_body, raw_body, content_type, accept, params, paced)
            except RunStopped as exc:
                exc.sent_before = attempt > 0
                raise
            except TargetUnreachable:
                if last:
                    raise
            else:
                answer.attempts = attempt + 1
                if last or answer.status not in RETRY_STATUSES:
                    return answer
                asked = (
                    parse_retry_after(answer.headers.get("Retry-After"), now=self._wall_clock())
                    if answer.status in RETRY_AFTER_STATUSES
                    else None
                )
                if asked is not None:
                    remaining = self.timeout - (self._clock() - first)
                    if remaining <= 0:
                        return answer  # the target asks for a wait the timeout has no room left for
                    delay = min(max(asked, delay), remaining)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        path: str,
        json_body: Any,
        raw_body: str | bytes | None,
        content_type: str | None,
        accept: str | None,
        params: Mapping[str, str] | None,
        paced: bool = True,
    ) -> ApiResponse:
        body: bytes | None
        if json_body is not _UNSET:
            body = json.dumps(json_body, separators=(",", ":")).encode()
        elif raw_body is not None:
            body = raw_body.encode() if isinstance(raw_body, str) else raw_body
        else:
            body = None
        headers: dict[str, str] = {}
        if content_type is _UNSET:
            content_type = "application/json" if body else None
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        if self._authorization is not None:
            headers["Authorization"] = self._authorization.reveal()
        full_path = path + (f"?{urlencode(params)}" if params else "")
        sent_headers = self.transport.headers_for(headers, body, method)
        return self.exchange(
            method,
            full_path,
            sent_headers,
            body,
            lambda: self.transport.send(method, full_path, sent_headers, body),
            paced=paced,
            logged=headers,
        )

    def send_prepared(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> ApiResponse:
        """Send a request with exactly ``headers``, in order, and the client's own credentials after them (a
        replayed client request, see client/replay.py); never retried, recorded as any other."""
        sent = dict(headers)
        if self._authorization is not None:
            sent["Authorization"] = self._authorization.reveal()
        return self.exchange(
            method, target, sent, body, lambda: self.transport.send(method, target, sent, body), logged=Headers(headers)
        )

    def exchange(
        self,
        method: str,
        full_path: str,
        sent_headers: Mapping[str, str],
        body: bytes | None,
        send: Callable[[], tuple[int, Mapping[str, str], bytes]],
        *,
        paced: bool = True,
        logged: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """One request sent by ``send`` (which returns the answer's status, headers and body, or raises
        OSError), seen as every request of the client is: the stop flag, the evidence record, the rate limit,
        the request log and redaction. ``sent_headers`` are the request's headers as sent; ``logged`` the
        ones the request log names (its Content-Type and Accept; default: ``sent_headers``). Another HTTP
        stack (the official client's) sends through it too, so that its requests count like the suite's.
        A body in a ``Content-Encoding`` is shown decoded, its exact bytes kept beside (``body_base64``); an
        answer in an encoding the request accepts is decoded before it is read."""
        logged = sent_headers if logged is None else logged
        self._unless_stopped(method, full_path)
        sent = Headers(sent_headers)
        encoding = sent.get("Content-Encoding")
        exchange = Exchange(
            method=method,
            path=full_path,
            request_headers=_safe_headers(sent_headers),
            request_body=self._shown(body if encoding is None or body is None else _decoded(body, encoding)),
            request_bytes=None if encoding is None else body,
        )
        self.exchanges.append(exchange)
        self.request_count += 1
        if paced:
            self.limiter.wait()
            self._unless_stopped(method, full_path)  # the run may have stopped while this request waited
        started, clock = time.time(), time.perf_counter()
        try:
            status, raw_headers, content = send()
        except OSError as exc:
            exchange.error = self.redact(describe_error(exc, proxy=self.transport.proxy))
            self._log(method, full_path, logged, body, None, exchange.error, started, clock)
            raise TargetUnreachable(f"{method} {self.display_url}{full_path}: {exchange.error}") from None
        elapsed_ms = round((time.perf_counter() - clock) * 1000, 3)
        self._log(method, full_path, logged, body, status, None, started, clock)
        answered_in = raw_headers.get("Content-Encoding")
        if answered_in is not None and answered_in.strip().lower() in _accepted_encodings(sent):
            content = _decoded(content, answered_in)
        # A target that echoes a credential back must not carry it into any message or report: the
        # body is redacted before anything reads it (a conformant server never echoes one).
        content = self.redact.body(content)
        headers = {k: self.redact(v) for k, v in raw_headers.items()}
        response = ApiResponse(status, headers, content)
        exchange.status = status
        exchange.response_headers = _safe_headers(headers)
        exchange.response_body = _text(content)
        exchange.elapsed_ms = elapsed_ms
        return response

    def _unless_stopped(self, method: str, full_path: str) -> None:
        if self.stop is not None and self.stop.is_set():
            raise RunStopped(f"{method} {self.display_url}{full_path}: not sent, the run is stopping")

    def _log(
        self,
        method: str,
        full_path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        status: int | None,
        error: str | None,
        started: float,
        clock: float,
    ) -> None:
        if self.request_log is None:
            return
        elapsed_ms = (time.perf_counter() - clock) * 1000
        if body is not None and self.redact.secrets:
            body = self.redact(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        path, _, query = full_path.partition("?")
        self.request_log.write(
            check=self.label,
            method=method,
            path=self.redact(path),
            query=self.redact(query),
            content_type=headers.get("Content-Type"),
            accept=headers.get("Accept"),
            body=body,
            status=status,
            error=error,
            start=started,
            elapsed_ms=elapsed_ms,
        )

    def _shown(self, body: bytes | None) -> str | None:
        text = _text(body)
        return None if text is None else self.redact(text)

    # The endpoints the suite drives. Ids are path-escaped: a test never reaches another route by accident.
    def get_connector(self, connector_id: str, *, retry: bool = False) -> ApiResponse:
        return self.request("GET", f"/_connector/{quote(connector_id, safe='')}", retry=retry)

    def put_connector(self, connector_id: str, body: Mapping[str, Any], *, retry: bool = False) -> ApiResponse:
        return self.request("PUT", f"/_connector/{quote(connector_id, safe='')}", json_body=dict(body), retry=retry)

    def delete_connector(self, connector_id: str, *, hard: bool = False, retry: bool = False) -> ApiResponse:
        return self.request(
            "DELETE",
            f"/_connector/{quote(connector_id, safe='')}",
            params={"hard": "true"} if hard else None,
            retry=retry,
        )

    def status_path(self, connector_id: str) -> str:
        return f"/_connector/{quote(connector_id, safe='')}/_status"

    def update_status(self, connector_id: str, status: Any, *, retry: bool = False, paced: bool = True) -> ApiResponse:
        return self.request(
            "PUT", self.status_path(connector_id), json_body={"status": status}, retry=retry, paced=paced
        )

    def update_error(self, connector_id: str, error: str | None, *, retry: bool = False) -> ApiResponse:
        """``PUT _connector/<id>/_error``: a setup step only (it gives a connector an error text)."""
        path = f"/_connector/{quote(connector_id, safe='')}/_error"
        return self.request("PUT", path, json_body={"error": error}, retry=retry)


def client_for(
    settings: Settings,
    url: str,
    *,
    access: Access | None = None,
    rate_share: int = 1,
    worker: str | None = None,
    authorization: Secret | None = None,
    limiter: RateLimiter | None = None,
) -> ConnectorClient:
    """A client for ``url`` with the credentials, TLS settings and proxy of ``access`` (the target's by default;
    ``authorization`` instead of its credentials), and the run's rate limit, redaction and request log
    (``worker``: the xdist worker id the log names).

    ``limiter`` is the process's limiter (:func:`run_limiter`), shared by all its clients; without one
    the client gets a limiter of its own, of the process's share (``rate_share``) of the run's rate."""
    access = settings.target if access is None else access
    # The embedded target runs in this process on loopback: no proxy, whatever the environment says.
    client = ConnectorClient(
        url,
        timeout=settings.timeout,
        authorization=authorization or access.credentials.authorization(),
        verify=access.verify,
        cert=access.cert,
        proxy=None if access.embedded else access.proxy,
        trust_env=not access.embedded,
        limiter=limiter if limiter is not None else run_limiter(settings, rate_share),
        redactor=Redactor(settings.secrets()),
    )
    if settings.request_log is not None:
        client.request_log = RequestLog(settings.request_log, worker=worker)
    return client
