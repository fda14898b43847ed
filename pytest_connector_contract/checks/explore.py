"""Exploration: random walks of ``_status`` requests on one connector, checked against the profile's model.

The matrix starts every cell from a fresh connector, so it cannot see a target whose answer depends on
what happened to the connector before. A walk can: it is a Hypothesis rule-based state machine whose model
is the profile's transition table (``Profile.allows``). Each generated sequence creates its own connector
(under the run prefix, deleted again in the machine's teardown) and sends, step by step, a valid or invalid
status (in any letter case) or a malformed request from the bad-input table; after each step it compares the
answer and the status read back with what Elasticsearch would do given the status the earlier steps left.

On a departure Hypothesis shrinks the sequence to the shortest one that still departs; that sequence goes
into the check's evidence (``explore.sequence``) together with a bash script of ``curl`` calls that replays
it (``explore.replay``). Everything a sequence sends is a function of Hypothesis' draws, so shrinking and
replays are deterministic, and a walk is reproducible from the run's seed (``--connector-seed``).

Bounds: a walk tries ``sequences_per_walk`` sequences of at most ``--connector-explore-steps`` steps, runs
at most ``max_sequences_per_walk`` sequences in all (shrinking included) and stops at
``--connector-explore-budget`` seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from hypothesis import HealthCheck, Phase, Verbosity, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from pytest_connector_contract.checks import extended
from pytest_connector_contract.checks.factory import Connector, ConnectorFactory, SetupError
from pytest_connector_contract.checks.run import CheckFailed, Run, changed_fields, send_case
from pytest_connector_contract.client import curl
from pytest_connector_contract.client.api import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.contract.spec import (
    CaseRequest,
    Spec,
    TransitionExpectation,
    ValidationCase,
    case_request,
    check_id,
    expect_transition,
)

__all__ = ["Departure", "ExploreFailed", "Step", "curl_script", "explore", "reproduce_command"]

#: how a status is written in a request: Elasticsearch matches case-insensitively and stores lower case
CASINGS = ("lower", "upper", "title")


def bad_inputs(spec: Spec, release: tuple[int, int, int]) -> tuple[ValidationCase, ...]:
    """The bad-input cases that ``release`` refuses whatever the connector's status.

    Cases that store a status (letter case, vendor media type) are covered by the status rule's casing;
    cases that do not apply to the release, and cases where the release departs from the documentation (a
    known deviation), are left out.
    """
    return tuple(
        case
        for case in spec.validation_cases
        if case.applies(release)
        and "stored_status" not in case.expect_for(release)
        and spec.deviation_for(check_id("validation", case.id), release) is None
    )


class Departure(AssertionError):
    """The target answered one step of a sequence differently from Elasticsearch.

    Always raised from the same line, so that Hypothesis sees one kind of failure and shrinks towards the
    shortest sequence showing any departure.
    """


class ExploreFailed(CheckFailed):
    """A walk found a departure; ``details`` holds the shortest sequence and its replay script."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Action:
    """What one step asks for, independent of the connector's status: Hypothesis draws these."""

    kind: str  # "status" or "bad-input"
    status: str | None = None
    casing: str = "lower"
    case: ValidationCase | None = None

    def simpler(self) -> Action | None:
        """The same step with the status in lower case, when it is not already."""
        if self.kind == "status" and self.casing != "lower":
            return Action("status", self.status, "lower")
        return None


@dataclass
class Step:
    """One request of a sequence and what came of it."""

    number: int
    action: Action
    label: str
    # the request, as case_request writes it
    method: str
    query: dict[str, str] | None
    content_type: str | None
    accept: str | None
    body: str | None
    before: str
    expected_http: int
    expected: str
    expected_status: str
    #: what a status step's transition must answer (None for a bad input)
    transition: TransitionExpectation | None = None
    observed: str | None = None
    read_status: str | None = None
    problems: list[str] = field(default_factory=list)
    path_suffix: str = "/_status"  # appended to /_connector/<id>

    @property
    def request(self) -> CaseRequest:
        return CaseRequest(
            method=self.method, query=self.query, body=self.body, content_type=self.content_type, accept=self.accept
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "action": self.action.kind,
            "label": self.label,
            "request": {
                "method": self.method,
                "path": "/_connector/<id>" + self.path_suffix,
                "query": self.query,
                "content_type": self.content_type,
                "body": self.body,
            },
            "before": self.before,
            "expected": self.expected,
            "expected_status": self.expected_status,
            "observed": self.observed,
            "read_status": self.read_status,
            "problems": list(self.problems),
        }

    def line(self) -> str:
        text = f"{self.number}. {self.label} on {self.before}: expected {self.expected}, got {_short(self.observed)}"
        if self.read_status is not None:
            text += f", GET shows {self.read_status}"
        return text + ("  <- departs from Elasticsearch" if self.problems else "")


