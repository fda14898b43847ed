"""The documented GitHub Actions recipe, run for real: its steps minus the container, against `embedded`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.browser import parse_html

from pytest_connector_contract.contract import schemas

RECIPE = Path("docs") / "ci" / "github-actions-conformance.yml"


def _recipe(repo_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo_root / RECIPE).read_text(encoding="utf-8"))
    return data


def test_the_ci_page_shows_the_recipe_verbatim_and_the_readme_points_to_it(repo_root: Path) -> None:
    page = (repo_root / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    assert (repo_root / RECIPE).read_text(encoding="utf-8") in blocks
    assert f"]({RECIPE.as_posix()})" in (repo_root / "README.md").read_text(encoding="utf-8")


def test_the_recipe_starts_elasticsearch_as_a_service_and_uploads_the_reports(repo_root: Path) -> None:
    job = _recipe(repo_root)["jobs"]["conformance"]
    service = job["services"]["elasticsearch"]
    assert service["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert service["ports"] == ["9200:9200"]
    assert "--health-cmd" in service["options"]
    assert job["env"]["CONNECTOR_URL"] == "http://localhost:9200"
    upload = next(step for step in job["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"  # the reports are uploaded when the gate fails too


def test_the_recipes_steps_run_as_a_gate_against_the_embedded_target(repo_root: Path, tmp_path: Path) -> None:
    job = _recipe(repo_root)["jobs"]["conformance"]
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "CONNECTOR_URL": "embedded"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this environment's pytest
    env.pop("PYTEST_ADDOPTS", None)
    ran, uploaded = [], []
    for step in job["steps"]:
        if "run" in step:
            if "pip install" in step["run"]:
                continue  # the package under test is already installed here
            done = subprocess.run(
                ["bash", "-e", "-c", step["run"]],
                cwd=tmp_path,
                env={**env, **{k: str(v) for k, v in step.get("env", {}).items()}},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            ran.append(step["name"])
        elif str(step.get("uses", "")).startswith("actions/upload-artifact"):
            uploaded += step["with"]["path"].split()
    assert ran == ["Conformance gate"]
    assert sorted(uploaded) == ["reports/conformance.html", "reports/conformance.json", "reports/junit.xml"]
    for path in uploaded:
        assert (tmp_path / path).is_file(), path
    report = json.loads((tmp_path / "reports/conformance.json").read_text(encoding="utf-8"))
    assert schemas.problems("conformance-report", report) == []
    assert report["summary"]["conformant"] is True
    page = parse_html((tmp_path / "reports/conformance.html").read_text(encoding="utf-8"))
    assert page.find(id="cc-verdict").words() == "CONFORMANT"
    assert len(page.find_all("td", cls="cc-cell")) == 25


@pytest.mark.parametrize("step_name", ["Conformance gate"])
def test_the_gate_step_fails_the_job_when_the_target_is_not_conformant(
    repo_root: Path, tmp_path: Path, step_name: str
) -> None:
    job = _recipe(repo_root)["jobs"]["conformance"]
    step = next(s for s in job["steps"] if s.get("name") == step_name)
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "CONNECTOR_URL": "embedded"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["CONNECTOR_PROFILE"] = "8.13"  # the embedded 9.x target then departs from the profile on self-transitions
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert (tmp_path / "reports/conformance.html").is_file()
