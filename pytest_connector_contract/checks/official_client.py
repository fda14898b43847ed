"""The official Python client itself against the target: ``official_client[python/<option>/<case>]``.

Users run this suite to learn whether their clients will work. These checks drive the installed official
client (the ``clients`` extra: ``elasticsearch``, or the aliases ``elasticsearch8`` / ``elasticsearch9``)
through the example of Elastic's "Update connector status API" page: a connector made by the suite's own
factory (never the client's PUT, which would overwrite an existing id), then
``client.connector.update_status(connector_id=..., status=...)``, plain, with ``http_compress=True`` and
with an opaque id, for an accepted transition, a refused one and a missing id. Each check reads what the
client returns or raises (``resp["result"]``, ``BadRequestError.error`` / ``.body`` / ``.meta.status``,
``NotFoundError``) and records every ``ElasticsearchWarning`` the call raised (a license Warning aside).

The client talks to the target with the run's own access: its URL, credentials (the ``Authorization`` header
:class:`~pytest_connector_contract.config.credentials.Credentials` make), TLS settings and proxy. Its requests
go through elastic-transport's ``RequestsHttpNode`` (which honours a proxy), whose ``requests`` session is
handed to :meth:`ConnectorClient.exchange`: so the rate limit (``--connector-max-rps``), the stop flag, the
request log and the check's evidence see the client's requests exactly as sent (headers, compressed body
shown decoded). Nothing else of the client is changed: it sends its own headers and reads the answers itself.

Without the client the checks are skipped, saying how to install it; a client whose major the target's
release refuses (a 9.x client against 8.x: it asks for ``compatible-with=9``) is skipped with that reason.
The client is imported when a check runs, never at start-up. Its warnings are caught around the call with
``warnings.catch_warnings``, which swaps process-wide state that pytest swaps too, around each item: so the
import (which adds a warnings filter) and everything from making the client to closing it run on the thread
pytest runs items on (``Run.on_main``). A check in flight in a slot (``--connector-concurrency``) prepares its
connector there and hands the client's part over (checks/ahead.py); one-at-a-time, all of it runs in turn.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pytest_connector_contract.checks.run import CheckSkipped, Run
from pytest_connector_contract.client.api import ConnectorClient, TargetUnreachable
from pytest_connector_contract.client.transport import Headers, Transport
from pytest_connector_contract.config.extras import install_hint
from pytest_connector_contract.contract.encoding import decodes, inflate
from pytest_connector_contract.contract.spec import NEWEST, Check, Spec, expect_transition, parse_version, version_text

__all__ = ["installed_majors", "official_checks", "official_client"]


def _importable(spec: Spec) -> list[str]:
    """The client's import names that are installed (found without importing them)."""
    return [name for name in spec.raw["official_client"]["modules"] if importlib.util.find_spec(name) is not None]


def installed_majors(spec: Spec) -> tuple[int, ...]:
    """The majors of the official clients installed side by side, when there are two or more; () for one
    client or none (its checks are then ``official_client[python/...]``). Read from the installed
    distributions' metadata, so that no client is imported at start-up."""
    names = _importable(spec)
    if len(names) < 2:
        return ()
    import importlib.metadata  # only here: most environments have one client or none

    majors = set()
    for name in names:
        try:
            version = parse_version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:  # importable without its distribution's metadata
            continue
        if version is not None:
            majors.add(version[0])
    return tuple(sorted(majors)) if len(majors) > 1 else ()


def official_checks(spec: Spec) -> tuple[Check, ...]:
    """The official client's checks this environment collects (every run collects them; see the module)."""
    return spec.official_client_checks(installed_majors(spec))


@dataclass(frozen=True)
class _Client:
    """One installed official client: its module and version."""

    module: ModuleType
    name: str
    version: tuple[int, int, int]


