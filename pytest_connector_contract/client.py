"""HTTP client bound to one target: one keep-alive session, timeouts, and a redacted record of every exchange.

The record is the evidence a failing check shows (and what the benchmark replays); it never holds a
credential: the target URL is shown without user info and authentication headers are replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import requests
from requests.structures import CaseInsensitiveDict

from .settings import redact_url

__all__ = ["ApiResponse", "ConnectorClient", "Exchange", "TargetUnreachable"]

REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "es-secondary-authorization"}
)
_UNSET: Any = object()
#: what an evidence record keeps of a body; bodies the suite handles are far smaller
_EVIDENCE_BODY_LIMIT = 4096


class TargetUnreachable(Exception):
    """The target did not answer at all (connection refused, DNS, TLS, timeout)."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.method,
                "path": self.path,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": None
            if self.status is None
            else {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "error": self.error,
            "elapsed_ms": self.elapsed_ms,
        }


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _text(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:_EVIDENCE_BODY_LIMIT].decode("utf-8", errors="replace")
    return text + "..." if len(body) > _EVIDENCE_BODY_LIMIT else text


class ApiResponse:
    """An answer of the target with lazy, tolerant JSON access."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(headers)
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
    def root_cause_type(self) -> str | None:
        error = self.error
        if not isinstance(error, dict):
            return None
        causes = error.get("root_cause")
        if isinstance(causes, list) and causes and isinstance(causes[0], dict):
            return causes[0].get("type")
        return None

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
    """Speaks to one target over a single keep-alive session.

    ``exchanges`` keeps a redacted record of requests since the last ``start_recording()``; the plugin
    resets it for every check so each check's evidence is its own.
    """

    def __init__(self, base_url: str, *, timeout: float, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.display_url = redact_url(self.base_url)
        self.timeout = timeout
        self.session = session or requests.Session()
        # requests would otherwise read ~/.netrc and proxy variables; a conformance run talks to the
        # target it was given and nothing else.
        self.session.trust_env = False
        self.exchanges: list[Exchange] = []
        #: every exchange of the process, in order (for the benchmark's request log)
        self.request_count = 0

    def close(self) -> None:
        self.session.close()

    def start_recording(self) -> None:
        self.exchanges = []

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
    ) -> ApiResponse:
        """Send one request; ``json_body`` is serialised exactly, ``raw_body`` is sent as given.

        ``content_type`` defaults to ``application/json`` when there is a body; pass None to send none.
        """
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
        full_path = path + (f"?{urlencode(params)}" if params else "")
        prepared = self.session.prepare_request(
            requests.Request(method, self.base_url + full_path, data=body, headers=headers)
        )
        exchange = Exchange(
            method=method,
            path=full_path,
            request_headers=_safe_headers(prepared.headers),
            request_body=_text(body),
        )
        self.exchanges.append(exchange)
        self.request_count += 1
        try:
            raw = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            exchange.error = _describe(exc)
            raise TargetUnreachable(f"{method} {self.display_url}{full_path}: {exchange.error}") from None
        response = ApiResponse(raw.status_code, raw.headers, raw.content)
        exchange.status = raw.status_code
        exchange.response_headers = _safe_headers(raw.headers)
        exchange.response_body = _text(raw.content)
        exchange.elapsed_ms = round(raw.elapsed.total_seconds() * 1000, 3)
        return response

    # The endpoints the suite drives. Ids are path-escaped: a test never reaches another route by accident.
    def get_connector(self, connector_id: str) -> ApiResponse:
        return self.request("GET", f"/_connector/{quote(connector_id, safe='')}")

    def put_connector(self, connector_id: str, body: Mapping[str, Any]) -> ApiResponse:
        return self.request("PUT", f"/_connector/{quote(connector_id, safe='')}", json_body=dict(body))

    def delete_connector(self, connector_id: str, *, hard: bool = False) -> ApiResponse:
        return self.request(
            "DELETE", f"/_connector/{quote(connector_id, safe='')}", params={"hard": "true"} if hard else None
        )

    def status_path(self, connector_id: str) -> str:
        return f"/_connector/{quote(connector_id, safe='')}/_status"

    def update_status(self, connector_id: str, status: Any) -> ApiResponse:
        return self.request("PUT", self.status_path(connector_id), json_body={"status": status})


def _describe(exc: requests.RequestException) -> str:
    """The OS-level reason, without the URL (which the caller adds in its redacted form)."""
    reason: BaseException = exc
    while reason.__context__ is not None or reason.__cause__ is not None:
        nxt = reason.__cause__ or reason.__context__
        assert nxt is not None
        reason = nxt
    if isinstance(exc, requests.Timeout):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS failure: {reason}"
    text = str(reason) or type(reason).__name__
    return f"{type(exc).__name__}: {text}"
