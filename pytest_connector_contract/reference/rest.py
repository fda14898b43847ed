"""Elasticsearch's REST layer, as the reference target emulates it.

:class:`RestLayer` turns one request (method, path, query, headers, body) into one
:class:`~pytest_connector_contract.reference.messages.Response`; the endpoints behind it are routes a
subclass declares (:class:`~pytest_connector_contract.reference.endpoints.ReferenceTarget`). The pipeline
follows Elasticsearch's ``RestController`` and ``BaseRestHandler``:

0. authentication, when security is on (``security=...``, see
   :mod:`~pytest_connector_contract.reference.security`): Elasticsearch authenticates on the HTTP headers
   alone, before routing -> 401 even for unknown paths
1. media-type headers (``Accept`` / ``Content-Type`` syntax and ``compatible-with``) -> 400
2. route lookup -> 400 ``no handler found`` / 405 ``Incorrect HTTP method`` / OPTIONS
3. a body needs a JSON ``Content-Type`` -> 406
4. the route's handler, which checks its query parameters (:meth:`RestLayer.check_params`) and authorizes
   its action (:meth:`RestLayer.authorize`) where Elasticsearch does
5. every answer, error or not, gets the base headers and the global parameters (``pretty``,
   ``error_trace``; ``filter_path`` only on answers that are not errors): :meth:`RestLayer.finish`

Errors raised as :class:`~pytest_connector_contract.reference.messages.EsError` anywhere below are rendered
by :meth:`RestLayer.error` in Elasticsearch's shape. Only JSON is spoken: YAML, CBOR and Smile bodies
(which Elasticsearch also accepts) get 406.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_connector_contract.reference.messages import EsError, Headers, Request, Response, decode_component
from pytest_connector_contract.reference.reader import parse_boolean, suggest
from pytest_connector_contract.reference.security import AuthenticationFailed, Principal, Security, granting_privileges

__all__ = ["GLOBAL_PARAMS", "RestLayer", "Route", "param_bool", "param_int", "param_list"]

#: Query parameters every Elasticsearch endpoint consumes (``RestController`` / ``AbstractRestChannel``).
GLOBAL_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "format"})

#: ``RestRequest.Method`` declaration order: how Elasticsearch lists allowed methods in 405 answers.
_METHOD_ORDER = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "CONNECT")

_JSON_TYPE = "application/json"
_VENDOR_JSON_TYPE = "application/vnd.elasticsearch+json"
#: The media types XContentType.JSON and VND_JSON answer to (libs/x-content XContentType.headerValues): all
#: read as JSON. Only a declared parameter is validated (``compatible-with``, digits, on the vendor types);
#: any other, ``charset`` with any value included, is let through (ParsedMediaType.isValidParameter at
#: ``1180f45e``: "undefined parameters are allowed", elastic/elasticsearch#63080; Jackson detects the
#: encoding from the bytes).
_JSON_TYPES = frozenset({_JSON_TYPE, "application/x-ndjson", "application/*"})
_VENDOR_JSON_TYPES = frozenset({_VENDOR_JSON_TYPE, "application/vnd.elasticsearch+x-ndjson"})
#: RestHeaderDefinitions with multiValueAllowed false (ActionModule): distinct repeated values are refused.
_SINGLE_VALUED_HEADERS = ("X-Opaque-Id", "tracestate", "traceparent", "X-elastic-product-origin")
_TCHAR = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


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
                # PathTrie hands each segment to RestUtils.REST_DECODER: a "+" stays a "+"
                params[part[1:-1]] = decode_component(segment, plus_as_space=False, lenient=True)
            elif part != segment:
                return None
        return params


# --------------------------------------------------------------------------------------- the REST layer


class RestLayer:
    """Elasticsearch's REST layer for the routes of :meth:`routes`; thread-safe, as it keeps no state.

    Override points for fault injection (each deviation is a few lines in a subclass):

    - protocol: :meth:`check_content_type`, :meth:`check_params`, :meth:`method_not_allowed`,
      :meth:`no_handler`, :meth:`check_media_types`, :meth:`dispatch`, :meth:`handle`
    - rendering: :meth:`error`, :meth:`simple_error`, :meth:`json_response`, :meth:`base_headers`,
      :meth:`finish`
    - security (only when a :class:`~pytest_connector_contract.reference.security.Security` is given):
      :meth:`authenticate`, :meth:`authentication_failed`, :meth:`www_authenticate`, :meth:`authorize`,
      :meth:`is_authorized`, :meth:`unauthorized`
    """

    def __init__(self, version: tuple[int, int, int], *, security: Security | None = None) -> None:
        """``version``: the emulated release (its major decides the ``compatible-with`` versions accepted);
        ``security``: the credentials to accept, None to answer everyone."""
        self.version = version
        self.security = security

    @property
    def major(self) -> int:
        return self.version[0]

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
        self.check_single_valued_headers(request)
        # SecurityRestFilter: "authn is bypassed for HTTP requests with the OPTIONS method"
        # (x-pack/plugin/security/.../rest/SecurityRestFilter.java at 0118cc13)
        principal = None if request.method == "OPTIONS" else self.authenticate(request)
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
                # RestController.handleOptionsRequest: 200 text/plain, no body, Allow only when a route matched
                options = Response(200, {"Content-Type": "text/plain; charset=UTF-8"}, b"")
                if allowed:
                    options.headers["Allow"] = ",".join(allowed)
                return options
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
        """The route table: none here, the endpoints declare theirs."""
        return []

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

    def check_single_valued_headers(self, request: Request) -> None:
        """400 for distinct repeated values of a single-valued header such as ``X-Opaque-Id``: "multiple values
        for single-valued header [X-Opaque-Id]." (ActionModule.copyRequestHeadersToThreadContext, which the
        HTTP layer runs before authentication; RestController.copyRestHeaders in older code). The same value
        twice is one value. *Derived*: the answer's shape (an error object here; a plain-string error in
        older RestController code): assert the status and the text only."""
        for name in _SINGLE_VALUED_HEADERS:
            if len(set(request.headers.get_all(name))) > 1:
                raise EsError(400, "illegal_argument_exception", f"multiple values for single-valued header [{name}].")

    def check_media_types(self, request: Request) -> None:
        """Reject malformed ``Accept``/``Content-Type`` values and unsupported ``compatible-with``
        versions with 400 media_type_header_exception (Elasticsearch does this while building the
        request, before routing)."""
        accept = self._parse_media_type_header(request, "Accept")
        content_type = self._parse_media_type_header(request, "Content-Type")
        accept_v = _compat_version(accept, "Accept")
        content_v = _compat_version(content_type, "Content-Type")
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
        """``RestRequest.parseHeaderWithMediaType`` (server/src/main/java/org/elasticsearch/rest/RestRequest.java
        at ``01195333``): a repeated header is "Incorrect header [<name>]. Only one value should be provided",
        an empty one "Header [<name>] cannot be empty.", both refused as media_type_header_exception."""
        values = request.headers.get_all(header)
        value = values[0] if values else None
        try:
            if len(values) > 1:
                raise ValueError(f"Incorrect header [{header}]. Only one value should be provided")
            if value is not None and not value.strip():
                raise ValueError(f"Header [{header}] cannot be empty.")
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
        if _json_media_type(value) is None:  # RestController.sendContentTypeErrorMessage
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
            names = ", ".join(suggest(name, known - {"format"}, prefix=f"[{name}]") for name in unknown)
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
        """Headers on every answer: the negotiated JSON media type, the product header the official clients
        insist on (RestController.dispatchRequest adds it), and the request's ``X-Opaque-Id`` (DefaultRestChannel
        echoes it on every answer it writes, errors, 405 and 406 included)."""
        headers = {
            "Content-Type": self.response_media_type(request),
            "X-elastic-product": "Elasticsearch",
        }
        opaque_id = request.headers.get("X-Opaque-Id")
        if opaque_id is not None:
            headers["X-Opaque-Id"] = opaque_id
        return headers

    def response_media_type(self, request: Request) -> str:
        """``AbstractRestChannel.newBuilder`` (server/src/main/java/org/elasticsearch/rest/AbstractRestChannel.java
        at ``edf1eca0``): the type named by ``format``, else by an ``Accept`` naming a known type, else the
        request's own ``Content-Type``, else JSON; its parameters are the ``Accept`` header's, whichever
        picked the type (``ParsedMediaType.parseMediaType(responseContentType, acceptParameters)``). A request
        refused for its ``compatible-with`` gets plain JSON (*derived*: Elasticsearch answers it through a
        substitute request without those headers)."""
        try:
            accept = self._parse_media_type_header(request, "Accept")
            content_type = self._parse_media_type_header(request, "Content-Type")
            for parsed in (accept, content_type):
                version = _compat_version(parsed, "")
                if version is not None and not self.major - 1 <= version <= self.major:
                    return _JSON_TYPE
        except EsError:
            return _JSON_TYPE
        kind = _FORMATS.get((request.param("format") or "").strip().lower())
        if kind is None:
            kind = _canonical_json_type(accept)
        if kind is None:
            kind = _canonical_json_type(content_type)
        if kind is None:
            kind = _JSON_TYPE
        params = accept[1] if accept is not None else {}
        return kind + "".join(f";{name}={value}" for name, value in params.items())

    def finish(self, request: Request, response: Response) -> Response:
        """Merge the base headers and apply the global response parameters (``filter_path``,
        ``pretty``, ``error_trace``).

        ``filter_path`` never applies to an error body: Elasticsearch builds those with
        ``AbstractRestChannel.newErrorBuilder()``, which disables filtering, so that a filter cannot leave a
        client with an error answer that has no ``error``."""
        headers = self.base_headers(request)
        headers.update(response.headers)
        if response.status in (401, 403):
            # RestResponse.filterHeaders (server/src/main/java/org/elasticsearch/rest/RestResponse.java at
            # 007507427): a 401 or 403 carries neither Warning nor X-elastic-product
            headers = {k: v for k, v in headers.items() if k.lower() not in ("warning", "x-elastic-product")}
        body = response.body
        filter_path = request.param("filter_path") if response.status < 400 else None
        pretty = request.param("pretty")
        # never on a 401: the authentication failure's response skips the stack trace (skipStackTrace)
        error_trace = request.param("error_trace") in ("", "true") and response.status != 401
        if body and (filter_path or pretty not in (None, "false") or error_trace):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if data is not None:
                if error_trace and isinstance(data, dict) and isinstance(data.get("error"), dict):
                    _add_stack_traces(data["error"])
                if filter_path:
                    data = _filter(data, [f.strip() for f in filter_path.split(",") if f.strip()])
                body = _dump(data, pretty=pretty not in (None, "false"))
        return Response(response.status, headers, body, dict(response.header_lists))


# ------------------------------------------------------------------------------------ helpers


def _add_stack_traces(error: dict[str, Any]) -> None:
    """``?error_trace=true``: ElasticsearchException.generateThrowableXContent writes ``stack_trace`` for the
    error, each of its ``caused_by`` and ``suppressed`` entries, and every ``root_cause`` entry (each is an
    exception rendered the same way). The trace text is the reference's own: never assert it."""
    error["stack_trace"] = f"{error.get('type')}: {error.get('reason')}\n\tat reference target"
    for key in ("caused_by",):
        if isinstance(error.get(key), dict):
            _add_stack_traces(error[key])
    for key in ("root_cause", "suppressed"):
        for entry in error.get(key) or ():
            if isinstance(entry, dict):
                _add_stack_traces(entry)