def _client_for(run: Run) -> _Client:
    """The installed client the check drives, or a skip saying why there is none to drive."""
    section = run.spec.raw["official_client"]
    install = install_hint("clients")
    major: int | None = run.check.params["major"]
    found = []
    for name in _importable(run.spec):
        module = importlib.import_module(name)
        version = parse_version(getattr(module, "__versionstr__", ""))
        if version is not None and (major is None or version[0] == major):
            found.append(_Client(module, name, version))
    if not found:
        which = "the official Python client is" if major is None else f"no {major}.x official Python client is"
        raise CheckSkipped(f"{which} not installed: {install}")
    client = found[0]
    minimum = parse_version(section["minimum_client"])
    assert minimum is not None
    if client.version < minimum:
        raise CheckSkipped(
            f"{client.name} {version_text(client.version)} is installed; these checks need {section['minimum_client']} "
            f"or newer: {install}"
        )
    return client


def _refused_major(client: _Client, run: Run) -> str | None:
    """Why the target's release refuses this client's major, correctly, or None when it accepts it.

    A client asks for ``compatible-with=<its major>``, which Elasticsearch accepts for its own major and the
    one before (facts sheet, section 9). Serverless runs the newest code and accepts both."""
    release = run.release
    if release == NEWEST:
        return None
    client_major, target_major = client.version[0], release[0]
    if target_major - 1 <= client_major <= target_major:
        return None
    return (
        f"the installed {client.name} {client_major}.x client is refused by Elasticsearch {version_text(release)}, "
        f"correctly: it asks for compatible-with={client_major}, and {target_major}.x accepts only "
        f"{target_major - 1} and {target_major}"
    )


def _node_class(client: ConnectorClient) -> type[Any]:
    """elastic-transport's ``RequestsHttpNode`` with the run's proxy and TLS files, whose requests go through
    ``client`` (see the module)."""
    from elastic_transport import RequestsHttpNode

    transport: Transport = client.transport

    class SuiteNode(RequestsHttpNode):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            session = self.session
            session.trust_env = False  # the run resolved proxies and CA files already (Transport)
            session.proxies = {} if transport.proxy is None else {"http": transport.proxy, "https": transport.proxy}
            send = session.send

            def observed(request: Any, **kwargs: Any) -> Any:
                return _observed(client, transport, request, lambda: send(request, **kwargs))

            session.send = observed  # type: ignore[method-assign]  # requests has no hook around sending

        def _log_request(self, *args: Any, **kwargs: Any) -> None:
            """Not elastic-transport's log of each request and answer, which would carry whatever a target
            echoes unredacted into the user's log files: the suite's own evidence and request log, redacted,
            record the client's requests instead."""

    return SuiteNode


def _observed(client: ConnectorClient, transport: Transport, request: Any, send: Callable[[], Any]) -> Any:
    """Send the official client's prepared request through ``client.exchange``; return requests' response."""
    answer: list[Any] = []

    def sent() -> tuple[int, Headers, bytes]:
        response = send()
        answer.append(response)
        return response.status_code, Headers(response.headers), response.content

    headers = Headers(request.headers)
    body = request.body.encode() if isinstance(request.body, str) else request.body
    encoding = headers.get("Content-Encoding")
    if body is not None and encoding is not None and decodes(encoding):
        body = inflate(body, encoding)  # shown decoded; the headers say it went compressed
    path = request.path_url
    if transport.prefix and path.startswith(transport.prefix):
        path = path[len(transport.prefix) :]
    client.exchange(request.method, path, headers, body, sent)
    return answer[0]


def _tls_options(transport: Transport) -> dict[str, Any]:
    if transport.scheme != "https":
        return {}
    options: dict[str, Any] = {"verify_certs": transport.verify is not False, "ssl_show_warn": True}
    if isinstance(transport.verify, str):
        options["ca_certs"] = transport.verify
    if isinstance(transport.cert, tuple):
        options["client_cert"], options["client_key"] = transport.cert
    elif transport.cert is not None:
        options["client_cert"] = transport.cert
    return options


