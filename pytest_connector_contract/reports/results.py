"""Outcome collection: test reports (local or from xdist workers) -> one conformance result.

Each check's evidence travels on its test report (``report.connector_check``), which pytest serialises,
so the same aggregation works for serial and parallel runs.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_connector_contract import __version__
from pytest_connector_contract.client.curl import reproduction
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import Check, Spec, expect_transition, transition_id, version_text
from pytest_connector_contract.contract.target import TargetInfo
from pytest_connector_contract.differential.compare import CHANGED_AS_DOCUMENTED, REFERENCE_DEPARTS
from pytest_connector_contract.reports import provenance
from pytest_connector_contract.reports.baseline import Baseline
from pytest_connector_contract.reports.previous import compare
from pytest_connector_contract.reports.verdict import verdict

if TYPE_CHECKING:
    import pytest

__all__ = ["OUTCOMES", "Conformance", "beyond_sections", "official_client_note"]

OUTCOMES = ("passed", "failed", "error", "blocked", "skipped", "xfailed", "xpassed")
#: outcomes that count as a check executed against the target
_EXECUTED = frozenset({"passed", "failed", "error", "blocked", "xfailed", "xpassed"})
#: outcomes that keep a run conformant
_CONFORMANT = frozenset({"passed", "xfailed", "skipped"})
#: outcomes whose evidence (exchanges and a curl reproduction) the reports show
_SHOW_EVIDENCE = frozenset({"failed", "error", "blocked", "xfailed"})
_XPASS_STRICT = "[XPASS(strict)]"
_EVIDENCE_KEYS = (
    "expected",
    "observed",
    "problems",
    "blocked_by",
    "deviation",
    "matrix",
    "exchanges",
    "explore",
    "race",
    "differential",
    "reruns",
)
_OPTIONAL_EVIDENCE_KEYS = ("explore", "race", "differential", "reruns")


class Conformance:
    """Everything the reports need, built from test reports as they arrive."""

    def __init__(self, spec: Spec, extra: Sequence[Check] = ()) -> None:
        self.spec = spec
        #: the checks beyond the default suite that this run collects (exploration, races, privileges)
        self.extra = tuple(extra)
        self.checks: dict[str, dict[str, Any]] = {}
        self.started = _dt.datetime.now(_dt.UTC)
        self.leftovers: list[str] = []
        #: the team's accepted deviations (--connector-baseline), set on the process that aggregates
        self.baseline: Baseline | None = None
        #: a previous report to compare with (--connector-compare): its path as given, and its data
        self.previous: tuple[str, dict[str, Any]] | None = None
        #: the reference each check was compared with (a live cluster or a recording), as the reports show it
        self.reference: dict[str, Any] | None = None
        #: --connector-strict: the baseline is ignored (a certification run)
        self.strict = False
        #: --connector-implementation: what was tested, NAME@VERSION
        self.implementation: str | None = None

    def add(self, report: pytest.TestReport) -> None:
        data = getattr(report, "connector_check", None)
        if not isinstance(data, dict):
            return
        entry = self.checks.setdefault(
            data["id"],
            {
                "id": data["id"],
                "category": data["category"],
                "statement": data["statement"],
                "source": data["source"],
                "provenance": data.get("provenance") or [],
                "outcome": None,
                "message": None,
                "duration": 0.0,
                **{key: None for key in _EVIDENCE_KEYS},
            },
        )
        entry["duration"] = round(entry["duration"] + float(report.duration), 6)
        for key in _EVIDENCE_KEYS:
            if data.get(key) not in (None, []):
                entry[key] = data[key]
        outcome, message = _outcome(report, data)
        if outcome == "xpassed" and self.baseline is not None:
            message = self._stale_message(data["id"]) or message
        if report.when == "teardown":
            if outcome == "error" and entry["outcome"] in ("passed", None):
                entry["outcome"], entry["message"] = "error", f"teardown: {message}"
            return
        if outcome is not None:
            entry["outcome"], entry["message"] = outcome, message

    # -- derived results ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for entry in self.checks.values():
            if entry["outcome"] in counts:
                counts[entry["outcome"]] += 1
        counts["total"] = sum(counts[o] for o in OUTCOMES)
        return counts

    def executed(self) -> int:
        return sum(1 for e in self.checks.values() if e["outcome"] in _EXECUTED)

    def xfailed_by_baseline(self) -> int:
        """Expected failures the team accepted (as opposed to where stock Elasticsearch itself deviates)."""
        return sum(1 for e in self.checks.values() if e["outcome"] == "xfailed" and not e.get("deviation"))

    def score(self) -> float:
        """The share of executed checks where the target behaves as Elasticsearch does.

        A check xfailed because stock Elasticsearch of that version deviates counts as conforming; one
        xfailed by the team's baseline does not (the baseline keeps the verdict, not the score).
        """
        executed = self.executed()
        if not executed:
            return 0.0
        good = sum(1 for e in self.checks.values() if e["outcome"] in ("passed", "xfailed"))
        return round((good - self.xfailed_by_baseline()) / executed, 6)

    def baseline_problems(self) -> list[dict[str, str]]:
        """Baseline entries that fail the run: expired ones, and ones whose check now passes."""
        if self.baseline is None:
            return []
        problems = [
            {
                "check": entry.check,
                "kind": "expired",
                "message": f"baseline entry {entry.check} expired on {entry.expires} (reason: {entry.reason}); "
                "fix the deviation or renew the entry",
            }
            for entry in self.baseline.expired()
        ]
        for check_id in self.baseline.applied():
            if (self.checks.get(check_id) or {}).get("outcome") == "xpassed":
                problems.append({"check": check_id, "kind": "passes", "message": self._stale_message(check_id) or ""})
        return problems

    def _stale_message(self, check_id: str) -> str | None:
        if self.baseline is None or self.baseline.entry(check_id) is None:
            return None
        return (
            f"baseline entry {check_id} no longer fails: the check passes now; "
            f"remove the entry from {self.baseline.path} (the baseline must shrink)"
        )

    def conformant(self) -> bool:
        """Every check that ran passed, or failed only as stock Elasticsearch or the team's baseline expects."""
        return (
            self.executed() > 0
            and all(e["outcome"] in _CONFORMANT for e in self.checks.values())
            and not any(p["kind"] == "expired" for p in self.baseline_problems())
        )

    def summary(self, counts: dict[str, int] | None = None) -> dict[str, Any]:
        """The report's ``summary``: the verdict, the score and the counts."""
        summary: dict[str, Any] = {
            "conformant": self.conformant(),
            "score": self.score(),
            "executed": self.executed(),
            **(self.counts() if counts is None else counts),
            "xfailed_baseline": self.xfailed_by_baseline(),
            "strict": self.strict,
        }
        summary["verdict"] = verdict(summary)
        return summary

    def matrix(self, profile: str) -> dict[str, dict[str, dict[str, Any]]]:
        table = self.spec.profiles[profile]
        grid: dict[str, dict[str, dict[str, Any]]] = {}
        for current in self.spec.statuses:
            row = grid.setdefault(current, {})
            for requested in self.spec.statuses:
                check_id = transition_id(current, requested)
                entry = self.checks.get(check_id)
                cell = (entry or {}).get("matrix") or {}
                row[requested] = {
                    "check": check_id,
                    "expected": expect_transition(self.spec, table, current, requested).word,
                    "observed": cell.get("observed"),
                    "outcome": entry["outcome"] if entry and entry["outcome"] else "not_run",
                    "blocked_by": (entry or {}).get("blocked_by"),
                }
        return grid

    def document(self, target: TargetInfo | None, configuration: dict[str, Any]) -> dict[str, Any]:
        """The JSON conformance report (shape fixed by schemas/conformance-report.schema.json)."""
        counts = self.counts()
        checks = []
        for check in (*self.spec.checks, *self.extra):  # catalogue order, not completion order
            entry = self.checks.get(check.id)
            if entry is None or entry["outcome"] is None:
                continue
            item = dict(entry)
            if item["outcome"] not in _SHOW_EVIDENCE:
                item["exchanges"] = None  # evidence is for what needs looking at; keeps the file small
            item["problems"] = item["problems"] or []
            item["reproduction"] = (
                reproduction(item["id"], item["exchanges"]) if item["outcome"] in _SHOW_EVIDENCE else None
            )
            listed = self.baseline.entry(item["id"]) if self.baseline is not None else None
            item["baseline"] = listed.to_dict() if listed is not None else None
            if item.get("differential") is not None:  # a recording's evidence alone is not shown
                item["differential"] = _shown_comparison(item["differential"]) if self.reference else None
            for key in _OPTIONAL_EVIDENCE_KEYS:  # only the checks beyond the matrix, or compared ones, carry these
                if item.get(key) is None:
                    item.pop(key, None)
            checks.append(item)
        finished = _dt.datetime.now(_dt.UTC)
        profile = target.profile if target else None
        return {
            "schema_version": schemas.report_schema_version(),
            "tool": {"name": "pytest-connector-contract", "version": __version__},
            "generated_at": self.started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "profile": target.profile if target else None,
            "target": _target_dict(target, self.implementation),
            "configuration": configuration,
            "provenance": provenance.section(self.spec, profile, self.started, finished),
            "summary": self.summary(counts),
            "checks": checks,
            "matrix": self.matrix(target.profile) if target else None,
            "leftovers": list(self.leftovers),
            "baseline": self._baseline_section(),
            "comparison": compare(self.previous[1], checks, path=self.previous[0]) if self.previous else None,
            **beyond_sections(checks),
            "differential": differential_section(self.reference, checks, target.release(self.spec) if target else None),
        }

    def recorded_checks(self) -> list[dict[str, Any]]:
        """Every check's own outcome and normalised steps, in catalogue order, for --connector-record."""
        recorded = []
        for check in (*self.spec.checks, *self.extra):
            entry = self.checks.get(check.id)
            if entry is None or entry["outcome"] is None:
                continue
            evidence = entry.get("differential") or {}
            outcome = evidence.get("own_outcome") or ("error" if entry["outcome"] == "error" else entry["outcome"])
            recorded.append(
                {
                    "id": check.id,
                    "outcome": outcome if outcome in _RECORDED_OUTCOMES else "error",
                    "message": evidence.get("own_message"),
                    "steps": evidence.get("steps") or [],
                }
            )
        return recorded

    def _baseline_section(self) -> dict[str, Any] | None:
        if self.baseline is None:
            return None
        return {
            "path": self.baseline.path,
            "entries": len(self.baseline.entries),
            "expected_failures": [
                check_id
                for check_id in self.baseline.applied()
                if (self.checks.get(check_id) or {}).get("outcome") == "xfailed"
            ],
            "problems": self.baseline_problems(),
        }