def _dump(data: Any, *, pretty: bool = False) -> bytes:
    if pretty:
        text = json.dumps(data, indent=2, separators=(",", " : "), ensure_ascii=False) + "\n"
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes: keep them escaped
        return json.dumps(data, separators=(",", ":")).encode("ascii")


def param_bool(request: Request, name: str, default: bool) -> bool:
    """``RestRequest.paramAsBoolean``: a bare ``?name`` means true."""
    value = request.param(name)
    if value is None:
        return default
    if value == "":
        return True
    try:
        return parse_boolean(value)
    except ValueError as exc:
        raise EsError(400, "illegal_argument_exception", str(exc)) from None


def param_int(request: Request, name: str, default: int) -> int:
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


def param_list(request: Request, name: str) -> list[str]:
    value = request.param(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


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
    """Which JSON flavour a parsed media type is (one of the :data:`_JSON_TYPES` or :data:`_VENDOR_JSON_TYPES`),
    or None when it is not JSON we can read (``ParsedMediaType.toMediaType``: a vendor type whose
    ``compatible-with`` is not digits is no type at all)."""
    if parsed is None:
        return None
    kind, params = parsed
    if kind not in _JSON_TYPES and kind not in _VENDOR_JSON_TYPES:
        return None
    if kind in _VENDOR_JSON_TYPES and not re.fullmatch(r"\d+", params.get("compatible-with", "0")):
        return None
    return kind


def _canonical_json_type(parsed: tuple[str, dict[str, str]] | None) -> str | None:
    """The XContentType's own media type (``XContentType.mediaType()``) for a type that names JSON."""
    kind = _json_media_type_parsed(parsed)
    if kind is None:
        return None
    return _VENDOR_JSON_TYPE if kind in _VENDOR_JSON_TYPES else _JSON_TYPE


#: ``XContentType.fromFormat``: only JSON is spoken here (yaml, cbor and smile fall through to Accept).
_FORMATS = {"json": _JSON_TYPE}


def _json_media_type(value: str) -> str | None:
    try:
        return _json_media_type_parsed(_parse_media_type(value))
    except ValueError:
        return None


def _compat_version(parsed: tuple[str, dict[str, str]] | None, header: str) -> int | None:
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
