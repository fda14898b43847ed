"""Runs a composite action's steps (action.yml) the way the GitHub runner does, for the tests of the action and of
the CI recipe that uses it.

Each ``run:`` goes to ``bash -e`` in a subprocess, in the workspace, with ``GITHUB_OUTPUT`` (a fresh file per step,
read back as that step's outputs), ``GITHUB_STEP_SUMMARY`` (one file for the job, read back by the tests),
``GITHUB_ACTION_PATH`` (the repository root: the action's own checkout) and ``RUNNER_TEMP``. Inputs reach a
script only through its ``env:``: the ``${{ }}`` expressions there (``inputs.*`` with the action's defaults,
``steps.<id>.outputs.*``) are expanded here, and any ``${{ }}`` inside a ``run:`` fails, as the action must never
expand a value into a script. ``if:`` knows ``success()`` (the default), ``always()`` and ``failure()``.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ACTION",
    "INSTALL",
    "ActionRun",
    "StepResult",
    "installed",
    "job_environment",
    "load_action",
    "repository_root",
]

ACTION = "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def repository_root() -> Path:
    return Path(__file__).resolve().parents[2]


def load_action(root: Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(((root or repository_root()) / ACTION).read_text(encoding="utf-8"))
    return data


def read_outputs(path: Path) -> dict[str, str]:
    """A ``GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[name] = "\n".join(block)
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class StepResult:
    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]

    @property
    def log(self) -> str:
        return f"{self.name}: exit {self.returncode}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


@dataclass
class ActionRun:
    """One use of the action in a job: its inputs (``with:``), the job's environment and where the runner keeps
    its files. ``run`` executes steps and keeps each one's outcome and outputs by step id."""

    inputs: Mapping[str, str]
    workspace: Path
    runner_temp: Path
    env: Mapping[str, str] = field(default_factory=dict)
    #: where this use's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files go (RUNNER_TEMP by default: another folder
    #: when several uses share one RUNNER_TEMP, and so one installed suite)
    files: Path | None = None
    action: dict[str, Any] = field(default_factory=load_action)
    steps: dict[str, StepResult] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = set(self.inputs) - set(self.action["inputs"])
        assert not unknown, f"inputs the action does not declare: {sorted(unknown)}"
        self.files = self.files or self.runner_temp
        self.files.mkdir(parents=True, exist_ok=True)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.summary = self.files / "step_summary.md"

    def value(self, text: str) -> str:
        """``text`` with its ``${{ }}`` expressions expanded."""
        return EXPRESSION.sub(lambda m: self._expression(m.group(1)), text)

    def _expression(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            declared = self.action["inputs"][parts[1]]
            return str(self.inputs.get(parts[1], declared.get("default", "")))
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            step = self.steps.get(parts[1])
            return step.outputs.get(parts[3], "") if step else ""
        raise AssertionError(f"an expression the action should not need: ${{{{ {expression} }}}}")

    def _runs(self, condition: str | None) -> bool:
        failed = any(result.returncode != 0 for result in self.results)
        rule = {None: not failed, "success()": not failed, "always()": True, "failure()": failed}
        assert condition in rule, f"an if: the test runner does not know: {condition}"
        return rule[condition]

    def run(self, steps: Iterable[dict[str, Any]] | None = None) -> list[StepResult]:
        """Execute ``steps`` (all the action's by default) in order, as the runner would."""
        for index, step in enumerate(self.action["runs"]["steps"] if steps is None else steps):
            script = step["run"]
            assert not EXPRESSION.search(script), f"${{{{ }}}} inside the run: of step {step['name']!r}"
            assert step["shell"] == "bash", step["name"]
            if not self._runs(step.get("if")):
                continue
            output = self.files / f"output-{len(self.results)}-{index}"
            output.write_text("", encoding="utf-8")
            env = {
                **self.env,
                **{name: self.value(str(value)) for name, value in (step.get("env") or {}).items()},
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_ACTION_PATH": str(repository_root()),
                "GITHUB_ACTIONS": "true",
                "RUNNER_TEMP": str(self.runner_temp),
            }
            done = subprocess.run(
                ["bash", "-e", "-c", script],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            result = StepResult(step["name"], done.returncode, done.stdout, done.stderr, read_outputs(output))
            self.results.append(result)
            if "id" in step:
                self.steps[step["id"]] = result
        return self.results

    def outputs(self) -> dict[str, str]:
        """The action's outputs, as a workflow reads them (``steps.<this step>.outputs.*``)."""
        return {name: self.value(declared["value"]) for name, declared in self.action["outputs"].items()}


def job_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a job step starts from: this one's, with this interpreter's ``python3`` first on PATH
    (as actions/setup-python leaves it), nothing of a pytest run in progress, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONNECTOR_", "GITHUB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return {**env, **(extra or {})}


#: the name of the action's step that installs the suite
INSTALL = "Install the conformance suite"
_INSTALLED: dict[str, Path] = {}


def installed(tmp_path_factory: Any) -> Path:
    """A RUNNER_TEMP where the action's install step has run, for real, into a fresh virtual environment (once
    per test session: it takes a minute); later steps of the action find the suite there.

    Under xdist the workers share one install, made by the first worker to get here (the others wait on a
    lock), in the session's base temporary directory; each worker's RUNNER_TEMP is a folder of its own, where
    ``connector-contract`` links to that install, since the later steps write files of their own there."""
    if "runner_temp" not in _INSTALLED:
        runner_temp = tmp_path_factory.mktemp("runner_temp")
        shared = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            shared = shared.parent  # the session's, above each worker's own
        with open(shared / "connector-contract-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            home = shared / "connector-contract-install"
            if not (home / "done").exists():
                home.mkdir(exist_ok=True)
                workspace = home / "workspace"
                workspace.mkdir(exist_ok=True)
                run = ActionRun({}, workspace, home, job_environment(), files=workspace)
                install = run.action["runs"]["steps"][0]
                assert install["name"] == INSTALL
                (result,) = run.run([install])
                assert result.returncode == 0, result.log
                (home / "done").touch()
        (runner_temp / "connector-contract").symlink_to(home / "connector-contract", target_is_directory=True)
        _INSTALLED["runner_temp"] = runner_temp
    return _INSTALLED["runner_temp"]
