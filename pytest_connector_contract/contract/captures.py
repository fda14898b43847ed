"""What the official Elasticsearch clients send for ``connector.update_status``: requests captured from the real,
pinned clients (``captures.json``, shipped in the package), never written by hand.

Each capture is one request of one client (``elasticsearch-py`` or ``elasticsearch-js``, one major) with one wire
option switched on (``default``, ``compression``, ``opaque-id``, ``error_trace``, ``filter_path``, ``human``,
``pretty``, or ``all`` of them at once), for an accepted or a refused transition of a connector in ``created``.
As stored:

- the connector id in the path is :data:`CONNECTOR_ID`, the ``Host`` value is :data:`HOST`;
- credentials are never stored (the capture's ``Authorization`` header is dropped: a replay applies the user's);
- version tokens in ``User-Agent`` and ``x-elastic-client-meta`` read :data:`VERSION` (:func:`blank_versions`), so
  a new upstream release changes nothing until someone refreshes the captures on purpose;
- headers keep the order and spelling the client sent; a body is text, or base64 when compressed.

``clients/capture.py`` in the source repository refreshes and re-checks them (see its docstring).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pytest_connector_contract.contract.encoding import decodes, inflate

__all__ = [
    "CONNECTOR_ID",
    "HOST",
    "VERSION",
    "VERSIONED_HEADERS",
    "Capture",
    "CapturedRequest",
    "blank_versions",
    "decoded_body",
    "load_captures",
]

#: the placeholder for the connector id in a captured path
CONNECTOR_ID = "{connector_id}"
#: the placeholder for the ``Host`` header's value
HOST = "{host}"
#: what a version token in a versioned header reads as stored
VERSION = "<version>"
#: the headers whose version tokens are blanked (lower case)
VERSIONED_HEADERS = frozenset({"user-agent", "x-elastic-client-meta"})
#: headers that do not change Elasticsearch's answer to a request (lower case): the client's identity, the
#: transport's framing, and the encodings the client can read (an answer is never required to be compressed)
_ANSWER_NEUTRAL_HEADERS = VERSIONED_HEADERS | {"host", "connection", "content-length", "accept-encoding"}
#: a release number with whatever a client appends to it: 9.1.0, 8.19.0p, 20.20.2, 6.8.0-1017-aws-x64, v20.20.2
_VERSION_TOKEN = re.compile(r"\bv?\d+(?:\.\d+)+(?:[-+._]?[0-9A-Za-z]+)*")


def blank_versions(name: str, value: str) -> str:
    """``value`` of header ``name`` with every version token replaced by :data:`VERSION` (other headers as given)."""
    if name.lower() not in VERSIONED_HEADERS:
        return value
    return _VERSION_TOKEN.sub(VERSION, value)


def decoded_body(body: bytes, content_encoding: str | None) -> bytes:
    """``body`` with its ``Content-Encoding`` (gzip, deflate: zlib-wrapped or raw) undone, as Elasticsearch does."""
    if content_encoding is None or content_encoding.strip().lower() in ("", "identity"):
        return body
    if not decodes(content_encoding):
        raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
    return inflate(body, content_encoding)


@dataclass(frozen=True)
class CapturedRequest:
    """One request as a client sent it (credentials dropped, placeholders in)."""

    method: str
    path: str
    #: the query string as sent (without ``?``), "" for none
    query: str
    #: (name, value) in the order and spelling sent
    headers: tuple[tuple[str, str], ...]
    #: the body's bytes as sent (compressed ones compressed), None when the request had none
    body: bytes | None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), None when it was not sent."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def target(self, connector_id: str) -> str:
        """The request target (path and query) for a connector named ``connector_id``."""
        path = self.path.replace(CONNECTOR_ID, connector_id)
        return f"{path}?{self.query}" if self.query else path

    @property
    def shape(self) -> tuple[Any, ...]:
        """What of the request can change Elasticsearch's answer: method, path, query, body (decoded) and every
        header but the client's identity, the transport's framing and ``Accept-Encoding`` (which only allows a
        compressed answer). Two clients that send the same shape get the same answer."""
        headers = sorted(
            (name.lower(), value) for name, value in self.headers if name.lower() not in _ANSWER_NEUTRAL_HEADERS
        )
        body = None if self.body is None else decoded_body(self.body, self.header("Content-Encoding"))
        return (self.method, self.path, self.query, tuple(headers), body)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, str] | None = None
        if self.body is not None:
            text = _as_text(self.body) if self.header("Content-Encoding") is None else None
            body = {"text": text} if text is not None else {"base64": base64.b64encode(self.body).decode("ascii")}
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [[name, value] for name, value in self.headers],
            "body": body,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CapturedRequest:
        body = data["body"]
        raw: bytes | None = None
        if body is not None:
            raw = body["text"].encode("utf-8") if "text" in body else base64.b64decode(body["base64"])
        return cls(
            method=data["method"],
            path=data["path"],
            query=data["query"],
            headers=tuple((name, value) for name, value in data["headers"]),
            body=raw,
        )


@dataclass(frozen=True)
class Capture:
    """One client's request with one option, for one case (``accepted`` or ``refused``)."""

    #: ``elasticsearch-py`` or ``elasticsearch-js``
    client: str
    #: the distribution it came from: ``elasticsearch``, ``elasticsearch8``, ``@elastic/elasticsearch``
    package: str
    major: int
    #: the pinned release it was captured from (informative: comparisons ignore it)
    version: str
    option: str
    #: ``accepted`` (created -> needs_configuration) or ``refused`` (created -> connected)
    case: str
    #: the status the request asks for
    status: str
    request: CapturedRequest

    @property
    def key(self) -> tuple[str, int, str, str]:
        """What names a capture among the others: a refresh replaces the capture with the same key."""
        return (self.client, self.major, self.option, self.case)

    @property
    def label(self) -> str:
        """``elasticsearch-py-9``: the client and its major, never its full version (ids survive upgrades)."""
        return f"{self.client}-{self.major}"

    @property
    def name(self) -> str:
        """``elasticsearch-py 9 compression accepted``: for ids and messages."""
        return f"{self.client} {self.major} {self.option} {self.case}"

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "package": self.package,
            "major": self.major,
            "version": self.version,
            "option": self.option,
            "case": self.case,
            "status": self.status,
            "request": self.request.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capture:
        return cls(
            client=data["client"],
            package=data["package"],
            major=data["major"],
            version=data["version"],
            option=data["option"],
            case=data["case"],
            status=data["status"],
            request=CapturedRequest.from_json(data["request"]),
        )


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@cache
def load_captures() -> tuple[Capture, ...]:
    """The packaged captures, in their stored order."""
    text = resources.files(__package__).joinpath("captures.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return tuple(Capture.from_json(entry) for entry in data["captures"])