class Walk:
    """What one ``explore[i]`` item shares across the sequences it runs: target, model, budget, evidence."""

    def __init__(self, run: Run, walk: int, run_seed: int) -> None:
        raw = run.spec.raw["explore"]
        self.run = run
        self.walk = walk
        self.seed = run_seed
        self.client: ConnectorClient = run.client
        self.factory: ConnectorFactory = run.factory
        self.profile = run.profile
        self.release = run.release
        self.steps = run.settings.explore_steps
        self.budget = run.settings.explore_budget
        self.sequences_per_walk: int = raw["sequences_per_walk"]
        self.max_sequences: int = raw["max_sequences_per_walk"]
        # Hypothesis may spend a quarter of the sequences on generating and shrinking; the final pass
        # that drops single steps (minimise) has the rest.
        self.hypothesis_sequences = self.max_sequences // 4
        self.started = time.monotonic()
        self.first_request = run.client.request_count
        self.sequences = 0
        self.stopped: str | None = None
        self.aborted: BaseException | None = None
        self.current: list[Step] = []
        self.failing: list[Step] | None = None
        #: a digest of every request the walk sent, in order: equal for equal seeds against equal targets
        self.trace = hashlib.sha256()

    @property
    def requests(self) -> int:
        return self.client.request_count - self.first_request

    def out_of_budget(self, limit: int) -> str | None:
        if self.sequences >= limit:
            return f"after {self.sequences} sequences (the walk's limit)"
        if self.sequences and time.monotonic() - self.started > self.budget:  # at least one sequence runs
            return f"after {self.budget:g} s (--connector-explore-budget)"
        return None

    # -- one sequence inside Hypothesis (called by the machine) -------------------------------------
    def begin(self) -> Connector | None:
        """A new connector for the sequence Hypothesis starts, or None to run it dry.

        Once the walk is out of budget (or the harness failed) sequences still draw their steps but send
        nothing, so they pass at once: Hypothesis then finishes quickly, keeping the shortest departure
        it has. Turning sequences away instead (``reject()``) would look to Hypothesis like data
        generation that depends on external state. Hypothesis' final replay of its result always runs.
        """
        if not current_build_context().is_final:  # Hypothesis' final replay (tests/test_private_apis.py)
            if self.aborted is not None:
                return None
            exhausted = self.out_of_budget(self.hypothesis_sequences)
            if exhausted:
                # Hypothesis' share is spent; minimise() finishes shrinking. Only the clock is news.
                if "explore-budget" in exhausted:
                    self.stopped = self.stopped or exhausted
                return None
        try:
            return self.new_connector()
        except (SetupError, TargetUnreachable) as exc:
            self.aborted = self.aborted or exc
            return None

    def abort(self, exc: BaseException) -> NoReturn:
        """The harness, not the target, failed: stop the walk without making Hypothesis shrink it."""
        self.aborted = self.aborted or exc
        reject()

    def depart(self, step: Step) -> None:
        self.failing = list(self.current)
        raise Departure(f"step {step.number}: " + "; ".join(step.problems))

    # -- sequences, inside Hypothesis or replayed by minimise() ---------------------------------------
    def new_connector(self) -> Connector:
        self.sequences += 1
        self.trace.update(b"\n--\n")
        self.current = []
        self.client.start_recording()  # the evidence is the last sequence: the shortest after a failure
        return self.factory.create()

    def end(self, connector: Connector | None) -> None:
        if connector is None:
            return
        try:
            self.factory.delete_now(connector.id)
        except TargetUnreachable as exc:
            self.aborted = self.aborted or exc

    def perform(self, connector: Connector, before: str, action: Action) -> Step:
        """Send one step, read the connector back, and note every way the target departs from the model."""
        step = self._step(action, before)
        self.current.append(step)
        self.trace.update(f"{step.method} {step.query} {step.content_type} {step.body}\n".encode())
        answer = send_case(self.client, connector.id, step.request)
        step.observed = answer.summary()
        if step.transition is not None and step.transition.unsure:
            # a transition this release's sources do not pin: the other answer is as good
            chosen = step.transition.for_answer(answer.status)
            step.transition, step.expected_http, step.expected_status = chosen, chosen.http, chosen.status_after
            step.expected = _expected(chosen)
        self._judge(step, answer)
        read = self.client.get_connector(connector.id)
        after = read.json if read.status == 200 and isinstance(read.json, dict) else None
        if after is None:
            step.problems.append(f"GET _connector/<id> afterwards answered {read.summary()}")
            return step
        step.read_status = after.get("status")
        _require(
            step,
            step.read_status == step.expected_status,
            f"GET shows status {step.read_status!r}, expected {step.expected_status!r}",
        )
        step.problems.extend(changed_fields(connector.document, after, ignore=frozenset({"status"})))
        return step

    def replay(self, actions: list[Action]) -> list[Step] | None:
        """Run ``actions`` on a new connector outside Hypothesis; the steps up to a departure, or None."""
        connector = self.new_connector()
        try:
            model = "created"
            for action in actions:
                step = self.perform(connector, model, action)
                if step.problems:
                    return list(self.current)
                model = step.expected_status
            return None
        finally:
            self.end(connector)

    def minimise(self) -> None:
        """Drop single steps (and write statuses in lower case) while the sequence still departs.

        Hypothesis' shrinking usually gets close; this deterministic pass guarantees that no single step
        of the reported sequence can be left out.
        """
        assert self.failing is not None
        actions = [step.action for step in self.failing]
        last_departed = True  # the exchanges on record are those of the sequence that departed last
        index = 0
        while index < len(actions):
            simpler = actions[index].simpler()
            candidates = [("drop", [*actions[:index], *actions[index + 1 :]])] if index < len(actions) - 1 else []
            if simpler is not None:
                candidates.append(("simplify", [*actions[:index], simpler, *actions[index + 1 :]]))
            move_on = True
            for kind, candidate in candidates:
                exhausted = self.out_of_budget(self.max_sequences)
                if exhausted:
                    self.stopped = self.stopped or f"while shrinking, {exhausted}"
                    candidates = []
                    index = len(actions)
                    break
                steps = self.replay(candidate)
                last_departed = steps is not None
                if steps is not None:
                    self.failing = steps
                    actions = [step.action for step in steps]
                    move_on = kind == "simplify"  # after a drop, the next step now sits at this index
                    break
            if move_on:
                index += 1
        if not last_departed:
            final = self.replay(actions)
            if final is not None:
                self.failing = final

    # -- expectations -------------------------------------------------------------------------------
    def _step(self, action: Action, before: str) -> Step:
        number = len(self.current) + 1
        if action.kind == "status":
            assert action.status is not None
            expect = expect_transition(
                self.run.spec, self.profile, before, action.status, strict_results=self.run.settings.strict_results
            )
            sent = _cased(action.status, action.casing)
            return Step(
                number=number,
                action=action,
                label=f"PUT _status {sent!r}",
                **asdict(case_request({"json": {"status": sent}})),
                before=before,
                expected_http=expect.http,
                expected=_expected(expect),
                expected_status=expect.status_after,
                transition=expect,
            )
        assert action.case is not None
        expect_case = action.case.expect_for(self.release)
        expected = f"HTTP {expect_case['http']}" + (
            f" {expect_case['error_type']}" if "error_type" in expect_case else ""
        )
        return Step(
            number=number,
            action=action,
            label=f"bad input {action.case.id}",
            **asdict(case_request(action.case.request)),
            before=before,
            expected_http=expect_case["http"],
            expected=f"{expected}, connector unchanged",
            expected_status=before,
        )

    def _judge(self, step: Step, answer: ApiResponse) -> None:
        if not _require(step, answer.status == step.expected_http, f"expected {step.expected}, got {answer.summary()}"):
            return
        transition = step.transition
        if transition is not None:
            if transition.accepted:
                words = transition.results
                result = answer.json.get("result") if isinstance(answer.json, dict) else None
                _require(step, result in words, f"expected result {' or '.join(words)}, got {result!r}")
                return
            reason = transition.reason_contains
            _require(
                step,
                answer.error_type == transition.error_type,
                f"expected error.type {transition.error_type!r}, got {answer.error_type!r}",
            )
            _require(
                step,
                reason is not None and reason in (answer.error_reason or ""),
                f"expected a reason containing {reason!r}, got {answer.error_reason!r}",
            )
            return
        assert step.action.case is not None
        expect = step.action.case.expect_for(self.release)
        if "error_type" in expect:
            _require(
                step,
                answer.error_type == expect["error_type"],
                f"expected error.type {expect['error_type']!r}, got {answer.error_type!r}",
            )
        if "error_string_contains" in expect:
            _require(
                step,
                isinstance(answer.error, str) and expect["error_string_contains"] in answer.error,
                f"expected error to be a string containing {expect['error_string_contains']!r}, got {answer.error!r}",
            )

    # -- evidence -------------------------------------------------------------------------------------
    def evidence(self) -> dict[str, Any]:
        return {
            "walk": self.walk,
            "seed": self.seed,
            "reproduce": reproduce_command(self.run),
            "steps": self.steps,
            "sequences": self.sequences,
            "requests": self.requests,
            "stopped": self.stopped,
            "fingerprint": self.trace.hexdigest(),
            "sequence": [step.to_dict() for step in self.failing] if self.failing else None,
            "replay": curl_script(self.run, self.failing) if self.failing else None,
        }