#: the outcomes a recording keeps (a check's own, against the suite's expectations)
_RECORDED_OUTCOMES = frozenset({"passed", "failed", "xfailed", "skipped", "blocked", "error"})


def _shown_comparison(evidence: dict[str, Any]) -> dict[str, Any]:
    """A check's comparison as the report shows it: the verdict and the differences, not the raw steps."""
    return {key: value for key, value in evidence.items() if key not in ("steps", "own_message")}


def differential_section(
    reference: dict[str, Any] | None, checks: Sequence[dict[str, Any]], release: tuple[int, int, int] | None
) -> dict[str, Any] | None:
    """The ``differential`` section of the JSON report: the reference, the checks that answer unlike it, and
    the lists of reference departures and of changes the profiles document (None without a reference)."""
    if reference is None:
        return None
    compared = [c for c in checks if (c.get("differential") or {}).get("compared")]
    target_release = version_text(release) if release else None
    departures = [c for c in compared if c["differential"].get("listing") == REFERENCE_DEPARTS]
    changes = [c for c in compared if c["differential"].get("listing") == CHANGED_AS_DOCUMENTED]
    return {
        "reference": reference,
        "target_release": target_release,
        "compared": len(compared),
        "not_compared": sum(1 for c in checks if c.get("differential") and not c["differential"].get("compared")),
        "differing": [
            {"id": c["id"], "outcome": c["outcome"], "differences": c["differential"]["differences"]}
            for c in compared
            if c["differential"]["differences"]
        ],
        "reference_departures": [
            {
                "id": c["id"],
                "release": reference.get("release"),
                "explanation": c["differential"].get("explanation"),
                "problems": c["differential"].get("target_problems") or c.get("problems") or [],
            }
            for c in departures
        ],
        "documented_changes": [
            {"id": c["id"], "reference_release": reference.get("release"), "target_release": target_release}
            for c in changes
        ],
    }


