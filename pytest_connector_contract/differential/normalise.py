"""What of an exchange is compared between two runs of a check, and the rules that normalise it first.

A *step* is one request and what a client reads of its answer: the HTTP status; the headers the clients read
(the media type of ``Content-Type``, ``X-Elastic-Product``, ``Allow``); for an error, ``error.type`` with its
reason, the ``root_cause`` types with theirs, the ``caused_by`` type and the top-level ``status``; for a connector
read back, every field; any other JSON body whole (the result word of an update, a create's answer).

Before comparing, what differs between any two runs is normalised (each rule with its source):
- connector ids, and the index names made of them, become ``<connector-1>``, ``<connector-2>``... in the order
  a check first uses them (derived: each run creates its own connectors; the suite's ids are
  ``<run prefix>[-<worker>]-<n>`` and each connector's index name is its id, contract/ids.py);
- ISO-8601 timestamps become ``<timestamp>`` (derived: a connector's ``filtering`` carries the creation time);
- ``[line:col]`` prefixes of parser reasons are removed, and the reason of a parser's own exception
  (``x_content_e_o_f_exception``, ``json_parse_exception``, and ``x_content_parse_exception`` caused by
  ``json_parse_exception``) is not compared: the facts sheet (docs es-connector-status-api.md, sections 4 and 8)
  says never to assert ``[line:col]`` prefixes or parser (Jackson) wording; every other reason it quotes is stable;
- a connector read back is compared field by field as it changed since the check's first read of it, and whole
  only between runs of the same release: the defaults a release creates connectors with are not part of the
  ``_status`` API (derived: a new connector's ``pipeline.name`` is ``ent-search-generic-ingestion`` before
  8.15 and ``search-default-ingestion`` from 8.15, and ``deleted`` exists from 9.0, as the reference target
  models Elasticsearch's ``createConnectorWithDefaultValues`` in reference/endpoints.py ``new_document``);
- ``Content-Type`` is compared as its media type (derived: the clients and the suite check only that), and
  ``Allow`` as its set of methods (derived: the suite reads it as a list, kinds.py and run.py);
- what the client checks require besides (checks/client_wire.py), only where it applies: whether a request's
  ``X-Opaque-Id`` is echoed, whether an answer carries a ``Warning`` the clients raise (a license warning, and a
  deprecation one on an error, tolerated: facts sheet, section 9), and whether an error carries ``stack_trace``
  (never its text);
- an attempt of a setup request that is retried (no answer, or 429, 502, 503, 504) is dropped: only the attempt
  that counts is compared (derived: the suite retries setup requests, never the request under test).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_connector_contract.client.api import RETRY_STATUSES, untolerated_warnings
from pytest_connector_contract.client.transport import Headers
from pytest_connector_contract.contract.ids import numbered_ids

__all__ = ["NOT_COMPARED", "PARSER_TYPES", "normalise_exchanges", "normalise_text"]

#: exceptions whose reason is the JSON parser's own wording (facts sheet, sections 4 and 8)
PARSER_TYPES = frozenset({"x_content_e_o_f_exception", "json_parse_exception"})
#: what a reason that is not compared reads as
NOT_COMPARED = "<parser wording: not compared>"
#: the headers the official clients read, and the suite checks
_HEADERS = ("Content-Type", "X-Elastic-Product", "Allow")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_LINE_COL = re.compile(r"\[\d+:\d+\] ?")


class _Ids:
    """Numbers the connector ids of one run of a check in the order they first appear."""

    def __init__(self, id_prefix: str) -> None:
        self.pattern = numbered_ids(id_prefix)
        self.names: dict[str, str] = {}

    def _name(self, match: re.Match[str]) -> str:
        return self.names.setdefault(match.group(0), f"<connector-{len(self.names) + 1}>")

    def text(self, value: str) -> str:
        return _TIMESTAMP.sub("<timestamp>", self.pattern.sub(self._name, value))

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value


def normalise_exchanges(exchanges: Iterable[Mapping[str, Any]], id_prefix: str) -> list[dict[str, Any]]:
    """A run's exchanges (``Exchange.to_dict()`` form) as the steps compared with another run of the check."""
    ids = _Ids(id_prefix)
    listed = list(exchanges)
    kept = [
        exchange
        for index, exchange in enumerate(listed)
        if not (index + 1 < len(listed) and _retried(exchange) and _same_request(exchange, listed[index + 1]))
    ]
    first_reads: dict[str, dict[str, Any]] = {}
    return [_step(exchange, ids, first_reads) for exchange in kept]


