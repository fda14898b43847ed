"""The reference target: an in-memory emulation of the Elasticsearch endpoints the conformance suite uses.

It exists so that the suite can be run, developed and tested without a cluster, and so that the project
can prove its checks against something that behaves exactly like Elasticsearch (the faithful reference must
score 100 %) and against deliberately broken variants of it (the "mutants", built by subclassing this class
and overriding one small method each).

No HTTP and no pytest here: :class:`ReferenceTarget` turns one request (method, path, query, headers, body)
into one :class:`Response`. ``server.py`` puts it behind a socket.

The request pipeline follows Elasticsearch's ``RestController`` and ``BaseRestHandler``:

0. authentication, when security is on (``ReferenceTarget(security=...)``, see ``reference_security``):
   Elasticsearch authenticates on the HTTP headers alone, before routing -> 401 even for unknown paths
1. media-type headers (``Accept`` / ``Content-Type`` syntax and ``compatible-with``) -> 400
2. route lookup -> 400 ``no handler found`` / 405 ``Incorrect HTTP method`` / OPTIONS
3. a body needs a JSON ``Content-Type`` -> 406
4. the route handler: parse the body (strict parsers), *then* reject unknown query parameters
   (Elasticsearch parses the body in ``prepareRequest`` before it checks unconsumed parameters),
   then validate the request, then authorize the route's action (403: ``TransportAction`` validates
   the request before the security action filter runs), then read the connector (404), check the
   transition (400), write.

Statuses and transition tables come from :func:`pytest_connector_contract.contract.spec.load_spec`, never from
this module. Only JSON is spoken: YAML, CBOR and Smile bodies (which Elasticsearch also accepts) get 406.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode

from pytest_connector_contract.contract.spec import Profile, Spec, load_spec, parse_version
from pytest_connector_contract.reference.security import (
    ACTION_CONNECTOR_DELETE,
    ACTION_CONNECTOR_GET,
    ACTION_CONNECTOR_LIST,
    ACTION_CONNECTOR_POST,
    ACTION_CONNECTOR_PUT,
    ACTION_CONNECTOR_UPDATE_STATUS,
    ACTION_MAIN,
    AuthenticationFailed,
    Principal,
    Security,
    granting_privileges,
)

__all__ = [
    "DEFAULT_ES_VERSION",
    "Document",
    "EsError",
    "Field",
    "Headers",
    "ReferenceTarget",
    "Request",
    "Response",
    "Route",
]

DEFAULT_ES_VERSION = "9.1.0"

Document = dict[str, Any]

#: Query parameters every Elasticsearch endpoint consumes (``RestController`` / ``AbstractRestChannel``).
GLOBAL_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "format"})

#: ``RestRequest.Method`` declaration order: how Elasticsearch lists allowed methods in 405 answers.
_METHOD_ORDER = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "CONNECT")

_JSON_TYPE = "application/json"
_VENDOR_JSON_TYPE = "application/vnd.elasticsearch+json"
_TCHAR = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z0-9_$]+")

# Jackson token names, as Elasticsearch's ObjectParser prints them.
START_OBJECT = "START_OBJECT"
START_ARRAY = "START_ARRAY"
VALUE_STRING = "VALUE_STRING"
VALUE_NUMBER = "VALUE_NUMBER"
VALUE_BOOLEAN = "VALUE_BOOLEAN"
VALUE_NULL = "VALUE_NULL"

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


# --------------------------------------------------------------------------------------------- values


@dataclass
class Response:
    """What the target answers. ``headers`` holds only what this response adds; base headers
    (Content-Type, X-elastic-product) are merged in by :meth:`ReferenceTarget.finish`.
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
    """An Elasticsearch exception: rendered by :meth:`ReferenceTarget.error` in the section-5 shape.

    Raised from deep inside parsing so that the pipeline stays linear; every error body still goes
    through :meth:`ReferenceTarget.error`, which is what mutants override.

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


@dataclass(frozen=True)
class Field:
    """One field of a strict request parser: the Jackson tokens it accepts and how its value is read.

    ``convert`` gets the Python value of the token and raises ValueError (message = the cause's reason)
    when the value is refused, which becomes ``failed to parse field [x]`` caused by
    ``illegal_argument_exception``, like Elasticsearch's ObjectParser.
    """

    tokens: frozenset[str]
    convert: Callable[[Any], Any] = lambda value: value


@dataclass(frozen=True)
class Route:
    """A path pattern (``{name}`` segments are path parameters) and the handler method name per HTTP
    method. Names, not bound methods, so a subclass overriding a handler is picked up. ``actions``
    names the Elasticsearch transport action per HTTP method, for authorization (a method without
    one is not authorized, only authenticated)."""

    pattern: str
    methods: Mapping[str, str]
    actions: Mapping[str, str] = field(default_factory=dict)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        parts = [p for p in self.pattern.split("/") if p]
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = unquote_plus(segment)
            elif part != segment:
                return None
        return params


# ------------------------------------------------------------------------------------------- the target


class ReferenceTarget:
    """A faithful, thread-safe emulation of one Elasticsearch version's connector endpoints.

    Override points for fault injection (each deviation is a few lines in a subclass):

    - transitions: :meth:`transition_allowed`, :meth:`reject_transition`, :meth:`apply_status`,
      :meth:`status_updated`
    - parsing: :meth:`parse_status`, :meth:`parse_status_body`, :meth:`unknown_field`,
      :meth:`validate_status`
    - protocol: :meth:`check_content_type`, :meth:`check_params`, :meth:`method_not_allowed`,
      :meth:`no_handler`, :meth:`check_media_types`
    - storage: :meth:`get_connector`, :meth:`new_document`, :meth:`render_connector`
    - whole endpoints: :meth:`handle_update_status`, :meth:`handle_get_connector`, ... (see :meth:`routes`)
    - rendering: :meth:`error`, :meth:`simple_error`, :meth:`json_response`, :meth:`base_headers`,
      :meth:`connector_not_found`
    - security (only when a :class:`~pytest_connector_contract.reference.security.Security` is given):
      :meth:`authenticate`, :meth:`authentication_failed`, :meth:`www_authenticate`, :meth:`authorize`,
      :meth:`is_authorized`, :meth:`unauthorized`

    Handlers run the read-check-write of a connector under :attr:`lock`; methods documented as
    "called with the lock held" must not block.
    """

    def __init__(
        self,
        es_version: str = DEFAULT_ES_VERSION,
        *,
        build_flavor: str = "default",
        security: Security | None = None,
    ) -> None:
        """``security``: the credentials to accept; None (the default) answers everyone, like a
        cluster with security disabled."""
        spec = load_spec()
        parsed = parse_version(es_version)
        if parsed is None:
            raise ValueError(f"not an Elasticsearch version: {es_version!r}")
        if build_flavor not in ("default", "serverless"):
            raise ValueError(f"unknown build flavor {build_flavor!r} (expected 'default' or 'serverless')")
        self.spec: Spec = spec
        self.es_version = es_version.strip()
        self.build_flavor = build_flavor
        if build_flavor == "serverless":
            # Serverless reports a meaningless version number and always runs the newest code.
            newest = parse_version(DEFAULT_ES_VERSION)
            assert newest is not None
            self.version: tuple[int, int, int] = max(parsed, newest)
            self.profile: Profile = spec.profiles[spec.newest_profile]
        else:
            if parsed < spec.minimum_version:
                minimum = ".".join(map(str, spec.minimum_version))
                raise ValueError(
                    f"Elasticsearch {es_version} has no PUT _connector/<id>/_status (it appeared in {minimum})"
                )
            profile = spec.profile_for_version(parsed)
            if profile is None:  # pragma: no cover - the spec covers everything from the minimum up
                raise ValueError(f"no profile for Elasticsearch {es_version}")
            self.version = parsed
            self.profile = profile
        #: Guards :attr:`connectors`; re-entrant so an override may call other public methods.
        self.lock = threading.RLock()
        #: Stored documents by connector id (soft-deleted ones included, with ``deleted: true``).
        self.connectors: dict[str, Document] = {}
        self.cluster_uuid = secrets.token_urlsafe(16)
        self.security = security

    # ----------------------------------------------------------------- facts about the emulated version

    @property
    def major(self) -> int:
        return self.version[0]

    @property
    def soft_delete(self) -> bool:
        """9.0+: DELETE only marks a connector ``deleted``; ``?hard=true`` removes it."""
        return self.version >= (9, 0, 0)

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
        """Newer releases require Elastic-managed (``is_native``) connectors to use a ``content-`` index."""
        return self.version >= (8, 16, 0)

    # ------------------------------------------------------------------------------------- entry point

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """Answer one request. Exceptions other than :class:`EsError` propagate: they are bugs of the
        target, which the server turns into a 500 and records."""
        request = Request(
            method=method.upper(),
            path=path or "/",
            query={k: list(v) for k, v in query.items()},
            headers=headers if isinstance(headers, Headers) else Headers(headers),
            body=body,
        )
        try:
            response = self.dispatch(request)
        except EsError as exc:
            response = self.render_error(exc)
        return self.finish(request, response)

    def render_error(self, exc: EsError) -> Response:
        """An :class:`EsError` as a response, its ``header`` sent as response headers too."""
        if exc.metadata or exc.header:
            response = self.error(
                exc.status, exc.type, exc.reason, exc.caused_by, metadata=exc.metadata, header=exc.header
            )
        else:  # the four-argument call keeps overrides of error() written before security working
            response = self.error(exc.status, exc.type, exc.reason, exc.caused_by)
        response.header_lists.update(exc.header)
        return response

    def dispatch(self, request: Request) -> Response:
        """Steps 0-3 of the pipeline, then the route's handler."""
        principal = self.authenticate(request)
        if principal is not None:
            request = dataclasses.replace(request, principal=principal)
        self.check_media_types(request)
        segments = [s for s in request.path.split("/") if s]
        handlers: dict[str, str] = {}
        actions: dict[str, str] = {}
        path_params: dict[str, str] = {}
        for route in self.routes():
            params = route.match(segments)
            if params is None:
                continue
            if not handlers:
                path_params = params
            for verb, name in route.methods.items():
                handlers.setdefault(verb, name)
            for verb, action in route.actions.items():
                actions.setdefault(verb, action)
        allowed = [m for m in _METHOD_ORDER if m in handlers]
        if request.method not in handlers:
            if request.method == "OPTIONS":
                return Response(200, {"Allow": ",".join(allowed), "Content-Type": "text/plain; charset=UTF-8"}, b"")
            if not allowed:
                return self.no_handler(request)
            return self.method_not_allowed(request, allowed)
        refused = self.check_content_type(request)
        if refused is not None:
            return refused
        if request.method in actions:
            request = dataclasses.replace(request, action=actions[request.method])
        handler: Callable[..., Response] = getattr(self, handlers[request.method])
        return handler(request, **path_params)

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
        ]

    # -------------------------------------------------------------------------------- security

    def authenticate(self, request: Request) -> Principal | None:
        """Step 0: who the ``Authorization`` header stands for; None while security is off. Raises the
        401 of :meth:`authentication_failed`."""
        if self.security is None:
            return None
        try:
            return self.security.authenticate(request.headers.get("Authorization"), request.uri)
        except AuthenticationFailed as failure:
            raise self.authentication_failed(failure) from None

    def authentication_failed(self, failure: AuthenticationFailed) -> EsError:
        """401 ``security_exception`` carrying the ``WWW-Authenticate`` challenges (as headers and in the
        body's ``header`` object)."""
        return EsError(
            401,
            "security_exception",
            failure.reason,
            failure.caused_by,
            metadata=failure.metadata,
            header={"WWW-Authenticate": self.www_authenticate()},
        )

    def www_authenticate(self) -> list[str]:
        """The challenges of a cluster with the native realm, the token service and API keys enabled."""
        return ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]

    def authorize(self, request: Request) -> None:
        """Refuse (403) a principal whose privileges do not grant the route's action. Handlers call it
        where Elasticsearch's security action filter runs: after parsing, parameters and validation,
        before any connector is read."""
        principal, action = request.principal, request.action
        if principal is None or action is None:
            return
        if not self.is_authorized(principal, action):
            raise self.unauthorized(principal, action)

    def is_authorized(self, principal: Principal, action: str) -> bool:
        return principal.may(action)

    def unauthorized(self, principal: Principal, action: str) -> EsError:
        reason = f"action [{action}] is unauthorized for {principal.describe()}"
        granting = granting_privileges(action)
        if granting:
            reason += f", this action is granted by the cluster privileges [{','.join(granting)}]"
        return EsError(403, "security_exception", reason)

    # ----------------------------------------------------------------------------- protocol checks

    def check_media_types(self, request: Request) -> None:
        """Reject malformed ``Accept``/``Content-Type`` values and unsupported ``compatible-with``
        versions with 400 media_type_header_exception (Elasticsearch does this while building the
        request, before routing)."""
        accept = self._parse_media_type_header(request, "Accept")
        content_type = self._parse_media_type_header(request, "Content-Type")
        accept_v = _compat_version(accept, request, "Accept")
        content_v = _compat_version(content_type, request, "Content-Type")
        current, oldest = self.major, self.major - 1
        accept_eff = current if accept_v is None else accept_v
        content_eff = current if content_v is None else content_v

        def refuse(message: str) -> EsError:
            return EsError(
                400,
                "media_type_header_exception",
                "Invalid media-type value on headers [Accept, Content-Type]",
                {"type": "status_exception", "reason": message},
            )

        accept_text = _media_type_text(accept)
        content_text = _media_type_text(content_type)
        if not oldest <= accept_eff <= current:
            raise refuse(
                f"Accept version must be either version {current} or {oldest}, "
                f"but found {accept_eff}. Accept={accept_text}"
            )
        if request.body:
            if not oldest <= content_eff <= current:
                raise refuse(
                    f"Content-Type version must be either version {current} or {oldest}, "
                    f"but found {content_eff}. Content-Type={content_text}"
                )
            if content_eff != accept_eff:
                raise refuse(
                    "A compatible version is required on both Content-Type and Accept headers if either "
                    "one has requested a compatible version and the compatible versions must match. "
                    f"Accept={accept_text}, Content-Type={content_text}"
                )
            if (accept_v is None) != (content_v is None):
                raise refuse(
                    "A compatible version is required on both Content-Type and Accept headers if either "
                    f"one has requested a compatible version. Accept={accept_text}, Content-Type={content_text}"
                )

    def _parse_media_type_header(self, request: Request, header: str) -> tuple[str, dict[str, str]] | None:
        value = request.headers.get(header)
        try:
            return _parse_media_type(value)
        except ValueError as exc:
            raise EsError(
                400,
                "media_type_header_exception",
                f"Invalid media-type value on headers [{header}]",
                {"type": "illegal_argument_exception", "reason": str(exc)},
            ) from None

    def check_content_type(self, request: Request) -> Response | None:
        """A request with a body must say it is JSON: 406 with a plain-string error otherwise."""
        if not request.body:
            return None
        value = request.headers.get("Content-Type")
        if value is None:
            return self.simple_error(406, "Content-Type header is missing")
        if _json_media_type(value) is None:
            return self.simple_error(406, f"Content-Type header [{value}] is not supported")
        return None

    def check_params(self, request: Request, accepted: Iterable[str] = (), *, consumes_body: bool = False) -> None:
        """Refuse query parameters the endpoint does not read (400 illegal_argument_exception), and a
        body sent to an endpoint that takes none. Runs after the body was parsed, like
        ``BaseRestHandler``."""
        known = GLOBAL_PARAMS | set(accepted)
        unknown = sorted(name for name in request.query if name not in known)
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            names = ", ".join(_suggest(name, known - {"format"}, prefix=f"[{name}]") for name in unknown)
            raise EsError(
                400,
                "illegal_argument_exception",
                f"request [{request.decoded_path}] contains unrecognized parameter{plural}: {names}",
            )
        if request.body and not consumes_body:
            raise EsError(
                400,
                "illegal_argument_exception",
                f"request [{request.method} {request.decoded_path}] does not support having a body",
            )

    def no_handler(self, request: Request) -> Response:
        """400 for a path no route matches: ``error`` is a string and there is no ``status`` key."""
        return self.json_response(
            400, {"error": f"no handler found for uri [{request.uri}] and method [{request.method}]"}
        )

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """405 for a known path and a method it does not serve, naming the allowed ones."""
        response = self.simple_error(
            405,
            f"Incorrect HTTP method for uri [{request.uri}] and method [{request.method}], "
            f"allowed: [{', '.join(allowed)}]",
        )
        response.headers["Allow"] = ",".join(allowed)
        return response

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
        if not request.body:
            if self.old_status_handler and "Content-Type" not in request.headers:
                # 8.13/8.14 build a parser for a null XContentType: a NullPointerException.
                raise EsError(500, "null_pointer_exception", None)
            if not self.old_status_handler:
                raise EsError(400, "parse_exception", "request body is required")
        if self.old_status_handler and not _looks_like_json(request.body):
            # XContentHelper.createParser asks CompressorFactory first, which refuses bytes it cannot detect.
            raise EsError(
                500,
                "not_x_content_exception",
                "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes",
            )
        try:
            fields = self.read_object(
                request.body,
                "connector_update_status_request",
                {"status": Field(frozenset({VALUE_STRING}), self.parse_status)},
            )
        except EsError as exc:
            if exc.type != "x_content_e_o_f_exception" or not (self.old_status_handler or self.eof_escapes):
                raise
            jackson = (exc.caused_by or {}).get("reason")
            eof = {"type": "x_content_e_o_f_exception", "reason": f"{_JACKSON_EOF}: {jackson}"}
            if self.old_status_handler:
                body = request.body.decode("utf-8", "replace")
                raise EsError(400, "parse_exception", f"Failed to parse: {body}", eof) from None
            raise EsError(500, eof["type"], eof["reason"], exc.caused_by) from None
        status: str | None = fields.get("status")
        return status

    def parse_status(self, value: str) -> str:
        """``ConnectorStatus.connectorStatus``: Java ``equalsIgnoreCase`` against the statuses, stored
        in lower case; anything else is ``Unknown ConnectorStatus: <value>``."""
        for status in self.spec.statuses:
            if _java_equals_ignore_case(status, value):
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

    def handle_put_connector(self, request: Request, connector_id: str) -> Response:
        """``PUT _connector/<id>``: create (201) or replace (200) — a replace resets the status."""
        fields = self.parse_connector_body(request, "connector_put_request")
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.validate_connector(fields, connector_id)
        self.authorize(request)
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
        with self.lock:
            self.check_index_name_free(fields.get("index_name"), None)
            connector_id = secrets.token_urlsafe(15)
            while connector_id in self.connectors:  # pragma: no cover - 120 random bits
                connector_id = secrets.token_urlsafe(15)
            self.connectors[connector_id] = self.new_document(connector_id, fields)
        return self.json_response(201, {"id": connector_id, "result": "created"})

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
                "is_native": Field(frozenset({VALUE_BOOLEAN, VALUE_STRING}), _parse_boolean),
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
            problem = _index_name_problem(index_name)
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
            numbered = "".join(f"{i}: {e};" for i, e in enumerate(errors, 1))
            raise EsError(400, "action_request_validation_exception", f"Validation Failed: {numbered}")

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
            "filtering": [_default_filtering(now)],
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
        include_deleted = self.soft_delete and _param_bool(request, "include_deleted", False)
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
        return {"id": connector_id, **_copy_json(doc)}

    def connector_not_found(self, connector_id: str) -> Response:
        return self.error(404, "resource_not_found_exception", f"connector [{connector_id}] not found")

    def handle_list_connectors(self, request: Request) -> Response:
        """``GET _connector``: filters, paging, sorted by index name (missing last)."""
        start = _param_int(request, "from", 0)
        size = _param_int(request, "size", 100)
        index_names = _param_list(request, "index_name")
        names = _param_list(request, "connector_name")
        service_types = _param_list(request, "service_type")
        query = request.param("query")
        accepted = ["from", "size", "index_name", "connector_name", "service_type", "query"]
        include_deleted = False
        if self.soft_delete:
            include_deleted = _param_bool(request, "include_deleted", False)
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

    def handle_delete_connector(self, request: Request, connector_id: str) -> Response:
        """``DELETE _connector/<id>``: soft on 9.x unless ``hard``; 404 when missing (or already
        soft-deleted and the delete is soft)."""
        _param_bool(request, "delete_sync_jobs", False)
        accepted = ["connector_id", "delete_sync_jobs"]
        hard = not self.soft_delete
        if self.soft_delete:
            hard = _param_bool(request, "hard", False)
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
            return None if doc is None else _copy_json(doc)

    # ------------------------------------------------------------------------------- rendering

    def error(
        self,
        status: int,
        type: str,
        reason: str | None,
        caused_by: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        header: Mapping[str, list[str]] | None = None,
    ) -> Response:
        """An Elasticsearch error body (doc section 5): ``root_cause`` never carries ``caused_by``.

        Keys in ``ElasticsearchException``'s order: type, reason, metadata, caused_by, header; the root
        cause (the exception itself) repeats metadata and header."""
        cause: dict[str, Any] = {"type": type, "reason": reason, **(metadata or {})}
        error: dict[str, Any] = {"root_cause": [dict(cause)], **cause}
        if caused_by is not None:
            error["caused_by"] = dict(caused_by)
        if header:
            rendered = {name: values[0] if len(values) == 1 else list(values) for name, values in header.items()}
            error["root_cause"][0]["header"] = rendered
            error["header"] = copy.deepcopy(rendered)
        return self.json_response(status, {"error": error, "status": status})

    def simple_error(self, status: int, message: str) -> Response:
        """The plain-string error form of 405 and 406 answers."""
        return self.json_response(status, {"error": message, "status": status})

    def json_response(self, status: int, body: Any) -> Response:
        return Response(status, {}, _dump(body))

    def base_headers(self, request: Request) -> dict[str, str]:
        """Headers on every answer: the negotiated JSON media type and the product header the
        official clients insist on."""
        headers = {
            "Content-Type": self.response_media_type(request),
            "X-elastic-product": "Elasticsearch",
        }
        opaque_id = request.headers.get("X-Opaque-Id")
        if opaque_id is not None:
            headers["X-Opaque-Id"] = opaque_id
        return headers

    def response_media_type(self, request: Request) -> str:
        """Answer in the vendor type when the request asked for it (Accept first, then Content-Type)."""
        for header in ("Accept", "Content-Type"):
            try:
                parsed = _parse_media_type(request.headers.get(header))
            except ValueError:
                continue
            kind = _json_media_type_parsed(parsed)
            if kind is None or parsed is None:
                continue
            if kind == _VENDOR_JSON_TYPE:
                version = int(parsed[1].get("compatible-with") or self.major)
                if not self.major - 1 <= version <= self.major:
                    return _JSON_TYPE  # the request was refused for that version: answer plain JSON
                return f"{_VENDOR_JSON_TYPE};compatible-with={version}"
            return _JSON_TYPE
        return _JSON_TYPE

    def finish(self, request: Request, response: Response) -> Response:
        """Merge the base headers and apply the global response parameters (``filter_path``,
        ``pretty``, ``error_trace``)."""
        headers = self.base_headers(request)
        headers.update(response.headers)
        body = response.body
        filter_path = request.param("filter_path")
        pretty = request.param("pretty")
        error_trace = request.param("error_trace") in ("", "true")
        if body and (filter_path or pretty not in (None, "false") or error_trace):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if data is not None:
                if error_trace and isinstance(data, dict) and isinstance(data.get("error"), dict):
                    err = data["error"]
                    err["stack_trace"] = f"{err.get('type')}: {err.get('reason')}\n\tat reference target"
                if filter_path:
                    data = _filter(data, [f.strip() for f in filter_path.split(",") if f.strip()])
                body = _dump(data, pretty=pretty not in (None, "false"))
        return Response(response.status, headers, body, dict(response.header_lists))

    # -------------------------------------------------------------------------------- parsing

    def read_object(self, body: bytes, parser_name: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        """Parse ``body`` like Elasticsearch's strict ObjectParser: one object, fields in order, each
        refused as soon as it is read (unknown name, wrong token type, bad value); duplicate keys and
        non-JSON are Jackson errors; text after the object is ignored; comments are allowed."""
        reader = _Reader(body)
        reader.skip_ws()
        token = reader.value_token()
        if token != START_OBJECT:
            raise reader.parse_error(f"Expected START_OBJECT but was: {token or 'null'}", reader.pos)
        reader.pos += 1
        result: dict[str, Any] = {}
        seen: set[str] = set()
        while True:
            reader.skip_ws()
            if reader.peek() == "}":
                break
            if seen:
                if reader.peek() != ",":
                    raise reader.unexpected("was expecting comma to separate Object entries")
                reader.pos += 1
                reader.skip_ws()
            if reader.peek() != '"':
                raise reader.unexpected("was expecting double-quote to start field name")
            key_pos = reader.pos
            key = reader.read_string()
            if key in seen:
                raise reader.json_error(f"Duplicate field '{key}'", key_pos)
            seen.add(key)
            reader.skip_ws()
            if reader.peek() != ":":
                raise reader.unexpected("was expecting a colon to separate field name and value")
            reader.pos += 1
            reader.skip_ws()
            value_pos = reader.pos
            token = reader.value_token()
            if token is None:
                raise reader.eof_error("Unexpected end-of-input within/between Object entries")
            spec = fields.get(key)
            if spec is None:
                self.unknown_field(parser_name, key, fields, reader.location(key_pos))
                reader.skip_value()
                continue
            if token not in spec.tokens:
                raise reader.parse_error(f"[{parser_name}] {key} doesn't support values of type: {token}", value_pos)
            value = reader.read_scalar(token)
            try:
                result[key] = spec.convert(value)
            except ValueError as exc:
                raise reader.parse_error(
                    f"[{parser_name}] failed to parse field [{key}]",
                    value_pos,
                    {"type": "illegal_argument_exception", "reason": str(exc)},
                ) from None
        return result

    def unknown_field(self, parser_name: str, name: str, fields: Mapping[str, Field], location: str) -> None:
        """A strict parser refuses a field it does not declare (with a did-you-mean like
        Elasticsearch). Returning instead of raising makes the parser skip the field."""
        message = _suggest(name, fields, prefix=f"[{parser_name}] unknown field [{name}]", spaced=True)
        raise EsError(400, "x_content_parse_exception", f"{location} {message}")


# ----------------------------------------------------------------------------------- JSON reader


class _Reader:
    """A cursor over a request body that produces Jackson-like tokens and errors."""

    def __init__(self, body: bytes) -> None:
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        try:
            self.text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.text = body[: exc.start].decode("utf-8")
            self.pos = len(self.text)
            raise self.json_error(f"Invalid UTF-8 start byte 0x{body[exc.start]:02x}", self.pos) from None
        self.pos = 0

    def location(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return f"[{line}:{column}]"

    def parse_error(self, message: str, pos: int, caused_by: Mapping[str, Any] | None = None) -> EsError:
        return EsError(400, "x_content_parse_exception", f"{self.location(pos)} {message}", caused_by)

    def _source(self, pos: int) -> str:
        line, column = self.location(pos)[1:-1].split(":")
        return (
            "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); "
            f"line: {line}, column: {column}]"
        )

    def json_error(self, message: str, pos: int) -> EsError:
        return self.parse_error(message, pos, {"type": "json_parse_exception", "reason": message + self._source(pos)})

    def eof_error(self, message: str = "Unexpected end-of-input") -> EsError:
        pos = len(self.text)
        return EsError(
            400,
            "x_content_e_o_f_exception",
            f"{self.location(pos)} {message}",
            {"type": "json_e_o_f_exception", "reason": message + self._source(pos)},
        )

    def unexpected(self, expectation: str) -> EsError:
        char = self.peek()
        if char is None:
            return self.eof_error(f"Unexpected end-of-input: {expectation}")
        return self.json_error(f"Unexpected character ('{char}' (code {ord(char)})): {expectation}", self.pos)

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def skip_ws(self) -> None:
        """White space and the C/C++ comments Elasticsearch's Jackson allows."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t\r\n":
                self.pos += 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.eof_error("Unexpected end-of-input in a comment")
                self.pos = end + 2
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            else:
                return

    def value_token(self) -> str | None:
        """The token starting at the cursor (not consumed), None at end of input."""
        char = self.peek()
        if char is None:
            return None
        if char == "{":
            return START_OBJECT
        if char == "[":
            return START_ARRAY
        if char == '"':
            return VALUE_STRING
        if char == "-" or char.isdigit():
            if not _NUMBER.match(self.text, self.pos):
                if self.pos + 1 >= len(self.text):
                    raise self.eof_error("Unexpected end-of-input in a Number value")
                raise self.json_error("Invalid numeric value: expected digit", self.pos)
            return VALUE_NUMBER
        word = _WORD.match(self.text, self.pos)
        literal = word.group() if word else char
        if literal in ("true", "false"):
            return VALUE_BOOLEAN
        if literal == "null":
            return VALUE_NULL
        if (
            literal in ("t", "tr", "tru", "f", "fa", "fal", "fals", "n", "nu", "nul")
            and word
            and word.end() == len(self.text)
        ):
            raise self.eof_error("Unexpected end-of-input in a literal")
        raise self.json_error(
            f"Unrecognized token '{literal}': was expecting (JSON String, Number, Array, Object or token "
            "'null', 'true' or 'false')",
            self.pos,
        )

    def read_string(self) -> str:
        start = self.pos
        try:
            value, self.pos = json.decoder.scanstring(self.text, self.pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            if exc.msg.startswith("Unterminated string"):
                raise self.eof_error("Unexpected end-of-input in VALUE_STRING") from None
            if exc.msg.startswith("Invalid control character"):
                raise self.json_error(
                    f"Illegal unquoted character ((CTRL-CHAR, code {ord(self.text[exc.pos])})): has to be "
                    "escaped using backslash to be included in string value",
                    exc.pos,
                ) from None
            raise self.json_error(f"Unrecognized character escape in string at {start}", exc.pos) from None
        assert isinstance(value, str)
        return value

    def read_scalar(self, token: str | None) -> Any:
        if token == VALUE_STRING:
            return self.read_string()
        if token == VALUE_NUMBER:
            match = _NUMBER.match(self.text, self.pos)
            assert match is not None
            self.pos = match.end()
            return json.loads(match.group())
        word = _WORD.match(self.text, self.pos)
        assert word is not None
        self.pos = word.end()
        return {"true": True, "false": False, "null": None}[word.group()]

    def skip_value(self) -> None:
        """Step over a whole value (only needed when an override lets an unknown field through)."""
        token = self.value_token()
        if token in (START_OBJECT, START_ARRAY):
            try:
                _, self.pos = json.JSONDecoder().raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(self.text.rstrip()):
                    raise self.eof_error() from None
                raise self.json_error(exc.msg, exc.pos) from None
        else:
            self.read_scalar(token)


# ------------------------------------------------------------------------------------ helpers


_JACKSON_EOF = "com.fasterxml.jackson.core.io.JsonEOFException"
#: the bytes Java's Character.isWhitespace accepts before the ``{`` of a JSON object (XContentFactory)
_JAVA_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")


def _looks_like_json(body: bytes) -> bool:
    """``XContentFactory.xContentType`` for JSON: an optional UTF-8 BOM, white space, then ``{``."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    for byte in body:
        if byte == ord("{"):
            return True
        if byte not in _JAVA_WHITESPACE:
            return False
    return False


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data: several times cheaper than ``copy.deepcopy``, which was a third of
    the target's time per request (every GET renders a copy of the stored document)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


def _dump(data: Any, *, pretty: bool = False) -> bytes:
    if pretty:
        text = json.dumps(data, indent=2, separators=(",", " : "), ensure_ascii=False) + "\n"
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes: keep them escaped
        return json.dumps(data, separators=(",", ":")).encode("ascii")


def _java_equals_ignore_case(a: str, b: str) -> bool:
    """``String.equalsIgnoreCase``: char by char, upper then lower case, never changing length."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        ux, uy = _char_upper(x), _char_upper(y)
        if ux == uy or _char_lower(ux) == _char_lower(uy):
            continue
        return False
    return True


def _char_upper(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def _char_lower(c: str) -> str:
    lower = c.lower()
    return lower if len(lower) == 1 else c


def _parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def _param_bool(request: Request, name: str, default: bool) -> bool:
    """``RestRequest.paramAsBoolean``: a bare ``?name`` means true."""
    value = request.param(name)
    if value is None:
        return default
    if value == "":
        return True
    try:
        return _parse_boolean(value)
    except ValueError as exc:
        raise EsError(400, "illegal_argument_exception", str(exc)) from None


def _param_int(request: Request, name: str, default: int) -> int:
    """``RestRequest.paramAsInt`` (Java ``Integer.parseInt``: no blanks, no underscores)."""
    value = request.param(name)
    if value is None:
        return default
    if not re.fullmatch(r"[+-]?[0-9]+", value) or not -(2**31) <= int(value) < 2**31:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"Failed to parse int parameter [{name}] with value [{value}]",
            {"type": "number_format_exception", "reason": f'For input string: "{value}"'},
        )
    return int(value)


def _param_list(request: Request, name: str) -> list[str]:
    value = request.param(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _similarity(a: str, b: str) -> float:
    """Lucene's LevenshteinDistance: 1 - edits / longest length."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    longest = max(len(a), len(b)) or 1
    return 1.0 - previous[-1] / longest


def _suggest(name: str, candidates: Iterable[str], *, prefix: str, spaced: bool = False) -> str:
    """Elasticsearch's "did you mean" tail for an unknown parameter or field."""
    scored = sorted(
        ((score, c) for c in candidates if (score := _similarity(name, c)) > 0.5),
        key=lambda sc: (-sc[0], sc[1]),
    )
    if not scored:
        return prefix
    sep = " " if spaced else " -> "
    if len(scored) == 1:
        return f"{prefix}{sep}did you mean [{scored[0][1]}]?"
    return f"{prefix}{sep}did you mean any of [{', '.join(c for _, c in scored)}]?"


def _parse_media_type(value: str | None) -> tuple[str, dict[str, str]] | None:
    """``ParsedMediaType.parseMediaType``: None for no header, ``*/*`` or a list (media range)."""
    if value is None:
        return None
    value = value.strip()
    if not value or "," in value or value == "*/*":
        return None
    elements = [e.strip() for e in value.lower().split(";")]
    kind = elements[0].split("/")
    if len(kind) != 2 or not all(_TCHAR.match(part.strip()) for part in kind):
        raise ValueError(f"invalid media-type [{value}]")
    params: dict[str, str] = {}
    for element in elements[1:]:
        if not element:
            continue
        key, sep, val = element.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ValueError(f"invalid parameters for header [{value}]")
        params[key.strip()] = val.strip()
    return f"{kind[0].strip()}/{kind[1].strip()}", params


def _json_media_type_parsed(parsed: tuple[str, dict[str, str]] | None) -> str | None:
    """Which JSON flavour a parsed media type is, or None when it is not JSON we can read."""
    if parsed is None:
        return None
    kind, params = parsed
    if kind not in (_JSON_TYPE, _VENDOR_JSON_TYPE):
        return None
    if params.get("charset", "utf-8") != "utf-8":
        return None
    if kind == _VENDOR_JSON_TYPE and not re.fullmatch(r"\d+", params.get("compatible-with", "0")):
        return None
    return kind


def _json_media_type(value: str) -> str | None:
    try:
        return _json_media_type_parsed(_parse_media_type(value))
    except ValueError:
        return None


def _compat_version(parsed: tuple[str, dict[str, str]] | None, request: Request, header: str) -> int | None:
    if parsed is None or "compatible-with" not in parsed[1]:
        return None
    raw = parsed[1]["compatible-with"]
    if not re.fullmatch(r"\d{1,3}", raw):
        raise EsError(
            400,
            "media_type_header_exception",
            f"Invalid media-type value on headers [{header}]",
            {"type": "number_format_exception", "reason": f'For input string: "{raw}"'},
        )
    return int(raw)


def _media_type_text(parsed: tuple[str, dict[str, str]] | None) -> str:
    if parsed is None:
        return "null"
    kind, params = parsed
    return kind + "".join(f";{k}={v}" for k, v in params.items())


def _index_name_problem(name: str) -> str | None:
    """``MetadataCreateIndexService.validateIndexOrAliasName``, as a message tail."""
    if not name:
        return "must not be empty"
    if any(c in name for c in '\\/*?"<>| ,'):
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    if len(name.encode()) > 255:
        return f"index name is too long, ({len(name.encode())} > 255)"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if name.lower() != name:
        return "must be lowercase"
    return None


def _default_filtering(now: str) -> dict[str, Any]:
    """``ConnectorFiltering.getDefaultConnectorFilteringConfig``: one include-everything rule."""

    def rules() -> dict[str, Any]:
        return {
            "advanced_snippet": {"created_at": now, "updated_at": now, "value": {}},
            "rules": [
                {
                    "created_at": now,
                    "field": "_",
                    "id": "DEFAULT",
                    "order": 0,
                    "policy": "include",
                    "rule": "regex",
                    "updated_at": now,
                    "value": ".*",
                }
            ],
            "validation": {"errors": [], "state": "valid"},
        }

    return {"active": rules(), "domain": "DEFAULT", "draft": rules()}


def _filter(data: Any, filters: list[str]) -> Any:
    """A small ``filter_path``: dotted paths, ``*`` within a name, ``**`` for any depth, ``-`` to
    exclude."""
    includes = [f.split(".") for f in filters if not f.startswith("-")]
    excludes = [f[1:].split(".") for f in filters if f.startswith("-")]
    if includes:
        data = _keep(data, includes)
        if data is _MISSING:
            data = {}
    if excludes:
        data = _drop(data, excludes)
    return data


_MISSING: Any = object()


def _advance(key: str, patterns: list[list[str]]) -> tuple[bool, list[list[str]]]:
    """(whole value matched, patterns still to apply below ``key``)."""
    done = False
    below: list[list[str]] = []
    for pattern in patterns:
        head, rest = pattern[0], pattern[1:]
        if head == "**":
            below.append(pattern)
            if rest:
                matched, deeper = _advance(key, [rest])
                done = done or matched
                below.extend(deeper)
            else:
                done = True
        elif fnmatch.fnmatchcase(key, head):
            if rest:
                below.append(rest)
            else:
                done = True
    return done, below


def _keep(data: Any, patterns: list[list[str]]) -> Any:
    if isinstance(data, list):
        kept = [k for k in (_keep(item, patterns) for item in data) if k is not _MISSING]
        return kept if kept else _MISSING
    if not isinstance(data, dict):
        return _MISSING
    out: dict[str, Any] = {}
    for key, value in data.items():
        done, below = _advance(key, patterns)
        if done:
            out[key] = value
        elif below:
            sub = _keep(value, below)
            if sub is not _MISSING:
                out[key] = sub
    return out if out else _MISSING


def _drop(data: Any, patterns: list[list[str]]) -> Any:
    if isinstance(data, list):
        return [_drop(item, patterns) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        done, below = _advance(key, patterns)
        if done:
            continue
        out[key] = _drop(value, below) if below else value
    return out