def official_client(run: Run) -> None:
    params = run.check.params
    es = run.on_main(lambda: _client_for(run))  # the import sets a warnings filter: see the module
    refused = _refused_major(es, run)
    if refused is not None:
        raise CheckSkipped(refused)
    if params["case"] == "not-found":
        connector_id, before = run.factory.unused_id(), {}
    else:
        connector = run.factory(status=params["from"])
        connector_id, before = connector.id, connector.document
    run.on_main(lambda: _drive(run, es, connector_id, before))
    # What the client returned or raised is read before the suite's redaction: a target that echoes a
    # credential must not carry it into a report through the client's exception.
    run.observed = None if run.observed is None else run.client.redact(run.observed)
    run.problems = [run.client.redact(problem) for problem in run.problems]
    run.finish()


def _drive(run: Run, es: _Client, connector_id: str, before: dict[str, Any]) -> None:
    """Make the client, call it on ``connector_id`` (see :func:`_call`) and close it."""
    option = run.check.params["option"]
    transport = run.client.transport
    authorization = run.settings.target.credentials.authorization()
    headers = {} if authorization is None else {"Authorization": authorization.reveal()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TLS notice of verify_certs=False: the user asked for it
        elasticsearch = es.module.Elasticsearch(
            transport.origin + transport.prefix,
            node_class=_node_class(run.client),
            headers=headers,
            http_compress=option == "compression",
            request_timeout=run.settings.timeout,
            max_retries=0,
            retry_on_timeout=False,
            **_tls_options(transport),
        )
    opaque_id = f"connector-contract {run.check.id}" if option == "opaque-id" else None
    api = elasticsearch.options(opaque_id=opaque_id) if opaque_id is not None else elasticsearch
    try:
        _call(run, es, api, connector_id, before, opaque_id)
    finally:
        elasticsearch.close()


def _call(run: Run, es: _Client, api: Any, connector_id: str, before: dict[str, Any], opaque_id: str | None) -> None:
    """Call ``update_status`` as the docs page does and judge what the client returns or raises (``before``:
    the connector as created, which a refusal must leave as it was)."""
    params = run.check.params
    case, status = params["case"], params["to"]
    section = run.spec.raw["official_client"]
    exceptions = importlib.import_module(f"{es.name}.exceptions")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", exceptions.ElasticsearchWarning)
        general = getattr(exceptions, "GeneralAvailabilityWarning", None)
        if general is not None:  # the client's notice that the API is experimental: not the target's doing
            warnings.simplefilter("ignore", general)
        raised: BaseException | None = None
        response: Any = None
        try:
            response = api.connector.update_status(connector_id=connector_id, status=status)
        except Exception as exc:
            raised = exc
    unanswered = _unanswered(es, raised)
    if unanswered is not None:
        raise unanswered
    tolerated = [entry["contains"].lower() for entry in section["tolerated_warnings"]]
    for warning in caught:
        if issubclass(warning.category, exceptions.ElasticsearchWarning):
            text = str(warning.message)
            if not any(part in text.lower() for part in tolerated):
                run.problems.append(f"the client raised ElasticsearchWarning {text!r} (the answer carried a Warning)")
    meta = getattr(response if raised is None else raised, "meta", None)
    if case == "accepted":
        _accepted(run, es, response, raised, connector_id)
    elif case == "refused":
        _refused(run, es, raised, connector_id, before)
    else:
        _not_found(run, es, raised, connector_id)
    if opaque_id is not None and meta is not None:
        echoed = Headers(dict(meta.headers)).get("X-Opaque-Id")
        run.require(
            echoed == opaque_id,
            f"the answer's meta.headers carry X-Opaque-Id {echoed!r}, expected the opaque id sent ({opaque_id!r})",
        )


def _unanswered(es: _Client, raised: BaseException | None) -> TargetUnreachable | None:
    """When the client got no answer (the target unreachable, a connection closed unanswered, the run stopping):
    the suite's own reason if elastic-transport kept it (in ``errors`` or the exception chain), else the
    client's ConnectionError or ConnectionTimeout as one. An error of the check, never a failure of the
    target: a check with no answer to judge cannot say the target departs from Elasticsearch."""
    seen: set[int] = set()
    pending = [raised]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TargetUnreachable):
            return current
        pending += [*(getattr(current, "errors", ()) or ()), current.__cause__, current.__context__]
    no_answer = tuple(
        getattr(es.module, name) for name in ("ConnectionError", "ConnectionTimeout") if hasattr(es.module, name)
    )
    if raised is not None and isinstance(raised, no_answer):
        return TargetUnreachable(f"the official client got no answer: {type(raised).__name__}: {raised}")
    return None


