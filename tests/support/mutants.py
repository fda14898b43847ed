"""Fault-injected variants ("mutants") of the reference target, one realistic deviation each.

Each entry of ``MUTANTS`` names the check that must catch the deviation and a phrase its failure must
contain. The table is published as docs/mutants.md (kept in step by tests/test_mutants.py).
Mutants live here, with the tests, never in the shipped reference target.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_connector_contract.reference.endpoints import DEFAULT_ES_VERSION, Document, ReferenceTarget
from pytest_connector_contract.reference.messages import EsError, Request, Response
from pytest_connector_contract.reference.reader import Field
from pytest_connector_contract.reference.security import (
    ACTION_CONNECTOR_UPDATE_STATUS,
    CONNECTOR_READ_ONLY,
    ApiKey,
    Principal,
    Security,
)


@dataclass(frozen=True)
class Mutant:
    name: str
    target: type[ReferenceTarget]
    caught_by: str
    because: str  # a phrase the failing check's report must contain
    es_version: str = "9.1.0"
    #: options the run needs for the catching check to be collected (the checks beyond the matrix)
    args: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return (self.target.__doc__ or "").strip().splitlines()[0]


# -- the state machine -----------------------------------------------------------------------------
class AcceptsForbiddenTransition(ReferenceTarget):
    """Accepts created -> connected, which the Connector Protocol forbids."""

    def transition_allowed(self, current: str, requested: str) -> bool:
        return (current, requested) == ("created", "connected") or super().transition_allowed(current, requested)


class RefusesAllowedTransition(ReferenceTarget):
    """Refuses needs_configuration -> error, which every profile allows (a proxy's over-strict rule)."""

    def transition_allowed(self, current: str, requested: str) -> bool:
        if (current, requested) == ("needs_configuration", "error"):
            return False
        return super().transition_allowed(current, requested)


class RefusesSelfTransitions(ReferenceTarget):
    """Behaves like 8.13/8.14 while claiming 9.x: refuses configured -> configured and the other self-transitions."""

    def transition_allowed(self, current: str, requested: str) -> bool:
        return current != requested and super().transition_allowed(current, requested)


class ForgetsToPersist(ReferenceTarget):
    """Answers 200 updated to a valid transition but never stores the new status."""

    def apply_status(self, doc: Document, status: str) -> str:
        return "updated"


class AllowsBackToCreated(ReferenceTarget):
    """Lets an errored connector go back to created (only re-creating it may reset the status)."""

    def transition_allowed(self, current: str, requested: str) -> bool:
        return (current, requested) == ("error", "created") or super().transition_allowed(current, requested)


# -- refusals --------------------------------------------------------------------------------------
class ServerErrorOnRefusal(ReferenceTarget):
    """Answers 500 instead of 400 to a transition the state machine refuses."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        return self.error(500, "internal_server_error", f"cannot go from {current} to {requested}")


class WrongRefusalType(ReferenceTarget):
    """Refuses invalid transitions with illegal_argument_exception instead of status_exception."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        reason = f"Invalid transition attempt from [{current}] to [{requested}]."
        return self.error(400, "illegal_argument_exception", reason)


class VagueRefusalReason(ReferenceTarget):
    """Refuses invalid transitions with a reason that names neither status."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        return self.error(400, "status_exception", "Invalid status transition.")


class RefusalTouchesConnector(ReferenceTarget):
    """Records the refused status in the connector's error field while refusing the transition."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        doc["error"] = f"refused transition to {requested}"
        return super().reject_transition(doc, current, requested)


class ErrorBodyWithoutRootCause(ReferenceTarget):
    """Writes error objects without root_cause, which the official clients read."""

    def error(self, status: int, type: str, reason: str | None, caused_by: Mapping[str, Any] | None = None) -> Response:
        return self.json_response(status, {"error": {"type": type, "reason": reason}, "status": status})


class _RewritesErrorBodies(ReferenceTarget):
    """A target that renders each error object as the reference does, then changes it (``rewrite``)."""

    def error(
        self, status: int, type: str, reason: str | None, caused_by: Mapping[str, Any] | None = None, **kw: Any
    ) -> Response:
        body = super().error(status, type, reason, caused_by, **kw).json()
        self.rewrite(body)
        return self.json_response(status, body)

    def rewrite(self, body: dict[str, Any]) -> None:
        raise NotImplementedError


class NoTopLevelStatus(_RewritesErrorBodies):
    """Leaves the top-level status out of its error objects, which Elasticsearch always sets to the HTTP status."""

    def rewrite(self, body: dict[str, Any]) -> None:
        del body["status"]


class StatusAlways400(_RewritesErrorBodies):
    """Writes "status": 400 into every error object, whatever the HTTP status (a proxy's template)."""

    def rewrite(self, body: dict[str, Any]) -> None:
        body["status"] = 400


class GenericRootCauseReason(_RewritesErrorBodies):
    """Gives root_cause[0] a generic reason instead of repeating the error's own."""

    def rewrite(self, body: dict[str, Any]) -> None:
        body["error"]["root_cause"][0]["reason"] = "request failed"


class RefusalWithoutCause(ReferenceTarget):
    """Refuses an invalid transition without the caused_by connector_invalid_status_transition_exception."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        response = super().reject_transition(doc, current, requested)
        body = response.json()
        del body["error"]["caused_by"]
        return self.json_response(response.status, body)


class TruncatedLikeOldRelease(ReferenceTarget):
    """Answers a truncated body as 8.13/8.14 do (400 parse_exception) while claiming 9.x."""

    @property
    def old_status_handler(self) -> bool:
        return True


class NewReleaseAnswersClaimingOld(ReferenceTarget):
    """Claims 8.14.3 but parses _status bodies like 9.x (400 x_content_e_o_f_exception for a truncated body)."""

    @property
    def old_status_handler(self) -> bool:
        return False


class RefusesCompatibleWith9(ReferenceTarget):
    """Claims 9.x but refuses compatible-with=9, the media type of the 9.x official clients (an 8.x proxy rule)."""

    def check_content_type(self, request: Request) -> Response | None:
        value = request.headers.get("Content-Type") or ""
        if "compatible-with=9" in value.replace(" ", ""):
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return super().check_content_type(request)


# -- success bodies --------------------------------------------------------------------------------
class WrongResultWord(ReferenceTarget):
    """Answers {"result": "ok"} to an accepted update instead of updated."""

    def status_updated(self, result: str) -> Response:
        return self.json_response(200, {"result": "ok"})


# -- parsing ---------------------------------------------------------------------------------------
class CaseSensitiveStatus(ReferenceTarget):
    """Matches status values case-sensitively, refusing "Error" and "NEEDS_CONFIGURATION"."""

    def parse_status(self, value: str) -> str:
        if value in self.spec.statuses:
            return value
        raise ValueError(f"Unknown ConnectorStatus: {value}")


class StoresStatusAsSent(ReferenceTarget):
    """Accepts any casing but stores the status exactly as sent ("NEEDS_CONFIGURATION")."""

    def parse_status(self, value: str) -> str:
        super().parse_status(value)
        return value

    def transition_allowed(self, current: str, requested: str) -> bool:
        return super().transition_allowed(current.lower(), requested.lower())


class IgnoresUnknownFields(ReferenceTarget):
    """Skips unknown body fields instead of refusing them, as a lenient parser would."""

    def unknown_field(self, parser_name: str, name: str, fields: Mapping[str, Field], location: str) -> None:
        return None


class NullMeansMissing(ReferenceTarget):
    """Treats {"status": null} like a missing field (validation error) instead of a parse error."""

    def parse_status_body(self, request: Request) -> str | None:
        if request.body.replace(b" ", b"") == b'{"status":null}':
            return None
        return super().parse_status_body(request)


class CrashesOnEmptyBody(ReferenceTarget):
    """Answers 500 to a _status request without a body on 9.x (the 8.13/8.14 bug, come back)."""

    def parse_status_body(self, request: Request) -> str | None:
        if not request.body:
            raise EsError(500, "null_pointer_exception", None)
        return super().parse_status_body(request)


class LooksUpBeforeParsing(ReferenceTarget):
    """Reads the connector before parsing the body, so a bad body sent to an unknown id gets 404."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        with self.lock:
            if self.get_connector(connector_id) is None:
                return self.connector_not_found(connector_id)
        return super().handle_update_status(request, connector_id)


# -- HTTP protocol ---------------------------------------------------------------------------------
class AcceptsMissingContentType(ReferenceTarget):
    """Assumes JSON when a body comes without a Content-Type instead of answering 406."""

    def check_content_type(self, request: Request) -> Response | None:
        if "Content-Type" not in request.headers:
            return None
        return super().check_content_type(request)


class RefusesVendorMediaType(ReferenceTarget):
    """Answers 406 to the versioned media type the official clients send."""

    def check_content_type(self, request: Request) -> Response | None:
        value = request.headers.get("Content-Type")
        if value and "vnd.elasticsearch" in value:
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return super().check_content_type(request)


class _ServesAsPut(ReferenceTarget):
    """A target that serves ``served_as_put`` on _status like PUT."""

    served_as_put = ""

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method.upper() == self.served_as_put and path.rstrip("/").endswith("/_status"):
            method = "PUT"
        return super().handle(method, path, query, headers, body)


class PostActsAsPut(_ServesAsPut):
    """Serves POST on _status like PUT instead of answering 405."""

    served_as_put = "POST"


class IgnoresUnknownParameters(ReferenceTarget):
    """Silently ignores unknown query parameters instead of refusing them."""

    def check_params(self, request: Request, accepted: Iterable[str] = (), *, consumes_body: bool = False) -> None:
        return None


class DropsProductHeader(ReferenceTarget):
    """Omits X-Elastic-Product (the official clients then refuse to talk to it)."""

    def base_headers(self, request: Request) -> dict[str, str]:
        headers = super().base_headers(request)
        headers.pop("X-elastic-product", None)
        return headers


class ProductHeaderOnlyFromHandlers(ReferenceTarget):
    """Sends X-Elastic-Product only on answers of its handlers, not on the 405 and 406 of its router."""

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        if answer.status in (405, 406):
            answer.headers.pop("X-elastic-product", None)
        return answer


class GzipFrontEndDropsProductHeader(ReferenceTarget):
    """Drops X-Elastic-Product on answers to clients that accept gzip (a compressing front end rebuilding them)."""

    def base_headers(self, request: Request) -> dict[str, str]:
        headers = super().base_headers(request)
        if "gzip" in (request.headers.get("Accept-Encoding") or "").lower():
            headers.pop("X-elastic-product", None)
        return headers


class WarnsOnEverySuccess(ReferenceTarget):
    """Adds a deprecation Warning header to every successful answer, which the official client raises."""

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        if answer.status == 200:
            answer.headers["Warning"] = '299 Elasticsearch-9.1.0 "[_connector] is deprecated, use [_connectors]"'
        return answer


class TextPlainMethodNotAllowed(ReferenceTarget):
    """Answers 405 with Content-Type text/plain (a web server's default error page type)."""

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        if answer.status == 405:
            answer.headers["Content-Type"] = "text/plain; charset=UTF-8"
        return answer


class TextContentType(ReferenceTarget):
    """Labels its JSON answers text/plain."""

    def base_headers(self, request: Request) -> dict[str, str]:
        return {**super().base_headers(request), "Content-Type": "text/plain; charset=UTF-8"}


# -- what the official clients send (the client[...] checks) -----------------------------------------
class IgnoresContentEncoding(ReferenceTarget):
    """Reads a gzip request body raw instead of decoding it first (the official clients' http_compress)."""

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        # The server decoded the body and dropped Content-Encoding, as Elasticsearch's HTTP layer does; the length
        # on the wire tells a decoded body, which goes back to the bytes a target reading it raw would parse.
        if body and headers.get("Content-Length") not in (None, str(len(body))):
            body = gzip.compress(body)
        return super().handle(method, path, query, headers, body)


class NoOpaqueIdEcho(ReferenceTarget):
    """Does not echo X-Opaque-Id, which clients use to match an answer to its request."""

    def base_headers(self, request: Request) -> dict[str, str]:
        headers = super().base_headers(request)
        headers.pop("X-Opaque-Id", None)
        return headers


class _RewritesAnswers(ReferenceTarget):
    """A target that finishes each answer as the reference does, then changes its JSON body (``rewrite``)."""

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        try:
            body = json.loads(answer.body)
        except ValueError:
            return answer
        if self.rewrite(request, answer.status, body):
            answer.body = json.dumps(body).encode()
        return answer

    def rewrite(self, request: Request, status: int, body: Any) -> bool:
        raise NotImplementedError


class FiltersErrorBodies(_RewritesAnswers):
    """Applies filter_path to error bodies too, so filter_path=result leaves a refusal as {}."""

    def rewrite(self, request: Request, status: int, body: Any) -> bool:
        wanted = request.param("filter_path")
        if status < 400 or not wanted or not isinstance(body, dict):
            return False
        for key in [k for k in body if k not in wanted.split(",")]:
            del body[key]
        return True


class FilterPathExcludes(_RewritesAnswers):
    """Reads filter_path as the fields to leave out, so filter_path=result answers a success with {}."""

    def rewrite(self, request: Request, status: int, body: Any) -> bool:
        wanted = request.param("filter_path")
        if status >= 400 or not wanted or not isinstance(body, dict):
            return False
        for key in wanted.split(","):
            body.pop(key, None)
        return True


class DropsStackTrace(_RewritesAnswers):
    """Ignores error_trace=true: its errors never carry stack_trace."""

    def rewrite(self, request: Request, status: int, body: Any) -> bool:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return False
        for place in (error, error.get("caused_by") or {}, *(error.get("root_cause") or [])):
            place.pop("stack_trace", None)
        return True


class PlainJsonForCompatibleWith(ReferenceTarget):
    """Answers the official clients' compatible-with requests with plain application/json."""

    def response_media_type(self, request: Request) -> str:
        return "application/json"


class WarnsOnEveryAnswer(ReferenceTarget):
    """Adds a Warning header to every answer (the Python client raises it as ElasticsearchWarning)."""

    def base_headers(self, request: Request) -> dict[str, str]:
        warning = '299 Elasticsearch-9.1.0 "[connector] APIs are in technical preview"'
        return {**super().base_headers(request), "Warning": warning}


class PatchActsAsPut(_ServesAsPut):
    """Serves PATCH on _status like PUT instead of answering 405 (a gateway's "update" verb mapping)."""

    served_as_put = "PATCH"


class HeadNotFound(ReferenceTarget):
    """Answers HEAD on _status with 404, as a router that serves HEAD only where GET exists."""

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        if request.method == "HEAD":
            return self.error(404, "resource_not_found_exception", "no such resource")
        return super().method_not_allowed(request, allowed)


class OptionsNotAllowed(ReferenceTarget):
    """Answers OPTIONS on _status with 405 like any other method it does not serve."""

    def dispatch(self, request: Request) -> Response:
        if request.method == "OPTIONS" and request.path.rstrip("/").endswith("/_status"):
            return self.method_not_allowed(request, ["PUT"])
        return super().dispatch(request)


class RefusesCharset(ReferenceTarget):
    """Answers 406 to application/json with a charset parameter (an exact-match media type check)."""

    def check_content_type(self, request: Request) -> Response | None:
        value = request.headers.get("Content-Type")
        if value and "charset" in value.lower():
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return super().check_content_type(request)


class RefusesUnspacedCharset(ReferenceTarget):
    """Splits media-type parameters on "; " only, so application/json;charset=utf-8 is not JSON (406)."""

    def check_content_type(self, request: Request) -> Response | None:
        value = request.headers.get("Content-Type")
        if value and ";charset" in value.lower().replace(" ", "") and "; " not in value:
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return super().check_content_type(request)


class RefusesNdjson(ReferenceTarget):
    """Knows application/json alone, answering 406 to application/x-ndjson, which Elasticsearch reads as JSON."""

    def check_content_type(self, request: Request) -> Response | None:
        value = request.headers.get("Content-Type")
        if value and value.lower().startswith("application/x-ndjson"):
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return super().check_content_type(request)


class RefusesComments(ReferenceTarget):
    """A strict JSON parser: refuses the // and /* */ comments Elasticsearch's parser allows."""

    def read_object(self, body: bytes, parser_name: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        if b"/*" in body or b"//" in body:
            raise EsError(
                400,
                "x_content_parse_exception",
                "[1:2] Unexpected character ('/' (code 47)): maybe a (non-standard) comment?",
            )
        return super().read_object(body, parser_name, fields)


class _RewritesBodies(ReferenceTarget):
    """A target that reads a body after rewriting it (``rewrite``) as a lenient parser would."""

    def read_object(self, body: bytes, parser_name: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        return super().read_object(self.rewrite(body), parser_name, fields)

    def rewrite(self, body: bytes) -> bytes:
        raise NotImplementedError


class CaseInsensitiveFieldNames(_RewritesBodies):
    """Matches body field names case-insensitively, taking {"Status": ...} for status."""

    def rewrite(self, body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        return json.dumps({k.lower(): v for k, v in data.items()}).encode() if isinstance(data, dict) else body


class AcceptsHashComments(_RewritesBodies):
    """Accepts # comments in JSON bodies (YAML-style), which Elasticsearch's parser refuses."""

    def rewrite(self, body: bytes) -> bytes:
        return re.sub(rb"#[^\n]*", b"", body)


class AcceptsDuplicateKeys(_RewritesBodies):
    """Reads a body naming a field twice as a dict would (the last one wins) instead of refusing it."""

    def rewrite(self, body: bytes) -> bytes:
        try:
            return json.dumps(json.loads(body)).encode()
        except ValueError:
            return body


class CaseInsensitiveIds(ReferenceTarget):
    """Matches connector ids case-insensitively (a store keyed by the lower-cased id)."""

    def get_connector(self, connector_id: str, *, include_deleted: bool = False) -> Document | None:
        for key in list(self.connectors):
            if key.lower() == connector_id.lower():
                return super().get_connector(key, include_deleted=include_deleted)
        return None


class UpdatedOnSelfTransition(ReferenceTarget):
    """Answers {"result": "updated"} to a valid self-transition, where Elasticsearch writes noop."""

    def apply_status(self, doc: Document, status: str) -> str:
        super().apply_status(doc, status)
        return "updated"


# -- what _status leaves alone ------------------------------------------------------------------------
class ClearsErrorOnUpdate(ReferenceTarget):
    """Clears the connector's error text when _status changes its status (a "fresh start" rule)."""

    def apply_status(self, doc: Document, status: str) -> str:
        doc["error"] = None
        return super().apply_status(doc, status)


class ResetsNameOnUpdate(ReferenceTarget):
    """Rewrites the connector from defaults when _status changes its status, resetting name and description."""

    def apply_status(self, doc: Document, status: str) -> str:
        doc.update(name=None, description=None)
        return super().apply_status(doc, status)


class RefusalClearsError(ReferenceTarget):
    """Clears the connector's error text while refusing a transition."""

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        doc["error"] = None
        return super().reject_transition(doc, current, requested)


# -- existence ---------------------------------------------------------------------------------------
class MissingIsBadRequest(ReferenceTarget):
    """Answers a _status update for an unknown id with 400 instead of 404 (GET still answers 404)."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        response = super().handle_update_status(request, connector_id)
        if response.status == 404:
            return self.error(400, "illegal_argument_exception", f"connector [{connector_id}] not found")
        return response


class StatusUpsertsMissing(ReferenceTarget):
    """Creates a connector when _status names an id that does not exist (an upsert)."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        with self.lock:
            if connector_id not in self.connectors and request.body:
                self.connectors[connector_id] = self.new_document(connector_id, {})
        return super().handle_update_status(request, connector_id)


class SoftDeletedStillUpdatable(ReferenceTarget):
    """On 9.x, keeps serving _status for a soft-deleted connector."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        with self.lock:
            doc = self.connectors.get(connector_id)
            if doc is not None and doc.get("deleted"):
                return self.status_updated("updated")
        return super().handle_update_status(request, connector_id)


# -- beyond the matrix: history, concurrency, privileges --------------------------------------------
class RefusesReconnectAfterError(ReferenceTarget):
    """Refuses configured -> connected once the connector has been in error before (history the matrix never builds)."""

    def __init__(self, es_version: str = DEFAULT_ES_VERSION, **kwargs: Any) -> None:
        super().__init__(es_version, **kwargs)
        self.been_in_error: set[str] = set()

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        with self.lock:
            doc = self.get_connector(connector_id)
            if doc is not None and doc["status"] == "configured" and connector_id in self.been_in_error:
                try:
                    requested = self.parse_status_body(request)
                except EsError:
                    requested = None
                if requested == "connected":
                    return self.reject_transition(doc, "configured", "connected")
            response = super().handle_update_status(request, connector_id)
            doc = self.get_connector(connector_id)
            if doc is not None and doc["status"] == "error":
                self.been_in_error.add(connector_id)
            return response


class CrashesOnOverlappingUpdates(ReferenceTarget):
    """Answers 500 when two _status requests for one connector overlap (a per-connector "in flight" flag)."""

    def __init__(self, es_version: str = DEFAULT_ES_VERSION, **kwargs: Any) -> None:
        super().__init__(es_version, **kwargs)
        self.in_flight: set[str] = set()
        self.flight_lock = threading.Lock()

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        with self.flight_lock:
            if connector_id in self.in_flight:
                raise EsError(500, "illegal_state_exception", f"connector [{connector_id}] is being updated")
            self.in_flight.add(connector_id)
        try:
            time.sleep(0.01)  # widens the window a real read-modify-write has
            return super().handle_update_status(request, connector_id)
        finally:
            with self.flight_lock:
                self.in_flight.discard(connector_id)


#: the keys the privilege mutant accepts (test values, not secrets)
ADMIN_KEY = "ci:ci-key-for-tests"
READONLY_KEY = "ro:ro-key-for-tests"


def secured_with_readonly_key() -> Security:
    return Security(api_keys=[ApiKey.parse(ADMIN_KEY), ApiKey.parse(READONLY_KEY, privileges=CONNECTOR_READ_ONLY)])


class ReadOnlyKeyCanWrite(ReferenceTarget):
    """Lets a key holding only monitor_connector update a connector's status (a missing privilege check)."""

    def __init__(self, es_version: str = DEFAULT_ES_VERSION, **kwargs: Any) -> None:
        kwargs.setdefault("security", secured_with_readonly_key())
        super().__init__(es_version, **kwargs)

    def is_authorized(self, principal: Principal, action: str) -> bool:
        return action == ACTION_CONNECTOR_UPDATE_STATUS or super().is_authorized(principal, action)


#: how the history mutant is explored in the mutant table (one walk, a fixed seed)
EXPLORE_ARGS = ("--connector-explore", "1", "--connector-seed", "1")


# -- a mutant the benchmark's race model is proven against (tests/test_bench.py) --------------------
class StaleStatusTarget(ReferenceTarget):
    """Checks a transition against the status it read, then writes it after the lock was let go: two
    conflicting updates can then both be accepted (each from a status that was no longer current)."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        status = self.parse_status_body(request)
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.validate_status(status)
        assert status is not None
        with self.lock:
            doc = self.get_connector(connector_id)
            if doc is None:
                return self.connector_not_found(connector_id)
            current = doc["status"]
        time.sleep(0.01)  # the read above goes stale while other requests are served
        if not self.transition_allowed(current, status):
            return self.reject_transition(doc, current, status)
        with self.lock:
            result = self.apply_status(doc, status)
        return self.status_updated(result)


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "accepts-forbidden-transition",
        AcceptsForbiddenTransition,
        "transition[created->connected]",
        "expected HTTP 400",
    ),
    Mutant(
        "refuses-allowed-transition",
        RefusesAllowedTransition,
        "transition[needs_configuration->error]",
        "expected HTTP 200",
    ),
    Mutant(
        "refuses-self-transitions", RefusesSelfTransitions, "transition[configured->configured]", "expected HTTP 200"
    ),
    Mutant(
        "forgets-to-persist", ForgetsToPersist, "transition[created->needs_configuration]", "GET shows status 'created'"
    ),
    Mutant("allows-back-to-created", AllowsBackToCreated, "transition[error->created]", "expected HTTP 400"),
    Mutant("500-on-refusal", ServerErrorOnRefusal, "transition[created->connected]", "expected HTTP 400, got HTTP 500"),
    Mutant(
        "wrong-refusal-type",
        WrongRefusalType,
        "transition[connected->needs_configuration]",
        "expected error.type 'status_exception'",
    ),
    Mutant(
        "vague-refusal-reason",
        VagueRefusalReason,
        "transition[created->configured]",
        "expected error.reason to contain 'Invalid transition attempt from [created] to [configured]'",
    ),
    Mutant(
        "refusal-touches-connector",
        RefusalTouchesConnector,
        "transition[needs_configuration->connected]",
        "field 'error' changed",
    ),
    Mutant(
        "error-without-root-cause",
        ErrorBodyWithoutRootCause,
        "transition[created->created]",
        "does not match error.schema.json",
    ),
    Mutant("wrong-result-word", WrongResultWord, "transition[created->error]", "expected result updated"),
    Mutant("case-sensitive-status", CaseSensitiveStatus, "validation[mixed-case-value]", "expected HTTP 200"),
    Mutant(
        "stores-status-as-sent",
        StoresStatusAsSent,
        "validation[uppercase-value]",
        "GET shows status 'NEEDS_CONFIGURATION'",
    ),
    Mutant(
        "ignores-unknown-fields", IgnoresUnknownFields, "validation[unknown-field]", "expected HTTP 400, got HTTP 200"
    ),
    Mutant(
        "null-means-missing",
        NullMeansMissing,
        "validation[null-value]",
        "expected error.type 'x_content_parse_exception', got 'action_request_validation_exception'",
    ),
    Mutant("crashes-on-empty-body", CrashesOnEmptyBody, "validation[empty-body]", "expected HTTP 400, got HTTP 500"),
    Mutant(
        "looks-up-before-parsing",
        LooksUpBeforeParsing,
        "not_found[bad-body-unknown-id]",
        "expected HTTP 400, got HTTP 404",
    ),
    Mutant(
        "accepts-missing-content-type",
        AcceptsMissingContentType,
        "validation[missing-content-type]",
        "expected HTTP 406",
    ),
    Mutant(
        "refuses-vendor-media-type",
        RefusesVendorMediaType,
        "validation[vendor-media-type]",
        "expected HTTP 200, got HTTP 406",
    ),
    Mutant("post-acts-as-put", PostActsAsPut, "validation[method-post]", "expected HTTP 405"),
    Mutant(
        "ignores-unknown-parameters",
        IgnoresUnknownParameters,
        "validation[unknown-query-parameter]",
        "expected HTTP 400, got HTTP 200",
    ),
    Mutant("drops-product-header", DropsProductHeader, "response[x-elastic-product]", "X-Elastic-Product None"),
    Mutant(
        "product-header-only-from-handlers",
        ProductHeaderOnlyFromHandlers,
        "response[x-elastic-product]",
        "the HTTP 405 answer to GET",
    ),
    Mutant(
        "gzip-front-end-drops-product-header",
        GzipFrontEndDropsProductHeader,
        "official_client[python/compression/accepted]",
        "the client raised UnsupportedProductError",
    ),
    Mutant(
        "warns-on-every-success",
        WarnsOnEverySuccess,
        "official_client[python/plain/accepted]",
        "the client raised ElasticsearchWarning",
    ),
    Mutant("text-content-type", TextContentType, "response[json-content-type]", "expected JSON"),
    Mutant(
        "ignores-content-encoding",
        IgnoresContentEncoding,
        "client[elasticsearch-py-9/compression/accepted]",
        "must be answered as the plain one",
    ),
    Mutant(
        "no-opaque-id-echo",
        NoOpaqueIdEcho,
        "client[elasticsearch-py-9/opaque-id/accepted]",
        "expected the request's 'connector-contract-capture' echoed",
    ),
    Mutant(
        "filters-error-bodies",
        FiltersErrorBodies,
        "client[elasticsearch-py-9/filter_path/refused]",
        "never filters an error body",
    ),
    Mutant(
        "filter-path-excludes",
        FilterPathExcludes,
        "client[elasticsearch-py-9/filter_path/accepted]",
        "the success body lacks ['result'] although filter_path=result asked for it",
    ),
    Mutant(
        "drops-stack-trace",
        DropsStackTrace,
        "client[elasticsearch-py-9/error_trace/refused]",
        "no stack_trace in error, error.caused_by, error.root_cause[0]",
    ),
    Mutant(
        "plain-json-for-compatible-with",
        PlainJsonForCompatibleWith,
        "client[elasticsearch-py-9/default/accepted]",
        "expected the media type and compatible-with the Accept header asked for",
    ),
    Mutant(
        "warns-on-every-answer",
        WarnsOnEveryAnswer,
        "client[elasticsearch-py-9/default/accepted]",
        "a Warning the client raises as an error",
    ),
    Mutant(
        "text-plain-method-not-allowed",
        TextPlainMethodNotAllowed,
        "response[json-content-type]",
        "the HTTP 405 answer to GET",
    ),
    Mutant("no-top-level-status", NoTopLevelStatus, "validation[unknown-value]", "expected the top-level status 400"),
    Mutant("status-always-400", StatusAlways400, "not_found[unknown-id]", "expected the top-level status 404"),
    Mutant(
        "generic-root-cause-reason",
        GenericRootCauseReason,
        "transition[created->configured]",
        "expected root_cause[0].reason to repeat error.reason",
    ),
    Mutant(
        "refusal-without-cause",
        RefusalWithoutCause,
        "transition[created->connected]",
        "expected error.caused_by",
    ),
    Mutant(
        "truncated-like-old-release",
        TruncatedLikeOldRelease,
        "validation[truncated-json]",
        "expected error.type 'x_content_e_o_f_exception', got 'parse_exception'",
    ),
    Mutant(
        "new-release-answers-claiming-old",
        NewReleaseAnswersClaimingOld,
        "validation[truncated-json]",
        "expected error.type 'parse_exception', got 'x_content_e_o_f_exception'",
        es_version="8.14.3",
    ),
    Mutant(
        "refuses-compatible-with-9",
        RefusesCompatibleWith9,
        "validation[vendor-media-type-9]",
        "expected HTTP 200, got HTTP 406",
    ),
    Mutant("missing-is-bad-request", MissingIsBadRequest, "not_found[unknown-id]", "expected HTTP 404, got HTTP 400"),
    Mutant("status-upserts-missing", StatusUpsertsMissing, "not_found[unknown-id]", "expected 404"),
    Mutant(
        "soft-deleted-still-updatable",
        SoftDeletedStillUpdatable,
        "not_found[deleted-connector]",
        "expected HTTP 404, got HTTP 200",
    ),
    Mutant("patch-acts-as-put", PatchActsAsPut, "validation[method-patch]", "expected HTTP 405"),
    Mutant("head-not-found", HeadNotFound, "validation[method-head]", "expected HTTP 405, got HTTP 404"),
    Mutant("options-not-allowed", OptionsNotAllowed, "validation[method-options]", "expected HTTP 200, got HTTP 405"),
    Mutant("refuses-charset", RefusesCharset, "validation[charset-parameter]", "expected HTTP 200, got HTTP 406"),
    Mutant(
        "case-insensitive-field-names",
        CaseInsensitiveFieldNames,
        "validation[field-name-case]",
        "expected HTTP 400, got HTTP 200",
    ),
    Mutant("accepts-hash-comments", AcceptsHashComments, "validation[hash-comment]", "expected HTTP 400, got HTTP 200"),
    Mutant(
        "refuses-unspaced-charset",
        RefusesUnspacedCharset,
        "validation[charset-parameter-unspaced]",
        "expected HTTP 200, got HTTP 406",
    ),
    Mutant("refuses-ndjson", RefusesNdjson, "validation[ndjson-media-type]", "expected HTTP 200, got HTTP 406"),
    Mutant("refuses-comments", RefusesComments, "validation[json-comments]", "expected HTTP 200, got HTTP 400"),
    Mutant(
        "accepts-duplicate-keys", AcceptsDuplicateKeys, "validation[duplicate-key]", "expected HTTP 400, got HTTP 200"
    ),
    Mutant("case-insensitive-ids", CaseInsensitiveIds, "not_found[id-case]", "ids matched ignoring case"),
    Mutant("clears-error-on-update", ClearsErrorOnUpdate, "unchanged[accepted]", "field 'error' changed"),
    Mutant("resets-name-on-update", ResetsNameOnUpdate, "unchanged[accepted]", "field 'description' changed"),
    Mutant("refusal-clears-error", RefusalClearsError, "unchanged[refused]", "field 'error' changed"),
    Mutant(
        "updated-on-self-transition",
        UpdatedOnSelfTransition,
        "transition[configured->configured]",
        "expected result noop, got 'updated'",
        args=("--connector-strict-results",),
    ),
    Mutant(
        "refuses-reconnect-after-error",
        RefusesReconnectAfterError,
        "explore[1]",
        "after 2 earlier step(s), step 3 (PUT _status 'connected' on a connector in 'configured') departs",
        args=EXPLORE_ARGS,
    ),
    Mutant(
        "500-on-overlapping-updates",
        CrashesOnOverlappingUpdates,
        "race[configured->connected|error]",
        "answered HTTP 500 illegal_state_exception",
        args=("--connector-race",),
    ),
    Mutant(
        "read-only-key-can-write",
        ReadOnlyKeyCanWrite,
        "privileges[readonly-status]",
        "the read-only key changed the status",
        args=("--connector-api-key", ADMIN_KEY, "--connector-readonly-api-key", READONLY_KEY),
    ),
)


#: the mutants that a run against the faithful reference of the same release (--connector-reference-url)
#: does not catch by the comparison alone, and why (tests/test_differential.py asserts exactly these)
MISSED_BY_COMPARISON = {
    "refuses-reconnect-after-error": "found by an exploration walk, and walks are not compared: each chooses its "
    "requests from the answers it got",
    "500-on-overlapping-updates": "found by a race check, and races are not compared: which racing request wins "
    "depends on timing",
    "read-only-key-can-write": "found by the privileges check, which is not compared: the reference is given no "
    "read-only key",
    "gzip-front-end-drops-product-header": "found by an official client check, which is not compared: the answers "
    "the other checks compare are never to a client that accepts gzip",
    "warns-on-every-success": "found by an official client check, which is not compared: the comparison of the "
    "other checks does not read the Warning header",
}
