"""The documented GitHub Actions recipe, run for real: every step as written, the project's action included (its
install step too, into a fresh virtual environment), against `embedded` instead of the container."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.actionrunner import INSTALL, ActionRun, installed, job_environment, load_action
from support.browser import parse_html

import pytest_connector_contract
from pytest_connector_contract.contract import schemas

RECIPE = Path("docs") / "ci" / "github-actions-conformance.yml"
#: the action as the docs name it: YOUR-ORG is a placeholder for wherever a team keeps its copy of the project
#: (no public home yet), and the ref the tag of this version's release (.github/workflows/release.yml)
ACTION_REF = f"YOUR-ORG/pytest-connector-contract@v{pytest_connector_contract.__version__}"
#: the steps the test runner stands in for: the workspace needs no checkout, and this interpreter is on PATH
_PROVIDED = ("actions/checkout@", "actions/setup-python@")


def _recipe(repo_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo_root / RECIPE).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUNNER_TEMP after the action's install step ran (once for this module: it takes a minute)."""
    return installed(tmp_path_factory)


def _run_recipe(repo_root: Path, tmp_path: Path, runner_temp: Path, **env: str) -> tuple[list[str], ActionRun]:
    """Every step of the recipe, in order, as its job runs them; the upload step checks that what it uploads
    is there. Returns the names of the steps that ran (or stood in) and the action's run."""
    job = _recipe(repo_root)["jobs"]["conformance"]
    ran: list[str] = []
    action: ActionRun | None = None
    for step in job["steps"]:
        uses = str(step.get("uses", ""))
        if uses.startswith(_PROVIDED):
            ran.append(uses)
        elif uses == ACTION_REF:
            inputs = {**{k: str(v) for k, v in step["with"].items()}, "url": "embedded"}  # no container here
            assert not {"version", "python"} & set(inputs), "the install the fixture ran is the recipe's own"
            action = ActionRun(
                inputs, tmp_path / "workspace", runner_temp, job_environment({**job.get("env", {}), **env}),
                files=tmp_path / "runner",
            )  # fmt: skip
            steps = action.action["runs"]["steps"]
            assert steps[0]["name"] == INSTALL  # done once for the module by the fixture, with these inputs
            action.run(steps[1:])
            ran.append(step["name"])
        elif uses.startswith("actions/upload-artifact@"):
            assert step["if"] == "always()"  # the reports are uploaded when the gate fails too
            for path in step["with"]["path"].split():
                assert (tmp_path / "workspace" / path).exists(), path
            ran.append(step["name"])
        else:
            raise AssertionError(f"a step the test does not know how to run: {step}")
    assert action is not None, f"the recipe does not use {ACTION_REF}"
    return ran, action


def test_the_ci_page_shows_the_recipe_verbatim_and_the_readme_points_to_it(repo_root: Path) -> None:
    page = (repo_root / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    assert (repo_root / RECIPE).read_text(encoding="utf-8") in blocks
    assert f"]({RECIPE.as_posix()})" in (repo_root / "README.md").read_text(encoding="utf-8")


def test_the_recipe_starts_elasticsearch_as_a_service_and_gates_with_the_action(repo_root: Path) -> None:
    job = _recipe(repo_root)["jobs"]["conformance"]
    service = job["services"]["elasticsearch"]
    assert service["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert service["ports"] == ["9200:9200"]
    assert "--health-cmd" in service["options"]
    gate = next(step for step in job["steps"] if step.get("uses") == ACTION_REF)
    assert gate["with"]["url"] == "http://localhost:9200"
    text = (repo_root / RECIPE).read_text(encoding="utf-8")
    assert "YOUR-ORG is a placeholder" in text
    assert "pip install" not in text  # it installs nothing no index serves: the action installs itself


def test_every_use_of_the_action_in_the_docs_names_it_alike_with_inputs_it_declares(repo_root: Path) -> None:
    inputs = set(load_action(repo_root)["inputs"])
    found = []
    for page in [repo_root / "README.md", repo_root / "docs" / "ci.md", repo_root / RECIPE]:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if page.suffix == ".md" else [text]:
            workflow = yaml.safe_load(block)  # a workflow, or only a job's steps
            jobs = [workflow, *(workflow.get("jobs") or {}).values()]
            for step in [step for job in jobs for step in job.get("steps") or []]:
                if "pytest-connector-contract@" in str(step.get("uses", "")):
                    assert step["uses"] == ACTION_REF, page
                    assert set(step.get("with") or {}) <= inputs, page
                    found.append(page.name)
    assert sorted(set(found)) == sorted(["README.md", "ci.md", RECIPE.name]), found


def test_the_recipes_steps_run_as_a_gate_against_the_embedded_target(
    repo_root: Path, tmp_path: Path, runner_temp: Path
) -> None:
    ran, action = _run_recipe(repo_root, tmp_path, runner_temp)
    assert ran == [*(f"{p}v4" if "checkout" in p else f"{p}v5" for p in _PROVIDED), "Conformance gate",
                   "Upload the reports"]  # fmt: skip
    assert [r.returncode for r in action.results] == [0, 0, 0], "\n".join(r.log for r in action.results)
    assert action.outputs()["verdict"] == "conformant"
    reports = tmp_path / "workspace" / "connector-conformance"
    assert sorted(p.name for p in reports.iterdir()) == [
        "badge.json",
        "conformance.html",
        "conformance.json",
        "junit.xml",
        "summary.md",
    ]
    report = json.loads((reports / "conformance.json").read_text(encoding="utf-8"))
    assert schemas.problems("conformance-report", report) == []
    assert report["summary"]["conformant"] is True
    page = parse_html((reports / "conformance.html").read_text(encoding="utf-8"))
    assert page.find(id="cc-verdict").words() == "CONFORMANT"
    assert len(page.find_all("td", cls="cc-cell")) == 25
    assert action.summary.read_text(encoding="utf-8").startswith(
        "## \u2705 Connector status API conformance: CONFORMANT\n"
    )


def test_the_gate_step_fails_the_job_when_the_target_is_not_conformant(
    repo_root: Path, tmp_path: Path, runner_temp: Path
) -> None:
    # the embedded 9.x target departs from profile 8.13 on self-transitions; the job's env reaches the run
    ran, action = _run_recipe(repo_root, tmp_path, runner_temp, CONNECTOR_PROFILE="8.13")
    suite, verdict, gate = action.results
    assert (suite.returncode, verdict.returncode, gate.returncode) == (0, 0, 1), suite.log
    assert ran[-1] == "Upload the reports"  # if: always(): after the failed gate too
    assert action.outputs()["verdict"] == "not_conformant"
    assert (tmp_path / "workspace" / "connector-conformance" / "conformance.html").is_file()
    assert action.summary.read_text(encoding="utf-8").startswith(
        "## \u274c Connector status API conformance: NOT CONFORMANT\n"
    )
