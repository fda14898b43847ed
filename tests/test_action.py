"""The composite action (action.yml) run the way the GitHub runner runs it: each step's script in ``bash -e`` in a
subprocess, its inputs only through ``env:``, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` read back; the install
step for real, into a fresh virtual environment, from the action's own checkout (tests/actionrunner.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.actionrunner import (
    EXPRESSION,
    INSTALL,
    ActionRun,
    installed,
    job_environment,
    load_action,
    repository_root,
)
from support.mutants import RefusalTouchesConnector
from support.runs import QUICK_RETRIES

import pytest_connector_contract
from pytest_connector_contract.reference.security import ApiKey, Security
from pytest_connector_contract.reference.server import ReferenceServer

CONFORMANT = "## \u2705 Connector status API conformance: CONFORMANT\n"
NOT_CONFORMANT = "## \u274c Connector status API conformance: NOT CONFORMANT\n"
KEY_ID, KEY = "action-ci", "kEy-given-to-the-action-5150"


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUNNER_TEMP after the action's install step ran (once for this module: it takes a minute)."""
    return installed(tmp_path_factory)


def _use(runner_temp: Path, tmp_path: Path, inputs: dict[str, str], job: str = "job", **env: str) -> ActionRun:
    """One use of the action in a job (its files in ``tmp_path / job``), in the workspace ``tmp_path /
    "workspace"``, after its install step: the steps that follow it, run."""
    workspace, files = tmp_path / "workspace", tmp_path / job
    run = ActionRun(inputs, workspace, runner_temp, job_environment(env), files=files)
    steps = run.action["runs"]["steps"]
    assert steps[0]["name"] == INSTALL
    run.run(steps[1:])
    return run


def _result(run: ActionRun, name: str) -> Any:
    return next(result for result in run.results if result.name == name)


def test_inputs_reach_the_scripts_only_through_env() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    used: set[str] = set()
    ids = {step["id"] for step in action["runs"]["steps"] if "id" in step}
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        assert not EXPRESSION.search(step["run"]), f"${{{{ }}}} inside the run: of {step['name']!r}"
        for value in (step.get("env") or {}).values():
            for expression in EXPRESSION.findall(str(value)):
                kind, name, *rest = expression.split(".")
                assert kind in ("inputs", "steps"), expression
                if kind == "inputs":
                    used.add(name)
                else:
                    assert (name in ids, rest[0]) == (True, "outputs"), expression
    assert used == set(action["inputs"]), "every input is used, and only through env:"
    for name, output in action["outputs"].items():
        (expression,) = EXPRESSION.findall(output["value"])
        assert expression.split(".")[:3] == ["steps", "verdict", "outputs"], name


def test_the_install_step_installed_the_suite_from_the_actions_own_checkout(runner_temp: Path) -> None:
    venv = runner_temp / "connector-contract"
    done = subprocess.run(
        [str(venv / "bin" / "connector-contract"), "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"connector-contract {pytest_connector_contract.__version__}\n"
    located = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", "import pytest_connector_contract as p, xdist; print(p.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(located.stdout.strip()).is_relative_to(venv), "installed into its own environment, not editable"
    assert _installed_from(venv) == repository_root().as_uri()  # the action's own checkout


def _installed_from(venv: Path) -> str | None:
    """Where pip installed the suite from: a direct URL (a folder), or None for a release from an index."""
    (dist_info,) = venv.glob("lib/python*/site-packages/pytest_connector_contract-*.dist-info")
    direct = dist_info / "direct_url.json"
    return str(json.loads(direct.read_text(encoding="utf-8"))["url"]) if direct.exists() else None


def test_the_version_input_installs_that_release_from_the_index(tmp_path: Path) -> None:
    # An index of our own: the wheel of this version and of everything it needs, and pip told to use only it.
    index = tmp_path / "index"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(index), f"{repository_root()}[xdist]"],
        check=True,
        capture_output=True,
    )
    env = job_environment({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)})
    run = ActionRun({"version": pytest_connector_contract.__version__}, tmp_path / "workspace", tmp_path / "temp", env)
    (install,) = run.run(run.action["runs"]["steps"][:1])
    assert install.returncode == 0, install.log
    assert install.stdout.endswith(f"connector-contract {pytest_connector_contract.__version__}\n")
    assert _installed_from(tmp_path / "temp" / "connector-contract") is None  # a release, not the checkout


