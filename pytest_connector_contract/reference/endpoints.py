"""The connector endpoints of the reference target, and the in-memory store behind them.

:class:`ReferenceTarget` is the :class:`~pytest_connector_contract.reference.rest.RestLayer` of one
Elasticsearch version with its routes: ``GET /``, ``_connector`` (list, create) and ``_connector/<id>``
(get, create or replace, delete) for the suite's setup and reads, ``PUT _connector/<id>/_error`` to give a
connector a non-default ``error``, and ``PUT _connector/<id>/_status``, the API under test. Each handler
parses its body (strict parsers of :mod:`~pytest_connector_contract.reference.reader`), *then* rejects
unknown query parameters
(Elasticsearch parses the body in ``prepareRequest`` before it checks unconsumed parameters), then
validates the request, then authorizes the route's action (403: ``TransportAction`` validates the request
before the security action filter runs), then reads the connector (404), checks the transition (400),
writes.

What differs between releases is decided by the version facts (:attr:`ReferenceTarget.soft_delete`,
:attr:`ReferenceTarget.old_status_handler`, ...). Statuses and transition tables come from
:func:`pytest_connector_contract.contract.spec.load_spec`, never from this module.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pytest_connector_contract.contract.spec import (
    Profile,
    Spec,
    VersionRange,
    deletes_softly,
    load_spec,
    parse_version,
)
from pytest_connector_contract.contract.target import SERVERLESS, choose_profile
from pytest_connector_contract.reference.documents import (
    copy_json,
    default_filtering,
    index_name_problem,
    validation_failed,
)
from pytest_connector_contract.reference.messages import EsError, Request, Response
from pytest_connector_contract.reference.reader import (
    JACKSON_EOF,
    VALUE_BOOLEAN,
    VALUE_NULL,
    VALUE_STRING,
    Field,
    java_equals_ignore_case,
    looks_like_json,
    parse_boolean,
    parse_object,
    suggest,
)
from pytest_connector_contract.reference.rest import RestLayer, Route, param_bool, param_int, param_list
from pytest_connector_contract.reference.security import (
    ACTION_CONNECTOR_DELETE,
    ACTION_CONNECTOR_GET,
    ACTION_CONNECTOR_LIST,
    ACTION_CONNECTOR_POST,
    ACTION_CONNECTOR_PUT,
    ACTION_CONNECTOR_UPDATE_ERROR,
    ACTION_CONNECTOR_UPDATE_STATUS,
    ACTION_MAIN,
    Security,
)

__all__ = ["DEFAULT_ES_VERSION", "Document", "ReferenceTarget"]

DEFAULT_ES_VERSION = "9.1.0"

Document = dict[str, Any]

# Lucene versions shipped with each minor, for a believable ``GET /``.
_LUCENE = {
    (8, 13): "9.10.0",
    (8, 14): "9.10.0",
    (8, 15): "9.11.1",
    (8, 16): "9.12.0",
    (8, 17): "9.12.0",
    (8, 18): "9.12.1",
    (8, 19): "9.12.2",
    (9, 0): "10.1.0",
    (9, 1): "10.2.2",
}


# ------------------------------------------------------------------------------------------- the target


class ReferenceTarget(RestLayer):
    """A faithful, thread-safe emulation of one Elasticsearch version's connector endpoints.

    Override points for fault injection (each deviation is a few lines in a subclass), besides the
    protocol, rendering and security ones of :class:`~pytest_connector_contract.reference.rest.RestLayer`:

    - transitions: :meth:`transition_allowed`, :meth:`reject_transition`, :meth:`apply_status`,
      :meth:`status_updated`
    - parsing: :meth:`parse_status`, :meth:`parse_status_body`, :meth:`unknown_field`,
      :meth:`validate_status`
    - storage: :meth:`get_connector`, :meth:`new_document`, :meth:`render_connector`
    - whole endpoints: :meth:`handle_update_status`, :meth:`handle_get_connector`, ... (see :meth:`routes`)
    - rendering: :meth:`connector_not_found`
    - releases: :attr:`old_status_handler`, :attr:`soft_delete`, ... (the version facts)

    Handlers run the read-check-write of a connector under :attr:`lock`; methods documented as
    "called with the lock held" must not block.
    """

    def __init__(
        self,
        es_version: str = DEFAULT_ES_VERSION,
        *,
        build_flavor: str = "default",
        security: Security | None = None,
        create_delay: float = 0.0,
    ) -> None:
        """``security``: the credentials to accept; None (the default) answers everyone, like a
        cluster with security disabled. ``create_delay``: seconds a create (``PUT``/``POST _connector``)
        waits, once validated, before it is applied and answered; every other request is answered at once
        (see :meth:`delay_create`)."""
        if create_delay < 0:
            raise ValueError("create_delay must not be negative")
        spec = load_spec()
        parsed = parse_version(es_version)
        if parsed is None:
            raise ValueError(f"not an Elasticsearch version: {es_version!r}")
        if build_flavor not in ("default", SERVERLESS):
            raise ValueError(f"unknown build flavor {build_flavor!r} (expected 'default' or {SERVERLESS!r})")
        profile = choose_profile(spec, parsed, build_flavor)  # BelowMinimum (a ValueError) below the minimum
        assert profile is not None
        version = parsed
        if build_flavor == SERVERLESS:
            # Serverless runs the newest code: the version facts are those of the newest release emulated.
            newest = parse_version(DEFAULT_ES_VERSION)
            assert newest is not None
            version = max(parsed, newest)
        super().__init__(version, security=security)
        self.spec: Spec = spec
        self.profile: Profile = profile
        self.es_version = es_version.strip()
        self.build_flavor = build_flavor
        #: Guards :attr:`connectors`; re-entrant so an override may call other public methods.
        self.lock = threading.RLock()
        #: Stored documents by connector id (soft-deleted ones included, with ``deleted: true``).
        self.connectors: dict[str, Document] = {}
        self.cluster_uuid = secrets.token_urlsafe(16)
        #: Seconds between accepting a create and applying it (0: at once).
        self.create_delay = create_delay

    # ----------------------------------------------------------------- facts about the emulated version

    @property
    def soft_delete(self) -> bool:
        """9.0+: DELETE only marks a connector ``deleted``; ``?hard=true`` removes it."""
        return bool(deletes_softly(self.version, None))  # Serverless already counts as the newest release

    @property
    def create_body_required(self) -> bool:
        """Before 8.15 (elastic/elasticsearch#108766) PUT/POST _connector needs a body, even ``{}``."""
        return self.version < (8, 15, 0)

    @property
    def index_name_required(self) -> bool:
        """Before 8.14 (detached indices, elastic/elasticsearch#106236) a connector needs an index_name."""
        return self.version < (8, 14, 0)

    @property
    def old_status_handler(self) -> bool:
        """8.13/8.14 parse a _status body with ``Request.fromXContentBytes`` (detect the content from the raw
        bytes, wrap an IOException in parse_exception); 8.15 brought the handler of elastic/elasticsearch#109965."""
        return self.version < (8, 15, 0)

    @property
    def eof_escapes(self) -> bool:
        """8.15.0/8.15.1: end of input is an IOException that the new handler lets escape as a 500
        (elastic/elasticsearch#111548, in 8.15.2, made it a parse error)."""
        return (8, 15, 0) <= self.version < (8, 15, 2)

    @property
    def put_without_id(self) -> bool:
        """``PUT _connector`` (generated id) exists from 8.15; before, only GET and POST live there."""
        return self.version >= (8, 15, 0)

    @property
    def managed_index_prefix_required(self) -> bool:
        """9.0+ requires Elastic-managed (``is_native``) connectors to use a ``content-`` index
        (elastic/elasticsearch#117778, merged for 9.0; *derived*: 8.16-8.19 do not have it)."""
        return self.version >= (9, 0, 0)

    @property
    def error_sets_status(self) -> bool:
        """8.15+ (elastic/elasticsearch#110192; spec.json ``unchanged.error_sets_status``): ``_error`` also sets the
        status, ``connected`` for a null or empty error, else ``error`` (ConnectorIndexService.updateConnectorError);
        8.13/8.14 write the error alone (*derived*, from the facts sheet; what they do with a null error is not
        pinned)."""
        return self.version in VersionRange.from_data(self.spec.raw["unchanged"]["error_sets_status"])

    # --------------------------------------------------------------------------------------- routes

    def routes(self) -> list[Route]:
        """The route table of the emulated version, with the transport action each route runs."""
        collection = {"GET": "handle_list_connectors", "POST": "handle_post_connector"}
        collection_actions = {"GET": ACTION_CONNECTOR_LIST, "POST": ACTION_CONNECTOR_POST}
        if self.put_without_id:
            collection["PUT"] = "handle_post_connector"
            collection_actions["PUT"] = ACTION_CONNECTOR_PUT  # RestPutConnectorAction serves both paths
        return [
            Route("/", {"GET": "handle_info", "HEAD": "handle_info"}, {"GET": ACTION_MAIN, "HEAD": ACTION_MAIN}),
            Route("/_connector", collection, collection_actions),
            Route(
                "/_connector/{connector_id}",
                {
                    "GET": "handle_get_connector",
                    "PUT": "handle_put_connector",
                    "DELETE": "handle_delete_connector",
                },
                {"GET": ACTION_CONNECTOR_GET, "PUT": ACTION_CONNECTOR_PUT, "DELETE": ACTION_CONNECTOR_DELETE},
            ),
            Route(
                "/_connector/{connector_id}/_status",
                {"PUT": "handle_update_status"},
                {"PUT": ACTION_CONNECTOR_UPDATE_STATUS},
            ),
            Route(
                "/_connector/{connector_id}/_error",
                {"PUT": "handle_update_error"},
                {"PUT": ACTION_CONNECTOR_UPDATE_ERROR},
            ),
        ]

    # -------------------------------------------------------------------------------- endpoints

    def handle_info(self, request: Request) -> Response:
        """``GET /``: where clients read the version that picks the profile."""
        self.check_params(request)
        self.authorize(request)
        return self.json_response(200, self.info())

    def info(self) -> dict[str, Any]:
        serverless = self.build_flavor == "serverless"
        number = self.es_version
        known = [minor for minor in _LUCENE if minor <= self.version[:2]]
        lucene = _LUCENE[max(known)] if known else _LUCENE[min(_LUCENE)]
        nine = self.major >= 9
        return {
            "name": "reference-target",
            "cluster_name": "connector-contract",
            "cluster_uuid": self.cluster_uuid,
            "version": {
                "number": number,
                "build_flavor": self.build_flavor,
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2025-01-01T00:00:00.000000000Z",
                "build_snapshot": number.upper().endswith("-SNAPSHOT"),
                "lucene_version": lucene,
                "minimum_wire_compatibility_version": number if serverless else ("8.18.0" if nine else "7.17.0"),
                "minimum_index_compatibility_version": number if serverless else ("8.0.0" if nine else "7.0.0"),
            },
            "tagline": "You Know, for Search",
        }

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        """``PUT _connector/<id>/_status``: parse, check parameters, validate, then read-check-write
        atomically."""
        status = self.parse_status_body(request)
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.validate_status(status)
        assert status is not None
        self.authorize(request)
        with self.lock:
            doc = self.get_connector(connector_id)
            if doc is None:
                return self.connector_not_found(connector_id)
            current = doc["status"]
            if not self.transition_allowed(current, status):
                return self.reject_transition(doc, current, status)
            result = self.apply_status(doc, status)
        return self.status_updated(result)

    def parse_status_body(self, request: Request) -> str | None:
        """The requested status from the body, via the strict ``connector_update_status_request``
        parser; None when the body has no ``status`` (validation refuses that next)."""
        fields = self.parse_update_body(
            request, "connector_update_status_request", {"status": Field(frozenset({VALUE_STRING}), self.parse_status)}
        )
        status: str | None = fields.get("status")
        return status

    def parse_update_body(self, request: Request, parser_name: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        """The body of a connector update endpoint (``_status``, ``_error``) through its strict parser, as the
        release's handler reads it: 8.13/8.14 ``Request.fromXContentBytes`` (detect the content from the raw
        bytes, an IOException wrapped as parse_exception), 8.15+ ``contentParser()`` (a body is required)."""
        if not request.body:
            if self.old_status_handler and "Content-Type" not in request.headers:
                # 8.13/8.14 build a parser for a null XContentType: a NullPointerException.
                raise EsError(500, "null_pointer_exception", None)
            if not self.old_status_handler:
                raise EsError(400, "parse_exception", "request body is required")
        if self.old_status_handler and not looks_like_json(request.body):
            # XContentHelper.createParser asks CompressorFactory first, which refuses bytes it cannot detect.
            raise EsError(
                500,
                "not_x_content_exception",
                "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes",
            )
        try:
            return self.read_object(request.body, parser_name, fields)
        except EsError as exc:
            if exc.type != "x_content_e_o_f_exception" or not (self.old_status_handler or self.eof_escapes):
                raise
            jackson = (exc.caused_by or {}).get("reason")
            eof = {"type": "x_content_e_o_f_exception", "reason": f"{JACKSON_EOF}: {jackson}"}
            if self.old_status_handler:
                body = request.body.decode("utf-8", "replace")
                raise EsError(400, "parse_exception", f"Failed to parse: {body}", eof) from None
            raise EsError(500, eof["type"], eof["reason"], exc.caused_by) from None

    def parse_status(self, value: str) -> str:
        """``ConnectorStatus.connectorStatus``: Java ``equalsIgnoreCase`` against the statuses, stored
        in lower case; anything else is ``Unknown ConnectorStatus: <value>``."""
        for status in self.spec.statuses:
            if java_equals_ignore_case(status, value):
                return status
        raise ValueError(f"Unknown ConnectorStatus: {value}")

    def validate_status(self, status: str | None) -> None:
        """``UpdateConnectorStatusAction.Request.validate``: the status must be given."""
        if status is None:
            raise EsError(
                400, "action_request_validation_exception", "Validation Failed: 1: [status] cannot be [null].;"
            )

    def transition_allowed(self, current: str, requested: str) -> bool:
        """The Connector Protocol's state machine for this version (from the spec)."""
        return self.profile.allows(current, requested)

    def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
        """400 for a transition the state machine refuses; the document stays untouched.
        Called with the lock held."""
        reason = (
            f"Invalid transition attempt from [{current}] to [{requested}]. "
            "Such a status transition is not supported by the Connector Protocol."
        )
        return self.error(
            400,
            "status_exception",
            reason,
            {"type": "connector_invalid_status_transition_exception", "reason": reason},
        )

    def apply_status(self, doc: Document, status: str) -> str:
        """Write the status; ``noop`` when it is already the stored one (an update with
        detect_noop). Called with the lock held."""
        if doc.get("status") == status:
            return "noop"
        doc["status"] = status
        return "updated"

    def status_updated(self, result: str) -> Response:
        return self.json_response(200, {"result": result})

    def handle_update_error(self, request: Request, connector_id: str) -> Response:
        """``PUT _connector/<id>/_error``: the strict ``connector_update_error_request`` parser (``error``, a
        string or null; UpdateConnectorErrorAction at ``08b91421``), then a partial update of ``error`` (8.15+:
        and ``status``) that never consults the state machine; 404 when missing; ``updated`` or ``noop``."""
        fields = self.parse_update_body(
            request, "connector_update_error_request", {"error": Field(frozenset({VALUE_STRING, VALUE_NULL}))}
        )
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.authorize(request)
        error: str | None = fields.get("error")
        with self.lock:
            doc = self.get_connector(connector_id)
            if doc is None:
                return self.connector_not_found(connector_id)
            update: Document = {"error": error}
            if self.error_sets_status:
                update["status"] = "connected" if not error else "error"
            result = "noop" if all(doc.get(k) == v for k, v in update.items()) else "updated"
            doc.update(update)
        return self.json_response(200, {"result": result})

    def handle_put_connector(self, request: Request, connector_id: str) -> Response:
        """``PUT _connector/<id>``: create (201) or replace (200) — a replace resets the status."""
        fields = self.parse_connector_body(request, "connector_put_request")
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.validate_connector(fields, connector_id)
        self.authorize(request)
        self.delay_create(connector_id)
        with self.lock:
            self.check_index_name_free(fields.get("index_name"), connector_id)
            existed = connector_id in self.connectors
            self.connectors[connector_id] = self.new_document(connector_id, fields)
        return self.json_response(
            200 if existed else 201, {"id": connector_id, "result": "updated" if existed else "created"}
        )

    def handle_post_connector(self, request: Request) -> Response:
        """``POST _connector`` (and ``PUT _connector`` from 8.15): create with a generated id."""
        fields = self.parse_connector_body(request, "connector_put_request")
        self.check_params(request, consumes_body=True)
        self.validate_connector(fields, None)
        self.authorize(request)
        self.delay_create(None)
        with self.lock:
            self.check_index_name_free(fields.get("index_name"), None)
            connector_id = secrets.token_urlsafe(15)
            while connector_id in self.connectors:  # pragma: no cover - 120 random bits
                connector_id = secrets.token_urlsafe(15)
            self.connectors[connector_id] = self.new_document(connector_id, fields)
        return self.json_response(201, {"id": connector_id, "result": "created"})

    def delay_create(self, connector_id: str | None) -> None:
        """Hold an accepted create of ``connector_id`` (None: an id the target generates) for
        :attr:`create_delay` before it is applied, like a cluster that is slow to apply it. The wait runs on
        the request's own thread without the lock (the server gives each connection a thread), so GET and
        DELETE are answered meanwhile, and the create is applied even if the client stopped waiting for its
        answer: a Ctrl-C after sending it cannot take it back. Override to choose the moment per id."""
        if self.create_delay:
            time.sleep(self.create_delay)

    def parse_connector_body(self, request: Request, parser_name: str) -> dict[str, Any]:
        """The strict create parser; an empty body means "all defaults" from 8.15 on."""
        if not request.body:
            if self.create_body_required:
                raise EsError(400, "parse_exception", "request body is required")
            return {}
        string = Field(frozenset({VALUE_STRING}))
        return self.read_object(
            request.body,
            parser_name,
            {
                "description": string,
                "index_name": Field(frozenset({VALUE_STRING, VALUE_NULL})),
                "is_native": Field(frozenset({VALUE_BOOLEAN, VALUE_STRING}), parse_boolean),
                "language": string,
                "name": string,
                "service_type": string,
            },
        )

    def validate_connector(self, fields: Mapping[str, Any], connector_id: str | None) -> None:
        """``PutConnectorAction.Request.validate``: id length, index name rules per version."""
        errors: list[str] = []
        if connector_id is not None and len(connector_id.encode()) > 512:
            errors.append(
                f"id [{connector_id}] is too long, must be no longer than 512 bytes but was: "
                f"{len(connector_id.encode())}"
            )
        index_name = fields.get("index_name")
        if self.index_name_required and not index_name:
            errors.append('[index_name] cannot be [null] or [""]')
        elif index_name is not None:
            problem = index_name_problem(index_name)
            if problem:
                errors.append(f"Invalid index name [{index_name}], {problem}")
            elif (
                fields.get("is_native") and self.managed_index_prefix_required and not index_name.startswith("content-")
            ):
                errors.append(
                    f"Index [{index_name}] is invalid. Index attached to an Elastic-managed connector "
                    "must start with the prefix: [content-]"
                )
        if errors:
            raise validation_failed(errors)

    def check_index_name_free(self, index_name: str | None, connector_id: str | None) -> None:
        """Two live connectors cannot share an index. Called with the lock held."""
        if index_name is None:
            return
        for other_id, doc in self.connectors.items():
            if other_id != connector_id and not doc.get("deleted") and doc.get("index_name") == index_name:
                raise EsError(400, "status_exception", f"Index name [{index_name}] is used by another connector.")

    def new_document(self, connector_id: str, fields: Mapping[str, Any]) -> Document:
        """The stored document of a freshly created connector (``createConnectorWithDefaultValues``)."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        is_native = bool(fields.get("is_native") or False)
        pipeline = "search-default-ingestion" if self.version >= (8, 15, 0) else "ent-search-generic-ingestion"
        doc: Document = {
            "api_key_id": None,
            "api_key_secret_id": None,
            "configuration": {},
            "custom_scheduling": {},
            "description": fields.get("description"),
            "error": None,
            "features": None,
            "filtering": [default_filtering(now)],
            "index_name": fields.get("index_name"),
            "is_native": is_native,
            "language": fields.get("language"),
            "last_access_control_sync_error": None,
            "last_access_control_sync_scheduled_at": None,
            "last_access_control_sync_status": None,
            "last_deleted_document_count": None,
            "last_incremental_sync_scheduled_at": None,
            "last_indexed_document_count": None,
            "last_seen": None,
            "last_sync_error": None,
            "last_sync_scheduled_at": None,
            "last_sync_status": None,
            "last_synced": None,
            "name": fields.get("name") or "",
            "pipeline": {
                "extract_binary_content": True,
                "name": pipeline,
                "reduce_whitespace": True,
                "run_ml_inference": True,
            },
            "scheduling": {
                kind: {"enabled": False, "interval": "0 0 0 * * ?"}
                for kind in ("access_control", "full", "incremental")
            },
            "service_type": fields.get("service_type"),
            "status": "needs_configuration" if is_native else "created",
            "sync_cursor": None,
            "sync_now": False,
        }
        if self.soft_delete:
            doc["deleted"] = False
        return doc

    def handle_get_connector(self, request: Request, connector_id: str) -> Response:
        """``GET _connector/<id>``: the real-time read the suite verifies writes with."""
        include_deleted = self.soft_delete and param_bool(request, "include_deleted", False)
        self.check_params(request, ("connector_id", "include_deleted") if self.soft_delete else ("connector_id",))
        self.authorize(request)
        with self.lock:
            doc = self.get_connector(connector_id, include_deleted=include_deleted)
            rendered = None if doc is None else self.render_connector(connector_id, doc)
        if rendered is None:
            return self.connector_not_found(connector_id)
        return self.json_response(200, rendered)

    def get_connector(self, connector_id: str, *, include_deleted: bool = False) -> Document | None:
        """The stored (mutable) document, or None when missing or soft-deleted. Called with the lock
        held."""
        doc = self.connectors.get(connector_id)
        if doc is None or (doc.get("deleted") and not include_deleted):
            return None
        return doc

    def render_connector(self, connector_id: str, doc: Document) -> dict[str, Any]:
        """The flat API shape: ``id`` then every stored field. Returns a copy."""
        return {"id": connector_id, **copy_json(doc)}

    def connector_not_found(self, connector_id: str) -> Response:
        return self.error(404, "resource_not_found_exception", f"connector [{connector_id}] not found")

    def handle_list_connectors(self, request: Request) -> Response:
        """``GET _connector``: filters, paging, sorted by index name (missing last)."""
        start = param_int(request, "from", 0)
        size = param_int(request, "size", 100)
        index_names = param_list(request, "index_name")
        names = param_list(request, "connector_name")
        service_types = param_list(request, "service_type")
        query = request.param("query")
        accepted = ["from", "size", "index_name", "connector_name", "service_type", "query"]
        include_deleted = False
        if self.soft_delete:
            include_deleted = param_bool(request, "include_deleted", False)
            accepted.append("include_deleted")
        self.check_params(request, accepted)
        if start < 0:
            raise EsError(400, "illegal_argument_exception", f"[from] parameter cannot be negative, found [{start}]")
        if size < 0:
            raise EsError(400, "illegal_argument_exception", f"[size] parameter cannot be negative, found [{size}]")
        if start + size > 10000:
            raise EsError(
                400,
                "illegal_argument_exception",
                "The sum of parameters [from] and [size] cannot be higher than 10000.",
            )
        self.validate_list_index_names(index_names)
        self.authorize(request)

        def wanted(doc: Document) -> bool:
            if doc.get("deleted") and not include_deleted:
                return False
            if index_names and doc.get("index_name") not in index_names:
                return False
            if names and doc.get("name") not in names:
                return False
            if service_types and doc.get("service_type") not in service_types:
                return False
            if query:
                texts = (doc.get("name"), doc.get("description"), doc.get("index_name"))
                return any(isinstance(t, str) and query in t for t in texts)
            return True

        with self.lock:
            found = [self.render_connector(cid, doc) for cid, doc in self.connectors.items() if wanted(doc)]
        found.sort(key=lambda d: (d.get("index_name") is None, d.get("index_name") or "", d["id"]))
        return self.json_response(200, {"count": len(found), "results": found[start : start + size]})

    def validate_list_index_names(self, index_names: list[str]) -> None:
        """``ListConnectorAction.Request.validate`` (at ``9ffa4ed2``): each ``index_name`` through
        ``validateIndexOrAliasName`` (no case rule), the exception's ``toString()`` as the text. *Derived*: that
        wrapping, and that every release from 8.13 validates: assert ``Invalid index name [<name>]`` only."""
        errors = []
        for name in index_names:
            problem = index_name_problem(name, check_case=False)
            if problem:
                errors.append(f"[{name}/_na_] InvalidIndexNameException[Invalid index name [{name}], {problem}]")
        if errors:
            raise validation_failed(errors)

    def handle_delete_connector(self, request: Request, connector_id: str) -> Response:
        """``DELETE _connector/<id>``: soft on 9.x unless ``hard``; 404 when missing (or already
        soft-deleted and the delete is soft)."""
        param_bool(request, "delete_sync_jobs", False)
        accepted = ["connector_id", "delete_sync_jobs"]
        hard = not self.soft_delete
        if self.soft_delete:
            hard = param_bool(request, "hard", False)
            accepted.append("hard")
        self.check_params(request, accepted)
        self.authorize(request)
        with self.lock:
            doc = self.get_connector(connector_id, include_deleted=hard)
            if doc is None:
                return self.connector_not_found(connector_id)
            if hard:
                del self.connectors[connector_id]
            else:
                doc["deleted"] = True
        return self.json_response(200, {"acknowledged": True})

    # ------------------------------------------------------------------------ state, for tests

    def snapshot(self, connector_id: str) -> Document | None:
        """A copy of the stored document (soft-deleted ones included), or None."""
        with self.lock:
            doc = self.connectors.get(connector_id)
            return None if doc is None else copy_json(doc)

    # -------------------------------------------------------------------------------- parsing

    def read_object(self, body: bytes, parser_name: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        """``body`` through the strict parser :func:`~pytest_connector_contract.reference.reader.parse_object`,
        which hands the fields it does not declare to :meth:`unknown_field`."""
        return parse_object(body, parser_name, fields, self.unknown_field)

    def unknown_field(self, parser_name: str, name: str, fields: Mapping[str, Field], location: str) -> None:
        """A strict parser refuses a field it does not declare (with a did-you-mean like
        Elasticsearch). Returning instead of raising makes the parser skip the field."""
        message = suggest(name, fields, prefix=f"[{parser_name}] unknown field [{name}]", spaced=True)
        raise EsError(400, "x_content_parse_exception", f"{location} {message}")