def _short(text: str | None, limit: int = 90) -> str:
    text = text or "no answer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cased(status: str, casing: str) -> str:
    if casing == "upper":
        return status.upper()
    if casing == "title":
        return status.title()
    return status


def _machine(walk: Walk) -> type[RuleBasedStateMachine]:
    statuses = list(walk.run.spec.statuses)
    cases = bad_inputs(walk.run.spec, walk.release)

    class StatusWalk(RuleBasedStateMachine):
        """One sequence: a fresh connector, then status updates and bad inputs, each checked at once."""

        def __init__(self) -> None:
            super().__init__()
            self.connector: Connector | None = None
            self.connector = walk.begin()
            self.model = "created"

        @rule(status=st.sampled_from(statuses), casing=st.sampled_from(CASINGS))
        def set_status(self, status: str, casing: str) -> None:
            self._do(Action("status", status, casing))

        @rule(case=st.sampled_from(cases))
        def bad_input(self, case: ValidationCase) -> None:
            self._do(Action("bad-input", case=case))

        def _do(self, action: Action) -> None:
            if self.connector is None:  # a dry run: see Walk.begin
                return
            try:
                step = walk.perform(self.connector, self.model, action)
            except TargetUnreachable as exc:
                walk.abort(exc)
            if step.problems:
                walk.depart(step)
            self.model = step.expected_status

        def teardown(self) -> None:
            walk.end(self.connector)

    return StatusWalk