def test_a_conformant_target_passes_the_gate_with_the_verdict_in_the_job_summary(
    runner_temp: Path, tmp_path: Path
) -> None:
    run = _use(runner_temp, tmp_path, {"url": "embedded", "reports-dir": "reports"})
    assert [r.returncode for r in run.results] == [0, 0, 0], "\n".join(r.log for r in run.results)
    outputs = run.outputs()
    assert outputs["verdict"] == "conformant"
    assert float(outputs["score"]) == 1.0
    workspace = tmp_path / "workspace"
    for name, file in [
        ("json-report", "conformance.json"),
        ("html-report", "conformance.html"),
        ("junit-report", "junit.xml"),
        ("markdown-report", "summary.md"),
        ("badge", "badge.json"),
    ]:
        assert outputs[name] == f"reports/{file}"
        assert (workspace / outputs[name]).is_file(), name
    summary = run.summary.read_text(encoding="utf-8")
    assert summary.startswith(CONFORMANT)
    assert summary == (workspace / "reports" / "summary.md").read_text(encoding="utf-8")
    assert json.loads((workspace / outputs["badge"]).read_text(encoding="utf-8"))["message"] == "conformant 100%"
    assert "::error" not in _result(run, "Run the conformance suite").stdout


class SecuredMutant(RefusalTouchesConnector):
    """A mutant (a refusal still changes the connector) that only answers the API key the action is given."""

    def __init__(self) -> None:
        super().__init__(security=Security(api_keys=[ApiKey(KEY_ID, KEY)]))


def test_a_failing_target_fails_the_gate_step_with_the_verdict_annotations_and_outputs(
    runner_temp: Path, tmp_path: Path, start_target: Callable[..., ReferenceServer]
) -> None:
    server = start_target(SecuredMutant())
    inputs = {"url": server.url, "api-key": f"{KEY_ID}:{KEY}", "args": "-q --connector-timeout 5"}
    run = _use(runner_temp, tmp_path, inputs)
    suite, verdict, gate = run.results
    assert (suite.returncode, verdict.returncode) == (0, 0), suite.log + verdict.log
    assert suite.outputs == {"status": "1"}
    assert gate.returncode == 1  # the gate step fails the job
    outputs = run.outputs()
    assert outputs["verdict"] == "not_conformant"
    assert 0 < float(outputs["score"]) < 1
    assert outputs["json-report"] == "connector-conformance/conformance.json"  # the default reports-dir
    summary = run.summary.read_text(encoding="utf-8")
    assert summary.startswith(NOT_CONFORMANT)
    assert "<details>" in summary
    assert suite.stdout.count("\n::error title=") == 11  # ten failing checks, then "and N more"
    for text in (suite.stdout, suite.stderr, summary):
        assert KEY not in text


def test_a_baseline_given_as_an_input_lets_accepted_deviations_pass(runner_temp: Path, tmp_path: Path) -> None:
    # The job's own CONNECTOR_* variables reach the run: against profile 8.13 the embedded 9.x target departs
    # from it on three self-transitions; a first job writes a baseline of them (an extra pytest argument).
    inputs = {"url": "embedded", "args": "--connector-baseline-write accepted.toml"}
    first = _use(runner_temp, tmp_path, inputs, "first", CONNECTOR_PROFILE="8.13")
    assert first.outputs()["verdict"] == "not_conformant"
    assert (tmp_path / "workspace" / "accepted.toml").is_file()
    second = _use(runner_temp, tmp_path, {"url": "embedded", "baseline": "accepted.toml"}, "second",
                  CONNECTOR_PROFILE="8.13")  # fmt: skip
    assert [r.returncode for r in second.results] == [0, 0, 0], "\n".join(r.log for r in second.results)
    assert second.outputs()["verdict"] == "conformant_with_accepted_deviations"
    assert second.summary.read_text(encoding="utf-8").startswith(
        "## \u2705 Connector status API conformance: CONFORMANT WITH ACCEPTED DEVIATIONS\n"
    )


def test_an_unreachable_target_gives_no_verdict_and_fails_the_gate(runner_temp: Path, tmp_path: Path) -> None:
    # quick_retries (tests/support/fixtures.py) the way this run can take it: the action reads no conftest.py of
    # the workspace, so a plugin module that the args input loads sets the 10 ms waits; every attempt is made
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "quick_retries.py").write_text(QUICK_RETRIES)
    inputs = {"url": "http://127.0.0.1:9", "args": "--connector-timeout 1 -p quick_retries"}
    run = _use(runner_temp, tmp_path, inputs, PYTHONPATH=str(plugins))
    suite, verdict, gate = run.results
    assert suite.outputs == {"status": "2"}, suite.log
    assert verdict.returncode == 0
    assert gate.returncode == 2
    assert run.outputs() == dict.fromkeys(run.action["outputs"], "")
    assert run.summary.read_text(encoding="utf-8").startswith("## \u274c Connector status API conformance: no verdict")