def official_client_note(checks: Iterable[dict[str, Any]]) -> str | None:
    """Why none of the official client's checks ran (the client is not installed, with the command that
    installs it, or its major does not fit the target), for the terminal and the HTML summary; None when one
    ran or there are none."""
    official = [check for check in checks if check.get("category") == "official_client"]
    if not official or any(check.get("outcome") != "skipped" for check in official):
        return None
    reasons = sorted({str(check.get("message") or "no reason given") for check in official})
    return f"{len(official)} official client checks skipped: {'; '.join(reasons)}"


#: the categories of the checks beyond the matrix, in report order
BEYOND = ("explore", "race", "privileges")


def beyond_sections(checks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``explore``, ``race`` and ``privileges`` sections of the JSON report, present only when they ran."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        if check.get("category") in BEYOND:
            by_category.setdefault(check["category"], []).append(check)
    sections: dict[str, Any] = {}
    walks = by_category.get("explore")
    if walks:
        evidence = [w.get("explore") or {} for w in walks]
        first = next((e for e in evidence if e), {})
        sections["explore"] = {
            "seed": first.get("seed"),
            "walks": len(walks),
            "steps": first.get("steps"),
            "reproduce": first.get("reproduce"),
            "results": [
                {
                    "id": walk["id"],
                    "outcome": walk["outcome"],
                    "sequences": e.get("sequences"),
                    "requests": e.get("requests"),
                    "stopped": e.get("stopped"),
                    "fingerprint": e.get("fingerprint"),
                    "sequence": e.get("sequence"),
                    "replay": e.get("replay"),
                }
                for walk, e in zip(walks, evidence, strict=True)
            ],
        }
    races = by_category.get("race")
    if races:
        sections["race"] = {
            "results": [
                {
                    "id": check["id"],
                    "outcome": check["outcome"],
                    "from": (check.get("race") or {}).get("from"),
                    "to": (check.get("race") or {}).get("to"),
                    "rounds_planned": (check.get("race") or {}).get("rounds_planned"),
                    "rounds": (check.get("race") or {}).get("rounds") or [],
                }
                for check in races
            ]
        }
    privileges = by_category.get("privileges")
    if privileges:
        sections["privileges"] = {
            "results": [
                {
                    "id": check["id"],
                    "outcome": check["outcome"],
                    "observed": check.get("observed"),
                    "message": check.get("message"),
                }
                for check in privileges
            ]
        }
    return sections


def _target_dict(target: TargetInfo | None, implementation: str | None = None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {
        "url": target.url,
        "implementation": implementation,
        "product": target.product,
        "version": target.version,
        "build_flavor": target.build_flavor,
        "embedded": target.embedded,
        "profile_source": target.profile_source,
        "build_hash": target.build_hash,
    }


def _outcome(report: pytest.TestReport, data: dict[str, Any]) -> tuple[str | None, str | None]:
    """Map one phase's report to a conformance outcome (None: nothing decided in this phase)."""
    message = data.get("message")
    if report.passed:
        if report.when != "call":
            return None, None
        return ("xpassed", getattr(report, "wasxfail", None)) if hasattr(report, "wasxfail") else ("passed", None)
    if report.skipped:
        reason = _skip_reason(report)
        if hasattr(report, "wasxfail"):
            return "xfailed", str(report.wasxfail)
        if data.get("blocked_by"):
            return "blocked", reason
        return "skipped", reason
    # failed
    if report.when == "call" and data.get("ended") == "failed":
        return "failed", message
    longrepr = report.longrepr
    if report.when == "call" and isinstance(longrepr, str) and longrepr.startswith(_XPASS_STRICT):
        return "xpassed", longrepr  # a check the baseline expects to fail passed: the strict xfail failed it
    return "error", message


def _skip_reason(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr) if longrepr else None
