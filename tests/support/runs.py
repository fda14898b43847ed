"""The plugin run the way users run it: ``pytest --connector-url URL ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.client.api import RETRY_DELAYS

#: the environment variables that route requests through a proxy (requests reads both spellings)
PROXY_VARIABLES = tuple(
    name for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") for name in (base, base.lower())
)
#: the environment variables that tell a run it is in a GitHub Actions job (annotations, the job summary)
GITHUB_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")

#: the waits of a run's retried setup requests in the tests that meet an unreachable target (``quick_retries``):
#: 10 ms, not ``RETRY_DELAYS``; and the module that sets them in a run, as a ``conftest.py`` or a plugin
QUICK_RETRY_DELAYS = (0.01,) * len(RETRY_DELAYS)
QUICK_RETRIES = f"from pytest_connector_contract.client import api\napi.RETRY_DELAYS = {QUICK_RETRY_DELAYS!r}\n"


def run_pytest(pytester: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    """``pytest --connector-url URL ARGS...`` in a subprocess of the test's own directory."""
    return pytester.runpytest_subprocess("--connector-url", url, *args)


def run_pytest_in(directory: Path, *args: str) -> pytest.RunResult:
    """``python -m pytest ARGS...`` in a subprocess started in ``directory``: for a run that several tests read,
    started by a module-scoped fixture, where ``pytester`` (function-scoped) is not at hand. The run gets the
    environment the tests' autouse fixtures give the runs they start: no proxy, no ``CONNECTOR_*`` setting and
    no GitHub Actions from the caller, and no ``PYTEST_ADDOPTS``."""
    outside = {*PROXY_VARIABLES, *GITHUB_VARIABLES, "PYTEST_ADDOPTS"}
    env = {name: value for name, value in os.environ.items()
           if name not in outside and not name.startswith("CONNECTOR_")}  # fmt: skip
    started = time.monotonic()
    # its own base temporary directory, as pytester gives it: pytest prunes old ones in the default place
    command = [sys.executable, "-m", "pytest", f"--basetemp={directory / 'basetemp'}", *args]
    done = subprocess.run(command, cwd=directory, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)  # fmt: skip
    took = time.monotonic() - started
    return pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), took)


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


def run_with_report(where: pytest.Pytester | Path, url: str, *args: str) -> SuiteRun:
    """:func:`run_pytest` with ``--connector-json``, and the report it wrote; in a directory (a run that several
    tests share, through :func:`run_pytest_in`) or the test's own (``pytester``)."""
    directory = where if isinstance(where, Path) else where.path
    report_path = directory / "conformance.json"
    report_path.unlink(missing_ok=True)
    arguments = ("--connector-url", url, "--connector-json", str(report_path), *args)
    result = run_pytest_in(where, *arguments) if isinstance(where, Path) else where.runpytest_subprocess(*arguments)
    return SuiteRun(result, _read(report_path))


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    report: dict[str, Any] = json.loads(path.read_text())
    return report
