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
from urllib.parse import unquote_plus, urlencode

from pytest_connector_contract.reference.security import Principal

__all__ = ["EsError", "Headers", "Request", "Response"]


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
    """Request headers with case-insensitive lookups, as HTTP requires."""

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        self._items: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in items}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


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
        return unquote_plus(self.path)

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