def _require(step: Step, condition: bool, problem: str) -> bool:
    if not condition:
        step.problems.append(problem)
    return condition


def explore(run: Run) -> None:
    """Run one walk (``explore[i]``) against the target; raise :class:`ExploreFailed` on a departure."""
    number: int = run.check.params["walk"]
    run_seed: int = run.check.params["seed"]
    walk = Walk(run, number, run_seed)
    run.explore = walk.evidence()
    run.expected = (
        f"every step answered as Elasticsearch {run.profile.name} does, over {walk.sequences_per_walk} random "
        f"sequences of up to {walk.steps} steps"
    )
    # A class of its own for every walk: @seed on a state machine class seeds the runs made from it.
    machine = seed(f"connector-contract:{run_seed}:{number}")(_machine(walk))
    options = settings(
        max_examples=walk.sequences_per_walk,
        stateful_step_count=walk.steps,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    flaky = False
    try:
        with _seed_only():
            run_state_machine_as_test(machine, settings=options)
    except Departure:
        pass
    except (Unsatisfiable, Flaky):
        # The harness failed in the middle of a sequence (reported below), or the shortest sequence did
        # not depart again when Hypothesis replayed it (a flaky target: reported as such).
        flaky = walk.failing is not None and walk.aborted is None
        if not flaky and walk.aborted is None:
            raise
    if walk.failing is not None and walk.aborted is None:
        try:
            walk.minimise()
        except (SetupError, TargetUnreachable) as exc:
            walk.aborted = exc
    run.explore = walk.evidence()
    if walk.aborted is not None:
        raise SetupError(f"the walk stopped: {walk.aborted}") from None
    if walk.failing is None:
        run.observed = f"{walk.sequences} sequences, {walk.requests} requests, no departure" + (
            f" (stopped {walk.stopped})" if walk.stopped else ""
        )
        return
    last = walk.failing[-1]
    run.observed = f"step {last.number} of {len(walk.failing)}: {last.observed}"
    run.problems.append(
        f"after {len(walk.failing) - 1} earlier step(s), step {last.number} ({last.label} on a connector in "
        f"{last.before!r}) departs from Elasticsearch: " + "; ".join(last.problems)
    )
    if flaky:
        run.problems.append("the departure did not reproduce when the shortest sequence was replayed (a flaky target)")
    details = "\n".join(
        [
            f"shortest failing sequence ({len(walk.failing)} steps; seed {run_seed}, walk {number}; "
            f"reproduce: {reproduce_command(run)}):",
            *(f"  {step.line()}" for step in walk.failing),
            "replay it with curl (also in the JSON report, explore.replay):",
            *(f"  {line}" for line in (run.explore.get("replay") or "").splitlines()),
        ]
    )
    raise ExploreFailed("\n".join(run.problems), details)


class SeedWarning(UserWarning):
    """The exploration walks may not be reproducible from their seed alone (see :func:`_seed_only`)."""


#: where Hypothesis keeps the constants it collects from local modules, and what :func:`_seed_only` uses there
HYPOTHESIS_PROVIDERS = "hypothesis.internal.conjecture.providers"
HYPOTHESIS_CONSTANTS = "hypothesis.internal.constants_ast"


@contextlib.contextmanager
def _seed_only() -> Iterator[None]:
    """Make the walk a function of its seed alone.

    Newer Hypothesis releases mix constants found in the source of every loaded local module into their
    draws, so the walks would change with whatever happens to be imported (the embedded target, the user's
    conftest files), and a seed would not reproduce a walk elsewhere. For the duration of a walk that pool
    is empty. This patches Hypothesis internals on purpose (tests/test_private_apis.py checks them): on a
    release without the feature it does nothing; on one where the internals moved it warns
    (:class:`SeedWarning`) and lets the walk run as Hypothesis draws it.
    """
    if importlib.util.find_spec(HYPOTHESIS_CONSTANTS) is None:  # a release that draws no local constants
        yield
        return
    patch = _local_constants_patch()
    if isinstance(patch, str):
        warnings.warn(
            f"connector-contract: cannot keep Hypothesis from drawing constants of local modules ({patch}); "
            "the exploration walks may not be reproducible from their seed alone",
            SeedWarning,
            stacklevel=3,
        )
        yield
        return
    providers, original, empty = patch
    providers.CONSTANTS_CACHE.cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()


def _local_constants_patch() -> tuple[Any, Any, Any] | str:
    """``(providers module, its _get_local_constants, an empty Constants)``, or what is missing."""
    try:
        providers: Any = importlib.import_module(HYPOTHESIS_PROVIDERS)
    except ImportError:
        return f"no module {HYPOTHESIS_PROVIDERS}"
    original = getattr(providers, "_get_local_constants", None)
    constants = getattr(providers, "Constants", None)
    cache: Any = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if not callable(original) or constants is None or not hasattr(cache, "clear"):
        return f"{HYPOTHESIS_PROVIDERS} has no _get_local_constants, Constants or CONSTANTS_CACHE.cache"
    try:
        empty = constants()
    except TypeError as exc:
        return f"Constants() cannot be made empty: {exc}"
    return providers, original, empty


def reproduce_command(run: Run) -> str:
    """The command line that runs the same walks against the same target again."""
    walks = max(run.settings.explore, run.check.params["walk"])
    return extended.reproduce_command(run.settings, run.target, walks, run.check.params["seed"])


def curl_script(run: Run, steps: list[Step]) -> str:
    """A bash script of ``curl`` calls replaying ``steps`` on a new connector (see :func:`curl.replay_script`)."""
    title = f"{run.check.id}, seed {run.check.params.get('seed')}: {len(steps)} step(s)"
    return curl.replay_script(title, run.profile.name, steps, hard_delete=bool(run.target.soft_delete))


def _expected(expect: TransitionExpectation) -> str:
    """A walk step's expected answer, as its report line shows it."""
    if expect.accepted:
        return f"HTTP {expect.http} {' or '.join(expect.results)}"
    return f"HTTP {expect.http} {expect.error_type}"
