"""The plugin run the way users run it: ``pytest --connector-url URL ...`` in a subprocess."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def run_pytest(pytester: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    """``pytest --connector-url URL ARGS...`` in a subprocess of the test's own directory."""
    return pytester.runpytest_subprocess("--connector-url", url, *args)


def output(result: pytest.RunResult) -> str:
    """Everything a run printed: its standard output, then its standard error."""
    return result.stdout.str() + result.stderr.str()


@dataclass
class SuiteRun:
    """A run and the JSON report it wrote (None where it wrote none)."""

    result: pytest.RunResult
    report: dict[str, Any] | None

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    def outcome(self, check_id: str) -> str | None:
        assert self.report is not None
        for check in self.report["checks"]:
            if check["id"] == check_id:
                return str(check["outcome"])
        return None

    def check(self, check_id: str) -> dict[str, Any]:
        assert self.report is not None
        return next(check for check in self.report["checks"] if check["id"] == check_id)

    def not_passed(self) -> dict[str, str]:
        assert self.report is not None
        return {c["id"]: c["outcome"] for c in self.report["checks"] if c["outcome"] != "passed"}


def run_with_report(pytester: pytest.Pytester, url: str, *args: str) -> SuiteRun:
    """:func:`run_pytest` with ``--connector-json``, and the report it wrote."""
    report_path = pytester.path / "conformance.json"
    report_path.unlink(missing_ok=True)
    result = run_pytest(pytester, url, "--connector-json", str(report_path), *args)
    return SuiteRun(result, _read(report_path))


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    report: dict[str, Any] = json.loads(path.read_text())
    return report
