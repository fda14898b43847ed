"""The kinds of checks of the default suite, one function each, driven by the catalogue in spec.json:
the transition matrix, bad input, missing connectors, response headers, and privileges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_connector_contract.checks.factory import Connector, ErrorEndpointMissing, SetupError
from pytest_connector_contract.checks.run import JSON_MEDIA_TYPES, CheckSkipped, Run, changed_fields, send_case
from pytest_connector_contract.client.api import ApiResponse, TargetUnreachable
from pytest_connector_contract.client.transport import Headers
from pytest_connector_contract.contract.ids import other_case
from pytest_connector_contract.contract.spec import TransitionExpectation, case_request, expect_transition

__all__ = [
    "check_not_found",
    "check_privileges",
    "check_response",
    "check_transition",
    "check_unchanged",
    "check_validation",
]


def _expect_text(expect: Mapping[str, Any]) -> str:
    parts = [f"HTTP {expect['http']}"]
    if "error_type" in expect:
        parts.append(expect["error_type"])
    if "reason_contains" in expect:
        parts.append(f"reason containing {expect['reason_contains']!r}")
    if "caused_by" in expect:
        parts.append(f"caused by {expect['caused_by']['type']}")
    if "error_string_contains" in expect:
        parts.append(f"error string containing {expect['error_string_contains']!r}")
    if "stored_status" in expect:
        parts.append(f"status stored as {expect['stored_status']!r}")
    else:
        parts.append("connector unchanged")
    return ", ".join(parts)


def _outcome_word(answer: ApiResponse) -> str:
    return {200: "accepted", 400: "refused"}.get(answer.status, f"HTTP {answer.status}")


# -- the kinds of checks ---------------------------------------------------------------------------
def check_transition(run: Run) -> None:
    current, requested = run.check.params["from"], run.check.params["to"]
    expect = expect_transition(run.spec, run.profile, current, requested, strict_results=run.settings.strict_results)
    run.matrix = {"from": current, "to": requested, "expected": expect.word, "observed": None}
    run.expected = expect.describe()
    _judge_transition(run, run.factory(status=current), requested, expect)


def check_unchanged(run: Run) -> None:
    """A transition on a connector whose other fields are not the defaults (an error text, a name, a description,
    a language): whether accepted or refused, every field but ``status`` reads back as it was, compared whole."""
    section = run.spec.raw["unchanged"]
    current, requested = run.check.params["from"], run.check.params["to"]
    expect = expect_transition(run.spec, run.profile, current, requested)
    run.expected = f"{expect.describe()}, the error text and the other non-default fields included"
    given = {"error": section["error_text"], **section["fields"]}
    try:
        connector = run.factory(status=current, error=given["error"], **section["fields"])
    except ErrorEndpointMissing as exc:
        raise CheckSkipped(f"cannot give the connector an error text: {exc}") from None
    first = connector.first if connector.first is not None else connector.document
    unset = [key for key, value in given.items() if first.get(key) != value]
    if unset:
        raise SetupError(f"the connector read back without the values it was given for {', '.join(unset)}")
    # The setup's own accepted _status steps are held to the rule too.
    for problem in changed_fields(first, connector.document, ignore=frozenset({"status"})):
        run.problems.append(f"during the setup's accepted _status steps to {current!r}: {problem}")
    _judge_transition(run, connector, requested, expect)


def _judge_transition(run: Run, connector: Connector, requested: str, expect: TransitionExpectation) -> None:
    """Send ``requested`` to ``connector`` and hold the answer, and the connector read back, to ``expect``."""
    answer = run.client.update_status(connector.id, requested)
    run.observed = answer.summary()
    if run.matrix is not None:
        run.matrix["observed"] = _outcome_word(answer)
    run.require_transition(expect.for_answer(answer.status), answer, connector)
    run.finish()


def _case(run: Run) -> Any:
    case_id = run.check.params["case"]
    return next(case for case in run.spec.validation_cases if case.id == case_id)


def check_validation(run: Run) -> None:
    case = _case(run)
    if not case.applies(run.release):
        assert case.applies_to is not None
        raise CheckSkipped(f"{run.check.id} applies to Elasticsearch {case.applies_to.text()} only")
    expect = case.expect_for(run.release)
    run.expected = _expect_text(expect)
    connector = run.factory()
    answer = send_case(run.client, connector.id, case_request(case.request))
    run.observed = answer.summary()
    deviation = run.spec.deviation_for(run.check.id, run.release)
    if "stored_status" in expect:
        if run.require_http(answer, expect["http"]):
            run.require_schema("status-response", answer.json, "the answer")
        after = run.read(connector.id)
        run.require(
            after.get("status") == expect["stored_status"],
            f"GET shows status {after.get('status')!r}, expected {expect['stored_status']!r}",
        )
        run.require_unchanged(connector.document, after, ignore=frozenset({"status"}))
        run.finish()
        return
    after = run.read(connector.id)
    run.require_unchanged(connector.document, after)
    if expect.get("empty_body"):
        _require_bare(run, answer, expect)
        return
    if deviation is not None and answer.status == deviation.observed_http:
        run.finish()
        run.expected_failure(deviation.reason)
    run.require_error(
        answer,
        http=expect["http"],
        error_type=expect.get("error_type"),
        reason_contains=expect.get("reason_contains"),
        caused_by=expect.get("caused_by"),
        error_string_contains=expect.get("error_string_contains"),
        allow_contains=expect.get("allow_contains"),
    )
    run.finish()


def _require_bare(run: Run, answer: ApiResponse, expect: Mapping[str, Any]) -> None:
    """An answer without a body (HEAD, OPTIONS), judged by its status and ``Allow``. One that departs where the
    case says a proxy may answer it, through a proxy or without X-Elastic-Product (so not from Elasticsearch's
    REST layer), is advisory: the check is skipped saying why, never failed."""
    run.require_http(answer, expect["http"])
    run.require_allow(answer, expect["allow_contains"])
    run.require(not answer.body, f"expected no body, got {answer.body[:200]!r}")
    proxy = run.client.transport.proxy
    product = answer.headers.get("X-Elastic-Product")
    if run.problems and expect.get("advisory_behind_proxy") and (proxy is not None or product is None):
        why = "the run goes through a proxy" if proxy is not None else "the answer lacks X-Elastic-Product"
        raise CheckSkipped(
            f"advisory: {why}, so something in front of Elasticsearch may have answered it: " + "; ".join(run.problems)
        )
    run.finish()


def _not_found(run: Run, answer: ApiResponse, connector_id: str) -> None:
    expect = run.spec.raw["not_found"]["expect"]
    run.require_error(
        answer,
        http=expect["http"],
        error_type=expect["error_type"],
        reason_contains=expect["reason_template"].format(id=connector_id),
    )


def _still_missing(run: Run, connector_id: str) -> None:
    """A request for a missing id must not have created it (and if it did, the run cleans it up)."""
    answer = run.client.get_connector(connector_id)
    if answer.status != 404:
        run.factory.adopt(connector_id)
        run.problems.append(f"GET _connector/{connector_id} afterwards answered {answer.summary()}, expected 404")


def check_not_found(run: Run) -> None:
    case = run.check.params["case"]
    expect = run.spec.raw["not_found"]["expect"]
    if case == "unknown-id":
        connector_id = run.factory.unused_id()
        run.expected = f"HTTP 404 {expect['error_type']} naming the id; nothing created"
        answer = run.client.update_status(connector_id, "needs_configuration")
        run.observed = answer.summary()
        _not_found(run, answer, connector_id)
        _still_missing(run, connector_id)
    elif case == "deleted-connector":
        connector = run.factory()
        run.expected = f"HTTP 404 {expect['error_type']} naming the id"
        deleted = run.client.delete_connector(connector.id)
        if deleted.status != 200:
            raise SetupError(f"DELETE _connector/{connector.id} answered {deleted.summary()}, expected 200")
        answer = run.client.update_status(connector.id, "needs_configuration")
        run.observed = answer.summary()
        _not_found(run, answer, connector.id)
    elif case == "bad-body-unknown-id":
        connector_id = run.factory.unused_id()
        run.expected = "HTTP 400 x_content_parse_exception (the body is parsed before the connector is read)"
        answer = run.client.update_status(connector_id, "foo")
        run.observed = answer.summary()
        run.require_error(
            answer, http=400, error_type="x_content_parse_exception", reason_contains="failed to parse field [status]"
        )
        _still_missing(run, connector_id)
    elif case == "id-case":
        _other_case(run)
    else:  # pragma: no cover - the catalogue and this function are kept in step by the unit tests
        raise KeyError(case)
    run.finish()


def _other_case(run: Run) -> None:
    """A valid update for a run connector's id in upper case: 404, and the connector itself untouched. The
    other-case id is read first, and only updated when nothing is there (it is never the run's to change)."""
    expect = run.spec.raw["not_found"]["expect"]
    connector = run.factory()
    other = other_case(connector.id)
    if other is None:
        raise CheckSkipped(f"the run's ids have no letter to write in upper case ({connector.id})")
    run.expected = f"HTTP 404 {expect['error_type']} for {other}; {connector.id} unchanged"
    found = run.client.get_connector(other)
    # Two live connectors never share an index_name: the run's own, read back under the other id, is this one.
    index_name = connector.document.get("index_name")
    if found.status == 200 and isinstance(found.json, dict) and found.json.get("index_name") == index_name:
        run.observed = f"GET _connector/{other} answered {found.summary()}"
        run.fail_now(f"GET _connector/{other} answered the run's connector {connector.id}: ids matched ignoring case")
    if found.status != 404:
        raise SetupError(f"refusing to update {other}: GET answered {found.summary()} instead of 404")
    answer = run.client.update_status(other, "needs_configuration")
    run.observed = answer.summary()
    _not_found(run, answer, other)
    _still_missing(run, other)
    run.require_unchanged(connector.document, run.read(connector.id))


def check_response(run: Run) -> None:
    """The headers the official clients read, on every answer the check receives: it provokes each kind of
    answer the suite meets (201 create, 200 read and update, 400 refusal and parse error, 404, 405, 406)."""
    case = run.check.params["case"]
    if case not in _HEADER_RULES:  # pragma: no cover - the catalogue and this table are kept in step by tests
        raise KeyError(case)
    header, expected = _HEADER_RULES[case]
    connector = run.factory()
    missing_id = run.factory.unused_id()
    path = run.client.status_path(connector.id)
    run.client.update_status(connector.id, "needs_configuration")
    run.client.update_status(connector.id, "connected")
    run.client.update_status(connector.id, "foo")
    run.client.update_status(missing_id, "needs_configuration")
    run.client.request("GET", path)
    run.client.request("PUT", path, raw_body='{"status":"error"}', content_type=None)
    run.client.get_connector(connector.id)
    answers = [exchange for exchange in run.client.exchanges if exchange.status is not None]
    run.expected = f"{expected} on every answer (201, 200, 400, 404, 405 and 406 alike)"
    seen: dict[str, list[str]] = {}
    for exchange in answers:
        value = Headers(exchange.response_headers).get(header)
        seen.setdefault(repr(value), []).append(str(exchange.status))
        label = f"the HTTP {exchange.status} answer to {exchange.method} {exchange.path.split('?')[0]}"
        if case == "json-content-type":
            mime = (value or "").split(";")[0].strip().lower()
            run.require(mime in JSON_MEDIA_TYPES, f"{label} has Content-Type {value!r}, expected JSON")
        else:
            run.require(value == "Elasticsearch", f"{label} has X-Elastic-Product {value!r}, expected 'Elasticsearch'")
    run.observed = "; ".join(f"{header} {value} on HTTP {', '.join(statuses)}" for value, statuses in seen.items())
    _still_missing(run, missing_id)
    run.finish()


#: response check -> (the header, what it must say)
_HEADER_RULES = {
    "json-content-type": ("Content-Type", "Content-Type application/json (or the vendor JSON type)"),
    "x-elastic-product": ("X-Elastic-Product", "X-Elastic-Product: Elasticsearch"),
}


def check_privileges(run: Run) -> None:
    """A key with only ``monitor_connector`` may read a connector but never change its status."""
    params = run.check.params
    expect = run.spec.raw["privileges"]["expect"]
    run.expected = f"HTTP {expect['http']} {expect['error_type']} for the read-only key; connector unchanged"
    readonly = run.readonly_client() if run.readonly_client is not None else None
    if readonly is None:
        raise CheckSkipped(
            "no read-only API key: give --connector-readonly-api-key (a key with only monitor_connector)"
        )
    connector = run.factory(status=params["from"])
    try:
        readonly.start_recording()
        try:
            # The key must at least authenticate and read, or a 403 below would prove nothing.
            can_read = readonly.get_connector(connector.id)
            if can_read.status != 200:
                raise SetupError(
                    f"the read-only API key cannot read the connector: GET _connector/{connector.id} answered "
                    f"{can_read.summary()}; give a key that holds monitor_connector"
                )
            answer = readonly.update_status(connector.id, params["to"])
        except TargetUnreachable as exc:
            raise SetupError(str(exc)) from None
        finally:
            run.client.exchanges.extend(readonly.exchanges)
    finally:
        readonly.close()
    run.observed = answer.summary()
    run.require_error(answer, http=expect["http"], error_type=expect["error_type"])
    after = run.read(connector.id)
    if after.get("status") != connector.status:
        run.problems.append(
            f"the read-only key changed the status from {connector.status!r} to {after.get('status')!r}"
        )
    run.require_unchanged(connector.document, after, ignore=frozenset({"status"}))
    run.finish()