def normalise_text(text: str | None, id_prefix: str) -> str | None:
    """A message with the run's connector ids and timestamps normalised (numbered on their own)."""
    return None if text is None else _Ids(id_prefix).text(text)


def _retried(exchange: Mapping[str, Any]) -> bool:
    response = exchange.get("response")
    return response is None or response.get("status") in RETRY_STATUSES


def _same_request(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    keys = ("method", "path", "body")
    return all(one["request"].get(key) == other["request"].get(key) for key in keys)


def _step(exchange: Mapping[str, Any], ids: _Ids, first_reads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    request = exchange["request"]
    sent = Headers(request.get("headers") or {}).get("Content-Type")
    label = f"{request['method']} {ids.text(request['path'])}"
    if request.get("body") is not None:
        label += f" {ids.text(request['body'])}"
    if sent is not None and sent != "application/json":
        label += f" (Content-Type: {sent})"
    step: dict[str, Any] = {"request": label}
    response = exchange.get("response")
    if response is None:
        step["answer"] = None
        return step
    headers = Headers(response.get("headers") or {})
    shown: dict[str, Any] = {}
    for name in _HEADERS:
        value = headers.get(name)
        if name == "Content-Type" and value is not None:
            value = value.split(";")[0].strip().lower()  # the media type is what a client checks
        elif name == "Allow" and value is not None:
            value = ", ".join(sorted({method.strip().upper() for method in value.split(",") if method.strip()}))
        shown[name.lower()] = value
    # What a client check requires beyond those, as keys that appear only where it applies: a step of an older
    # recording, or of a check that asks nothing of it, reads as before.
    opaque_id = Headers(request.get("headers") or {}).get("X-Opaque-Id")
    if opaque_id is not None:
        shown["x-opaque-id echoed"] = headers.get("X-Opaque-Id") == opaque_id
    if untolerated_warnings(headers.get("Warning"), response["status"]):
        shown["warning"] = "<a warning the clients raise>"
    answer: dict[str, Any] = {"status": response["status"], "headers": shown}
    body = _json(response.get("body"))
    if body is _NOT_JSON:
        answer["body"] = "<not JSON>" if response.get("body") else "<empty>"
    elif isinstance(body, dict) and "error" in body and not _read_back(request, response, body):
        answer["body"] = _error(body, ids)
    elif _read_back(request, response, body):
        document = ids.value(body)
        first = first_reads.setdefault(str(document["id"]), document)
        answer["connector"] = document
        answer["changed"] = {
            key: document.get(key, "<absent>")
            for key in sorted(set(first) | set(document))
            if first.get(key, "<absent>") != document.get(key, "<absent>")
        }
    else:
        answer["body"] = ids.value(body)
    step["answer"] = answer
    return step


_NOT_JSON: Any = object()


def _read_back(request: Mapping[str, Any], response: Mapping[str, Any], body: Any) -> bool:
    """Whether an answer is a connector read back (which has an ``error`` field of its own, not an error)."""
    return request["method"] == "GET" and response["status"] == 200 and isinstance(body, dict) and "id" in body


def _json(text: str | None) -> Any:
    if not text:
        return _NOT_JSON
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _error(body: Mapping[str, Any], ids: _Ids) -> dict[str, Any]:
    error = body["error"]
    shown: dict[str, Any] = {"status": body.get("status", "<absent>")}
    if not isinstance(error, dict):
        shown["error"] = ids.value(error)
        return shown
    cause = error.get("caused_by")
    cause_type = cause.get("type") if isinstance(cause, dict) else None
    shown["error"] = _typed(error, ids, cause_type)
    causes = error.get("root_cause")
    shown["root_cause"] = (
        [_typed(item, ids, cause_type) for item in causes if isinstance(item, dict)]
        if isinstance(causes, list)
        else None
    )
    shown["caused_by"] = cause_type
    return shown


def _typed(error: Mapping[str, Any], ids: _Ids, cause_type: str | None) -> dict[str, Any]:
    kind = error.get("type")
    reason = error.get("reason")
    parser = kind in PARSER_TYPES or (kind == "x_content_parse_exception" and cause_type == "json_parse_exception")
    if parser:
        reason = NOT_COMPARED
    elif isinstance(reason, str):
        reason = _LINE_COL.sub("", ids.text(reason))
    typed = {"type": kind, "reason": reason}
    if "stack_trace" in error:  # only with error_trace=true: its presence is compared, never its text
        typed["stack_trace"] = "<present>"
    return typed
