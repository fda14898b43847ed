"""The context of one check being executed: the target, the run's clients, the evidence it leaves, and the
requirements every kind of check shares (an Elasticsearch error answer read whole, "nothing else changed").

A check gathers every way the target departs from the contract and fails once, listing them all
(``CheckFailed``); the harness failing to prepare a check is a ``SetupError`` instead, and a setup transition
the target refused makes the check *blocked* by that transition rather than failed. A check that does not
apply ends with ``CheckSkipped``; one where the target behaves as stock Elasticsearch of its release does,
which departs from the documentation, ends with ``ExpectedFailure``. The plugin turns those two into a skip
and an xfail; this package never imports pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from pytest_connector_contract.checks.factory import Connector, ConnectorFactory, PreconditionFailed
from pytest_connector_contract.client.api import ApiResponse, ConnectorClient, Exchange, TargetUnreachable
from pytest_connector_contract.config.settings import Settings
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import CaseRequest, Check, Profile, Spec, TransitionExpectation
from pytest_connector_contract.contract.target import TargetInfo

__all__ = [
    "JSON_MEDIA_TYPES",
    "CheckFailed",
    "CheckSkipped",
    "ExpectedFailure",
    "Run",
    "changed_fields",
    "outcome_of",
    "send_case",
]


#: the media types of a JSON answer: plain, and the versioned vendor type the official clients ask for
JSON_MEDIA_TYPES = ("application/json", "application/vnd.elasticsearch+json")


class CheckFailed(AssertionError):
    """The target does not behave as Elasticsearch does; the message lists each departure."""


class CheckSkipped(Exception):
    """The check does not apply to this target or run (the message says why)."""


class ExpectedFailure(Exception):
    """The target answers as stock Elasticsearch of its release does, a known deviation (the message gives it)."""


#: what a check that ended by raising counts as, first match first; anything else it raises is an error (of the
#: harness, or of the target's setup)
_RAISED: tuple[tuple[type[Exception], str], ...] = (
    (PreconditionFailed, "blocked"),
    (CheckSkipped, "skipped"),
    (ExpectedFailure, "xfailed"),
    (CheckFailed, "failed"),
)


def outcome_of(raised: BaseException | None) -> tuple[str, str | None]:
    """How a check ended (None: it returned), as its outcome and message: ``passed``, ``blocked``,
    ``skipped``, ``xfailed``, ``failed`` or ``error``. The one translation of a check's end: the execution
    (against a reference too), the plugin's items (into pytest's outcomes) and the conformance result (from
    the test reports) all read it. An error names the exception's class, unless the target was unreachable:
    that message says what happened."""
    if raised is None:
        return "passed", None
    for kind, outcome in _RAISED:
        if isinstance(raised, kind):
            return outcome, str(raised)
    if isinstance(raised, TargetUnreachable):
        return "error", str(raised)
    return "error", f"{type(raised).__name__}: {raised}"


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
        #: each earlier attempt that ended in error, when the check was run again (--connector-rerun-errors)
        self.reruns: list[dict[str, Any]] = []
        self._forget_evidence()
        #: the run's settings (the checks beyond the default suite read their options from it)
        self.settings = settings or Settings()
        #: another client with the run's credentials and its own connection (for concurrent requests)
        self.new_client = new_client
        #: a client authenticated with --connector-readonly-api-key; None when no such key was given
        self.readonly_client = readonly_client
        #: runs the part of a check that must run on the thread pytest runs items on (``work()`` at once,
        #: except for a check in flight in a slot: ``CheckPool.on_main`` hands it over, see checks/ahead.py)
        self.on_main: Callable[[Callable[[], Any]], Any] = _at_once

    def _forget_evidence(self) -> None:
        self.expected: str | None = None
        self.observed: str | None = None
        self.problems: list[str] = []
        self.blocked_by: str | None = None
        self.deviation: str | None = None
        self.matrix: dict[str, Any] | None = None
        #: evidence of the kinds beyond the default suite (see explore.py and race.py)
        self.explore: dict[str, Any] | None = None
        self.race: dict[str, Any] | None = None
        #: the evidence record as it stood when the check ended, for a check that ran ahead of its turn on a
        #: client that went on to other checks (None: ``client.exchanges`` is this check's)
        self.exchanges: list[Exchange] | None = None
        #: the comparison with a reference, and what a recording keeps (see checks/execute.py)
        self.differential: dict[str, Any] | None = None

    def restart(self) -> None:
        """Start the check again from scratch (an attempt that ended in error, after its connectors were
        deleted): no evidence of the earlier attempt is left but :attr:`reruns`."""
        self._forget_evidence()
        self.client.start_recording(self.check.id)

    # -- evidence ---------------------------------------------------------------------------------
    def evidence(self) -> dict[str, Any]:
        return {
            **self.check.identity(),
            "expected": self.expected,
            "observed": self.observed,
            "problems": list(self.problems),
            "blocked_by": self.blocked_by,
            "deviation": self.deviation,
            "matrix": self.matrix,
            "explore": self.explore,
            "race": self.race,
            "differential": self.differential,
            "reruns": list(self.reruns),
            "exchanges": [
                exchange.to_dict() for exchange in (self.client.exchanges if self.exchanges is None else self.exchanges)
            ],
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
            root = answer.root_cause
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
            self.require_allow(answer, allow_contains)

    def require_allow(self, answer: ApiResponse, method: str) -> None:
        """The answer's ``Allow`` header names ``method`` (Elasticsearch joins the methods with commas)."""
        allow = answer.headers.get("Allow", "")
        self.require(
            method in [m.strip() for m in allow.split(",")],
            f"expected an Allow header naming {method}, got {allow!r}",
        )

    def require_transition(self, expect: TransitionExpectation, answer: ApiResponse, connector: Connector) -> None:
        """The answer to a ``_status`` request on ``connector`` and the connector read back, as the transition
        rules say (``expect``: the expectation for the answer given, :meth:`TransitionExpectation.for_answer`):
        accepted, the result word and the new status stored, nothing else changed; refused, the refusal read
        whole and the connector unchanged."""
        if expect.accepted:
            if self.require_http(answer, expect.http):
                self.require_schema("status-response", answer.json, "the answer")
                result = answer.json.get("result") if isinstance(answer.json, dict) else None
                self.require(result in expect.results, f"expected result {' or '.join(expect.results)}, got {result!r}")
            after = self.read(connector.id)
            self.require(
                after.get("status") == expect.requested,
                f"GET shows status {after.get('status')!r} after the update, expected {expect.requested!r}",
            )
            self.require_unchanged(connector.document, after, ignore=frozenset({"status"}))
        else:
            self.require_error(
                answer,
                http=expect.http,
                error_type=expect.error_type,
                reason_contains=expect.reason_contains,
                caused_by={"type": expect.caused_by_type} if expect.caused_by_type is not None else None,
            )
            self.require_unchanged(connector.document, self.read(connector.id))

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
        self.problems.extend(changed_fields(before, after, ignore=ignore))

    def expected_failure(self, reason: str) -> NoReturn:
        """The target behaves as stock Elasticsearch of its version does, which departs from the docs."""
        self.deviation = reason
        raise ExpectedFailure(reason)


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """How a connector read back differs from what it was, field by field, apart from ``ignore``: the one
    rule for "nothing else changed". A field that appears or disappears counts even when its value is null."""
    problems = []
    for key in sorted(set(before) | set(after)):
        if key in ignore:
            continue
        if key not in after:
            problems.append(f"field {key!r} disappeared (was {before[key]!r})")
        elif key not in before:
            problems.append(f"field {key!r} appeared ({after[key]!r})")
        elif before[key] != after[key]:
            problems.append(f"field {key!r} changed from {before[key]!r} to {after[key]!r}")
    return problems


def send_case(client: ConnectorClient, connector_id: str, request: CaseRequest) -> ApiResponse:
    """Send ``request`` (see :func:`~pytest_connector_contract.contract.spec.case_request`) to the connector's
    ``_status`` endpoint: the one way a check or a walk sends a case of the spec."""
    return client.request(
        request.method,
        client.status_path(connector_id),
        params=request.query,
        raw_body=request.body,
        content_type=request.content_type,
        accept=request.accept,
    )


def _at_once(work: Callable[[], Any]) -> Any:
    return work()