def _raised_text(raised: BaseException) -> str:
    """``BadRequestError: .meta.status 400, .error 'status_exception'``, or the exception's own words."""
    status = getattr(getattr(raised, "meta", None), "status", None)
    error = getattr(raised, "error", None)
    if status is None or not isinstance(error, str):
        return f"{type(raised).__name__}: {raised}"
    return f"{type(raised).__name__}: .meta.status {status}, .error {error!r}"


def _accepted(run: Run, es: _Client, response: Any, raised: BaseException | None, connector_id: str) -> None:
    params = run.check.params
    expect = expect_transition(run.spec, run.profile, params["from"], params["to"])
    results = " or ".join(expect.results)
    run.expected = f"update_status returns HTTP {expect.http} with ['result'] {results}; GET shows {params['to']!r}"
    if raised is not None:
        run.observed = _raised_text(raised)
        run.problems.append(f"the client raised {run.observed}, expected a response with ['result'] {results}")
    else:
        result = response.body.get("result") if isinstance(response.body, dict) else None
        run.observed = f"HTTP {response.meta.status}, ['result'] {result!r}"
        run.require(response.meta.status == expect.http, f"expected HTTP {expect.http}, got {response.meta.status}")
        run.require(result in expect.results, f"expected ['result'] {results}, got {result!r}")
    after = run.read(connector_id)
    run.require(
        after.get("status") == params["to"],
        f"GET shows status {after.get('status')!r} after the update, expected {params['to']!r}",
    )


def _refused(run: Run, es: _Client, raised: BaseException | None, connector_id: str, before: dict[str, Any]) -> None:
    params = run.check.params
    expect = expect_transition(run.spec, run.profile, params["from"], params["to"])
    run.expected = (
        f"update_status raises BadRequestError: .meta.status {expect.http}, .error {expect.error_type!r}, "
        f"the reason naming both statuses; the connector unchanged"
    )
    if not isinstance(raised, es.module.BadRequestError):
        run.observed = "returned a response" if raised is None else _raised_text(raised)
        run.problems.append(f"expected BadRequestError, the client {run.observed}")
    else:
        run.observed = _raised_text(raised)
        body: dict[str, Any] = raised.body if isinstance(raised.body, dict) else {}
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        run.require(raised.meta.status == expect.http, f"expected .meta.status {expect.http}, got {raised.meta.status}")
        run.require(raised.error == expect.error_type, f"expected .error {expect.error_type!r}, got {raised.error!r}")
        reason = str(error.get("reason") or "")
        run.require(
            (expect.reason_contains or "") in reason,
            f"expected .body['error']['reason'] to contain {expect.reason_contains!r}, got {reason!r}",
        )
    run.require_unchanged(before, run.read(connector_id))


def _not_found(run: Run, es: _Client, raised: BaseException | None, connector_id: str) -> None:
    expect = run.spec.raw["not_found"]["expect"]
    run.expected = (
        f"update_status raises NotFoundError: .meta.status 404, .error {expect['error_type']!r}, naming the id"
    )
    if not isinstance(raised, es.module.NotFoundError):
        run.observed = "returned a response" if raised is None else _raised_text(raised)
        run.problems.append(f"expected NotFoundError, the client {run.observed}")
        run.factory.adopt(connector_id)  # the target may have created it: the run deletes it
        return
    run.observed = _raised_text(raised)
    run.require(raised.meta.status == 404, f"expected .meta.status 404, got {raised.meta.status}")
    run.require(raised.error == expect["error_type"], f"expected .error {expect['error_type']!r}, got {raised.error!r}")
    if connector_id not in str(raised.body):
        run.problems.append(f"expected the error body to name the id {connector_id!r}, got {raised.body!r}")
