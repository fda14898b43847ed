"""The values that pass between the HTTP server, the REST layer and the endpoints of the reference target.

:class:`Request` is one HTTP request as the target sees it and :class:`Response` one answer; :class:`EsError`
is an Elasticsearch exception, raised from anywhere below the REST layer and rendered by it
(:meth:`~pytest_connector_contract.reference.rest.RestLayer.error`). Values only: no routing, no rendering.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pytest_connector_contract.reference.security import Principal

__all__ = ["EsError", "Headers", "Request", "Response", "decode_component"]


@dataclass
class Response:
    """What the target answers. ``headers`` holds only what this response adds; base headers
    (Content-Type, X-elastic-product) are merged in by ``RestLayer.finish``.
    ``header_lists`` holds headers sent once per value, like the three ``WWW-Authenticate`` of a 401."""

    status: int
    headers: dict[str, str]
    body: bytes
    header_lists: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        """The decoded body (None when empty): a convenience for tests of the target itself."""
        return json.loads(self.body) if self.body else None


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookups, as HTTP requires.

    Given as pairs, a repeated header keeps every value: a lookup gives the first (``RestRequest.header``)
    and :meth:`get_all` all of them (``RestRequest.getAllHeaderValues``), which is what the REST layer
    needs to refuse a repeated ``Content-Type`` or ``X-Opaque-Id`` as Elasticsearch does."""

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        self._items: dict[str, tuple[str, str]] = {}
        self._all: dict[str, list[str]] = {}
        for name, value in items:
            self._items.setdefault(name.lower(), (name, value))
            self._all.setdefault(name.lower(), []).append(value)

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def get_all(self, key: str) -> list[str]:
        """Every value sent for ``key``, in order (empty when it was not sent)."""
        return list(self._all.get(key.lower(), ()))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def decode_component(text: str, *, plus_as_space: bool, lenient: bool = False) -> str:
    """``RestUtils.decodeComponent`` (server/src/main/java/org/elasticsearch/rest/RestUtils.java at
    ``02a21df0``): ``%XX`` escapes decoded as UTF-8, ``%%`` is one ``%``, and a ``+`` is a space only where
    ``plus_as_space`` says so: never in a path (``es.rest.url_plus_as_space`` defaults to false), always in a
    query string (``decodeQueryStringParam``). A malformed escape raises ValueError with Elasticsearch's
    message, or (``lenient``) leaves the text as it came."""
    if "%" not in text and not (plus_as_space and "+" in text):
        return text
    out = bytearray()
    i, size = 0, len(text)
    try:
        while i < size:
            char = text[i]
            if char == "+":
                out += b" " if plus_as_space else b"+"
            elif char == "%":
                if i == size - 1:
                    raise ValueError(f"unterminated escape sequence at end of string: {text}")
                i += 1
                if text[i] == "%":
                    out += b"%"
                    i += 1
                    continue
                if i == size - 1:
                    raise ValueError(f"partial escape sequence at end of string: {text}")
                pair = text[i : i + 2]
                if not all(c in "0123456789abcdefABCDEF" for c in pair):
                    raise ValueError(f"invalid escape sequence `%{pair}' at index {i - 1} of: {text}")
                out.append(int(pair, 16))
                i += 1
            else:
                out += char.encode("utf-8")
            i += 1
    except ValueError:
        if lenient:
            return text
        raise
    return out.decode("utf-8", "replace")


@dataclass(frozen=True)
class Request:
    """One HTTP request as the target sees it; ``path`` is the raw (still percent-encoded) path.

    ``principal`` is who it authenticated as (None while security is off); ``action`` is the
    Elasticsearch transport action of the matched route, which authorization checks."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Headers
    body: bytes
    principal: Principal | None = None
    action: str | None = None

    @property
    def uri(self) -> str:
        """Path plus query string, as Elasticsearch quotes it in ``no handler`` and 405 messages."""
        if not self.query:
            return self.path
        return f"{self.path}?{urlencode(self.query, doseq=True)}"

    @property
    def decoded_path(self) -> str:
        """``RestRequest.path()``: the path percent-decoded, a ``+`` kept (``RestUtils.decodeComponent``)."""
        return decode_component(self.path, plus_as_space=False, lenient=True)

    def param(self, name: str) -> str | None:
        """The last value given for a query parameter (Elasticsearch keeps the last one)."""
        values = self.query.get(name)
        return values[-1] if values else None


class EsError(Exception):
    """An Elasticsearch exception: rendered by ``RestLayer.error`` in the section-5 shape.

    Raised from deep inside parsing so that the pipeline stays linear; every error body still goes
    through ``RestLayer.error``, which is what mutants override.

    ``metadata`` (extra keys after ``reason``) and ``header`` (response headers, also echoed in the
    body under ``header``) are what security exceptions carry.
    """

    def __init__(
        self,
        status: int,
        type: str,
        reason: str | None,
        caused_by: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        header: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {type}: {reason}")
        self.status = status
        self.type = type
        self.reason = reason
        self.caused_by = caused_by
        self.metadata = dict(metadata or {})
        self.header = {name: list(values) for name, values in (header or {}).items()}
