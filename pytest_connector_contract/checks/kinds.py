"""The checks of the conformance suite: one function per kind of check, driven by the catalogue in spec.json.

A check gathers every way the target departs from the contract and fails once, listing them all
(``CheckFailed``); the harness failing to prepare a check is a ``SetupError`` instead, and a setup transition
the target refused makes the check *blocked* by that transition rather than failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_connector_contract.checks.connectors import ConnectorFactory, SetupError
from pytest_connector_contract.checks.preflight import TargetInfo
from pytest_connector_contract.client.connector import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.client.transport import Headers
from pytest_connector_contract.config.settings import Settings
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import Check, Profile, Spec

__all__ = ["KINDS", "CheckFailed", "Run"]

_JSON_TYPES = ("application/json", "application/vnd.elasticsearch+json")


class CheckFailed(AssertionError):
    """The target does not behave as Elasticsearch does; the message lists each departure."""


class Run:
    """One check being executed against the target, and the evidence it leaves for the reports."""

    def __init__(
        self,
        check: Check,
        *,
        spec: Spec,
        target: TargetInfo,
        client: ConnectorClient,
        factory: ConnectorFactory,
        settings: Settings | None = None,
        new_client: Callable[[], ConnectorClient] | None = None,
        readonly_client: Callable[[], ConnectorClient | None] | None = None,
    ) -> None:
        self.check = check
        self.spec = spec
        self.target = target
        self.profile: Profile = spec.profiles[target.profile]
        #: the release whose answers the expectations follow (Serverless counts as the newest)
        self.release = target.release(spec)
        self.client = client
        self.factory = factory
        self.expected: str | None = None
        self.observed: str | None = None
        self.problems: list[str] = []
        self.blocked_by: str | None = None
        self.deviation: str | None = None
        self.matrix: dict[str, Any] | None = None
        #: the run's settings (the checks beyond the default suite read their options from it)
        self.settings = settings or Settings()
        #: another client with the run's credentials and its own connection (for concurrent requests)
        self.new_client = new_client
        #: a client authenticated with --connector-readonly-api-key; None when no such key was given
        self.readonly_client = readonly_client
        #: evidence of the kinds beyond the default suite (see explore.py and race.py)
        self.explore: dict[str, Any] | None = None
        self.race: dict[str, Any] | None = None

    # -- evidence ---------------------------------------------------------------------------------
    def evidence(self) -> dict[str, Any]:
        return {
            "id": self.check.id,
            "category": self.check.category,
            "statement": self.check.statement,
            "source": self.check.source,
            "provenance": [dict(entry) for entry in self.check.provenance],
            "expected": self.expected,
            "observed": self.observed,
            "problems": list(self.problems),
            "blocked_by": self.blocked_by,
            "deviation": self.deviation,
            "matrix": self.matrix,
            "explore": self.explore,
            "race": self.race,
            "exchanges": [exchange.to_dict() for exchange in self.client.exchanges],
        }

    # -- requirements ----------------------------------------------------------------------------
    def require(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition

    def finish(self) -> None:
        if self.problems:
            raise CheckFailed("\n".join(self.problems))

    def fail_now(self, problem: str) -> None:
        self.problems.append(problem)
        self.finish()

    def require_http(self, answer: ApiResponse, status: int) -> bool:
        return self.require(answer.status == status, f"expected HTTP {status}, got {answer.summary()}")

    def require_schema(self, name: str, instance: Any, what: str) -> None:
        for line in schemas.problems(name, instance):
            self.problems.append(f"{what} does not match {name}.schema.json: {line}")

    def require_error(
        self,
        answer: ApiResponse,
        *,
        http: int,
        error_type: str | None = None,
        reason_contains: str | None = None,
        caused_by: Mapping[str, str] | None = None,
        error_string_contains: str | None = None,
        allow_contains: str | None = None,
    ) -> None:
        """An Elasticsearch error answer as a client reads it: the HTTP status, the body's shape, the top-level
        ``status`` (always the HTTP status), ``error.type``, ``root_cause[0]`` agreeing with the error (the
        rendered exception is its own root cause in every case of the catalogue), the cause where Elasticsearch
        gives one, and a stable part of the reason."""
        if not self.require_http(answer, http) and not (isinstance(answer.json, dict) and "error" in answer.json):
            return  # not an error answer at all: its body has nothing more to say about the error
        if not isinstance(answer.json, dict):
            self.problems.append(f"the error body is not a JSON object: {answer.body[:200]!r}")
            return
        self.require_schema("error", answer.json, "the error body")
        self.require(
            answer.json.get("status") == answer.status,
            f"expected the top-level status {answer.status} (the HTTP status), got {answer.json.get('status')!r}",
        )
        error = answer.error
        if error_type is not None and self.require(
            isinstance(error, dict), f"expected error.type {error_type!r}, got error {error!r}"
        ):
            assert isinstance(error, dict)
            self.require(
                answer.error_type == error_type,
                f"expected error.type {error_type!r}, got {answer.error_type!r}",
            )
            self.require(
                answer.root_cause_type == error_type,
                f"expected root_cause[0].type {error_type!r}, got {answer.root_cause_type!r}",
            )
            root = _first_root_cause(error)
            if root is not None:
                self.require(
                    root.get("reason") == error.get("reason"),
                    f"expected root_cause[0].reason to repeat error.reason {error.get('reason')!r}, "
                    f"got {root.get('reason')!r}",
                )
        if reason_contains is not None and isinstance(error, dict):
            self.require(
                reason_contains in (answer.error_reason or ""),
                f"expected error.reason to contain {reason_contains!r}, got {answer.error_reason!r}",
            )
        if caused_by is not None and isinstance(error, dict):
            cause = error.get("caused_by")
            if self.require(isinstance(cause, dict), f"expected error.caused_by {dict(caused_by)!r}, got {cause!r}"):
                assert isinstance(cause, dict)
                self.require(
                    cause.get("type") == caused_by["type"],
                    f"expected error.caused_by.type {caused_by['type']!r}, got {cause.get('type')!r}",
                )
                if "reason_contains" in caused_by:
                    self.require(
                        caused_by["reason_contains"] in str(cause.get("reason") or ""),
                        f"expected error.caused_by.reason to contain {caused_by['reason_contains']!r}, "
                        f"got {cause.get('reason')!r}",
                    )
        if error_string_contains is not None:
            self.require(
                isinstance(error, str) and error_string_contains in error,
                f"expected error to be a string containing {error_string_contains!r}, got {error!r}",
            )
        if allow_contains is not None:
            allow = answer.headers.get("Allow", "")
            self.require(
                allow_contains in [m.strip() for m in allow.split(",")],
                f"expected an Allow header naming {allow_contains}, got {allow!r}",
            )

    def read(self, connector_id: str) -> dict[str, Any]:
        """GET the connector (real-time): it must exist and match connector.schema.json."""
        answer = self.client.get_connector(connector_id)
        if answer.status != 200 or not isinstance(answer.json, dict):
            self.fail_now(f"GET _connector/{connector_id} afterwards answered {answer.summary()}")
        document: dict[str, Any] = answer.json
        self.require_schema("connector", document, "the connector read back")
        return document

    def require_unchanged(
        self, before: Mapping[str, Any], after: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()
    ) -> None:
        for key in sorted(set(before) | set(after)):
            if key in ignore:
                continue
            if key not in after:
                self.problems.append(f"field {key!r} disappeared (was {before[key]!r})")
            elif key not in before:
                self.problems.append(f"field {key!r} appeared ({after[key]!r})")
            elif before[key] != after[key]:
                self.problems.append(f"field {key!r} changed from {before[key]!r} to {after[key]!r}")

    def expected_failure(self, reason: str) -> None:
        """The target behaves as stock Elasticsearch of its version does, which departs from the docs."""
        self.deviation = reason
        pytest.xfail(reason)


def _first_root_cause(error: Mapping[str, Any]) -> Mapping[str, Any] | None:
    causes = error.get("root_cause")
    if isinstance(causes, list) and causes and isinstance(causes[0], dict):
        return causes[0]
    return None


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
    rules = run.spec.raw["transition"]
    allowed = run.profile.allows(current, requested)
    run.matrix = {"from": current, "to": requested, "expected": "accepted" if allowed else "refused", "observed": None}
    if allowed:
        results = rules["accepted"]["self_result" if current == requested else "result"]
        run.expected = f"HTTP 200 result {' or '.join(results)}, GET shows {requested!r}, other fields unchanged"
    else:
        run.expected = (
            f"HTTP 400 {rules['refused']['error_type']} naming both statuses, caused by "
            f"{rules['refused']['caused_by_type']}, connector unchanged"
        )
    connector = run.factory(status=current)
    answer = run.client.update_status(connector.id, requested)
    run.observed = answer.summary()
    run.matrix["observed"] = _outcome_word(answer)
    if allowed:
        if run.require_http(answer, 200):
            run.require_schema("status-response", answer.json, "the answer")
            result = answer.json.get("result") if isinstance(answer.json, dict) else None
            run.require(result in results, f"expected result {' or '.join(results)}, got {result!r}")
        after = run.read(connector.id)
        run.require(
            after.get("status") == requested,
            f"GET shows status {after.get('status')!r} after the update, expected {requested!r}",
        )
        run.require_unchanged(connector.document, after, ignore=frozenset({"status"}))
    else:
        refused = rules["refused"]
        run.require_error(
            answer,
            http=refused["http"],
            error_type=refused["error_type"],
            reason_contains=refused["reason_template"].format(**{"from": current, "to": requested}),
            caused_by={"type": refused["caused_by_type"]},
        )
        run.require_unchanged(connector.document, run.read(connector.id))
    run.finish()


def _case(run: Run) -> Any:
    case_id = run.check.params["case"]
    return next(case for case in run.spec.validation_cases if case.id == case_id)


def check_validation(run: Run) -> None:
    case = _case(run)
    if not case.applies(run.release):
        assert case.applies_to is not None
        pytest.skip(f"{run.check.id} applies to Elasticsearch {case.applies_to.text()} only")
    request, expect = case.request, case.expect_for(run.release)
    run.expected = _expect_text(expect)
    connector = run.factory()
    kwargs: dict[str, Any] = {"params": request.get("query")}
    if "json" in request:
        kwargs["json_body"] = request["json"]
    if "raw" in request:
        kwargs["raw_body"] = request["raw"]
    if "content_type" in request:
        kwargs["content_type"] = request["content_type"]
    if "accept" in request:
        kwargs["accept"] = request["accept"]
    answer = run.client.request(request.get("method", "PUT"), run.client.status_path(connector.id), **kwargs)
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
    else:  # pragma: no cover - the catalogue and this function are kept in step by the unit tests
        raise KeyError(case)
    run.finish()


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
            run.require(mime in _JSON_TYPES, f"{label} has Content-Type {value!r}, expected JSON")
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
        pytest.skip("no read-only API key: give --connector-readonly-api-key (a key with only monitor_connector)")
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


def check_explore(run: Run) -> None:
    from pytest_connector_contract.checks.explore import (
        explore,  # imports Hypothesis: only runs that explore pay for it
    )

    explore(run)


def check_race(run: Run) -> None:
    from pytest_connector_contract.checks.race import race

    race(run)


KINDS: dict[str, Callable[[Run], None]] = {
    "transition": check_transition,
    "validation": check_validation,
    "not_found": check_not_found,
    "response": check_response,
    "explore": check_explore,
    "race": check_race,
    "privileges": check_privileges,
}
