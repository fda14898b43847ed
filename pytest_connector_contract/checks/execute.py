"""Executing one check: the one function that runs a check, whether its pytest item runs it (serially) or a
slot of the pool runs it ahead of its item's turn (``checks/ahead.py``), and whether or not it is judged against
a reference as well.

:func:`execute` runs the check against the target; with a reference (a live cluster, or a recording) it also
runs it there on connectors of its own (or reads the recorded run), compares the two runs step by step
(``differential/``), and ends as the outcome table says (``differential.compare.combine``). It returns what came
of the check instead of raising it, so that the same outcome can be produced on one thread and raised on
another (the item's), where the plugin translates it into pytest's outcomes. It keeps no state of its own:
everything it touches belongs to the check (its Run, its reference client) or is thread-safe (the Ledgers,
the rate limiter), so checks may execute in threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_connector_contract.checks.catalogue import runner
from pytest_connector_contract.checks.factory import ConnectorFactory, PreconditionFailed
from pytest_connector_contract.checks.run import CheckFailed, Run, outcome_of
from pytest_connector_contract.client.api import ConnectorClient, RunStopped
from pytest_connector_contract.config.settings import Settings
from pytest_connector_contract.contract.spec import Check, Spec, version_text
from pytest_connector_contract.contract.target import TargetInfo
from pytest_connector_contract.differential.compare import COMPARABLE, combine, compare_steps, difference_lines
from pytest_connector_contract.differential.normalise import normalise_exchanges, normalise_text
from pytest_connector_contract.differential.recording import Recording

__all__ = ["NOT_COMPARED_KINDS", "LiveReference", "Outcome", "Reference", "execute", "own_outcome"]

#: kinds of checks that are never compared with a reference, and why (they run against the target alone)
NOT_COMPARED_KINDS = {
    "explore": "a walk chooses each request from the answers it got, so two runs do not send the same requests; "
    "the walk itself checks every step against the profile's state machine",
    "race": "which of the racing requests wins depends on timing, so two runs' answers are not comparable",
    "privileges": "the reference is given no read-only key (the check needs --connector-readonly-api-key)",
    "official_client": "the check judges what the official client makes of the target's answers; the other checks "
    "compare those answers with the reference",
}


@dataclass
class LiveReference:
    """A live reference cluster: its identity, and how to run a check there on connectors of its own (ids under
    the run's prefix, created and deleted through its own Ledger, exactly as on the target)."""

    target: TargetInfo
    spec: Spec
    settings: Settings
    new_client: Callable[[], ConnectorClient]
    #: a factory over a reference client: the run's ids, the reference's own Ledger and deletion rules
    new_factory: Callable[[ConnectorClient], ConnectorFactory]
    id_prefix: str

    @property
    def release(self) -> tuple[int, int, int]:
        return self.target.release(self.spec)

    def describe(self) -> dict[str, Any]:
        return {
            "source": "live",
            "url": self.target.url,
            "product": self.target.product,
            "version": self.target.version,
            "release": version_text(self.release),
        }

    def run(
        self, check: Check, on_main: Callable[[Callable[[], Any]], Any]
    ) -> tuple[str, str | None, list[dict[str, Any]], list[str]]:
        """Run ``check`` on the reference: its own outcome, message and normalised steps, and a line for each
        connector it created there that could not be deleted when it ended (those stay in the Ledger: the
        session's clean-up tries again, and reports what remains). ``on_main``: the target's run's
        (``Run.on_main``), so that a check in flight in a slot hands over its client's part here too."""
        client = self.new_client()
        try:
            client.start_recording(check.id)
            factory = self.new_factory(client)
            run = Run(check, spec=self.spec, target=self.target, client=client, factory=factory, settings=self.settings)
            run.on_main = on_main
            outcome, message, _ = own_outcome(run)
            message = normalise_text(message, self.id_prefix)
            steps = normalise_exchanges([exchange.to_dict() for exchange in client.exchanges], self.id_prefix)
            problems = factory.cleanup()
        finally:
            client.close()
        return outcome, message, steps, problems


Reference = LiveReference | Recording


def own_outcome(run: Run) -> tuple[str, str | None, Exception | None]:
    """Run the check's body; its outcome against the suite's expectations, the message, and what it raised."""
    try:
        runner(run.check.kind)(run)
    except Exception as exc:
        return (*outcome_of(exc), exc)
    return "passed", None, None


@dataclass
class Outcome:
    """What came of one check: the exception it ended with (None: passed), and how long it took."""

    #: CheckFailed, CheckSkipped, ExpectedFailure, PreconditionFailed, SetupError, TargetUnreachable, or a bug
    error: Exception | None
    #: seconds the check itself took, on the reference too (its connectors' final clean-up is not part of it)
    duration: float


def execute(run: Run, reference: Reference | None = None, *, record: bool = False, reruns: int = 0) -> Outcome:
    """Execute one check against the target (``run``) and, given a reference, judge it against that too.

    ``record``: keep the normalised steps and the own outcome as evidence (``run.differential``), for
    ``--connector-record``. The outcome's error is what the check's body raised, or ``CheckFailed`` listing
    the differences side by side where the comparison fails the check. Ctrl-C (KeyboardInterrupt) is not an
    outcome: it propagates.

    ``reruns`` (``--connector-rerun-errors``): an attempt that ends in error (the target unreachable, a
    timeout, a setup request refused) is run again from scratch, at most that many times: its connectors are
    deleted, its evidence forgotten but for a line in ``run.reruns``, and the next attempt creates connectors of
    its own. A check that failed, was blocked or passed is never run again, nor one the run's stop cut short.
    This is the one place that does it: the item's serial path and the pool's slots both come here."""
    started = time.perf_counter()
    while True:
        error = _attempt(run, reference, record=record)
        ended, message = outcome_of(error)
        if ended != "error" or isinstance(error, RunStopped) or len(run.reruns) >= reruns:
            return Outcome(error, time.perf_counter() - started)
        left = run.factory.cleanup()  # what it could not delete stays in the ledger, for the run's clean-up
        if left:
            message = f"{message} (not deleted before the rerun: {'; '.join(left)})"
        run.reruns.append({"attempt": len(run.reruns) + 1, "outcome": ended, "message": message})
        run.restart()


def _attempt(run: Run, reference: Reference | None, *, record: bool) -> Exception | None:
    """One attempt of :func:`execute`: what the check ended with (None: it passed)."""
    try:
        _execute(run, reference, record=record)
    except Exception as exc:
        if isinstance(exc, PreconditionFailed):
            run.blocked_by = exc.blocked_by
        return exc
    return None


def _execute(run: Run, reference: Reference | None, *, record: bool) -> None:
    """Returns for a pass; raises as the check's body does otherwise (see :func:`execute`)."""
    if reference is None and not record:
        runner(run.check.kind)(run)
        return
    own, message, raised = own_outcome(run)
    steps = normalise_exchanges([exchange.to_dict() for exchange in run.client.exchanges], run.factory.id_prefix)
    message = normalise_text(message, run.factory.id_prefix)
    evidence: dict[str, Any] = {"own_outcome": own, "own_message": message, "steps": steps}
    run.differential = evidence
    if reference is not None:
        _judge(run, own, steps, reference, evidence)
        if evidence.get("reference_cleanup") and not isinstance(raised, CheckFailed | PreconditionFailed):
            # As on the target, where the fixture's teardown errs: a check that leaves connectors behind is
            # not a pass (they stay held, and are listed as NOT DELETED if the session's clean-up fails too).
            where = reference.describe()["url"]
            raise RuntimeError(
                f"could not delete connectors the check created on the reference cluster {where}: "
                + "; ".join(evidence["reference_cleanup"])
            )
        if evidence.get("outcome") == "passed" and own != "passed":
            return  # the target fails as the reference does: the reference departs (listed in the reports)
    if raised is not None:
        raise raised


def _judge(run: Run, own: str, steps: list[dict[str, Any]], reference: Reference, evidence: dict[str, Any]) -> None:
    """Compare with the reference and record the verdict in ``evidence``; raise ``CheckFailed`` when the
    verdict is a failure the target's own run did not already raise."""
    evidence.update(reference=reference.describe(), compared=False, differences=[], listing=None)
    kind_reason = NOT_COMPARED_KINDS.get(run.check.kind)
    if kind_reason is not None:
        evidence["not_compared"] = f"not compared: {kind_reason}"
        return
    if isinstance(reference, Recording):
        entry = reference.checks.get(run.check.id)
        if entry is None:  # the plugin refuses such a run before any check; a caller of this function may not
            evidence["not_compared"] = f"not compared: {reference.path} has no answers for {run.check.id}"
            return
        ref_own, ref_message, ref_steps = entry["outcome"], entry.get("message"), list(entry["steps"])
    else:
        ref_own, ref_message, ref_steps, cleanup = reference.run(run.check, run.on_main)
        if cleanup:
            evidence["reference_cleanup"] = cleanup
    evidence["reference"].update(outcome=ref_own, message=ref_message)
    if own not in COMPARABLE or ref_own not in COMPARABLE:
        evidence["not_compared"] = (
            f"not compared: the check was {own} on the target and {ref_own} on the reference; only a check that "
            "ran on both is compared, so the outcome is the target's alone"
        )
        return
    same_release = run.release == reference.release
    differences = compare_steps(steps, ref_steps, same_release=same_release)
    verdict = combine(own, ref_own, bool(differences), same_release=same_release)
    evidence.update(
        compared=True,
        differences=differences,
        listing=verdict.listing,
        explanation=verdict.explanation,
        outcome=verdict.outcome,
        same_release=same_release,
    )
    if verdict.outcome == "passed" and own == "failed":
        evidence["target_problems"] = list(run.problems)
        run.problems.clear()
    elif verdict.outcome == "failed":
        release = evidence["reference"]["release"]
        run.problems.extend(f"unlike the reference ({release}): {line}" for line in difference_lines(differences))
        raise CheckFailed("\n".join(run.problems))
