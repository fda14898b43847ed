"""A release that installs: the wheel's metadata, the version users see, and the workflow that publishes it.

The wheel itself is installed alone into a clean environment and runs the suite in ``.ci/run``, on each Python
the classifiers name (that step is the proof; these tests hold the pieces it relies on).
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import pytest_connector_contract

WORKFLOW = Path(".github") / "workflows" / "release.yml"


def _workflow(repo_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo_root / WORKFLOW).read_text(encoding="utf-8"))
    return data


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("name") == name)


def test_the_version_flag_prints_the_packages_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_connector_contract.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == f"connector-contract {pytest_connector_contract.__version__}\n"


def test_the_classifiers_name_the_pythons_ci_runs_the_wheel_on(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = sorted(c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c))
    ci = re.search(r'^WHEEL_PYTHONS="([^"]*)"$', (repo_root / ".ci" / "run").read_text(encoding="utf-8"), re.M)
    assert ci is not None, ".ci/run names the Pythons it runs the wheel on in WHEEL_PYTHONS"
    assert declared == sorted(ci.group(1).split())
    assert project["requires-python"] == f">={declared[0]}"


def test_the_wheel_carries_complete_metadata_and_everything_the_suite_reads(repo_root: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo_root)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(info).decode())
    assert metadata["Version"] == pytest_connector_contract.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    classifiers = metadata.get_all("Classifier") or []
    assert "Framework :: Pytest" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert not [key for key in metadata if key == "Project-URL"], "no repository URL is known yet: none is invented"
    for packaged in ("contract/spec.json", "contract/schemas/conformance-report.schema.json", "py.typed"):
        assert f"pytest_connector_contract/{packaged}" in names, packaged
    assert any(name.startswith("pytest_connector_contract/reports/templates/") for name in names)
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "connector_contract = pytest_connector_contract.plugin.hooks" in entry_points
    assert "connector-contract = pytest_connector_contract.cli.main:main" in entry_points


def test_the_release_workflow_publishes_a_tag_with_trusted_publishing(repo_root: Path) -> None:
    workflow = _workflow(repo_root)
    trigger = workflow[True]  # YAML 1.1 reads the key "on" as true
    assert list(trigger) == ["push"]
    assert trigger["push"]["tags"] == ["v*"]
    assert workflow["permissions"] == {}, "nothing is granted by default"
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert "id-token" not in build["permissions"]
    assert publish["environment"]
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    assert not [step for step in publish["steps"] if "run" in step], "the job holding the token runs no code of ours"
    build_steps = [step.get("name") for step in build["steps"]]
    assert build_steps.index("Check the version against the tag") < build_steps.index("Build the wheel and the sdist")


def test_no_workflow_expression_is_expanded_inside_a_script(repo_root: Path) -> None:
    """Inputs reach a script through ``env:`` only: ``${{ }}`` inside ``run:`` is a script injection."""
    for path in [repo_root / WORKFLOW, *sorted((repo_root / "docs" / "ci").glob("*.yml"))]:
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


@pytest.mark.parametrize(("tag", "passes"), [(f"v{pytest_connector_contract.__version__}", True), ("v99.0.0", False)])
def test_the_version_check_runs_as_the_runner_runs_it(repo_root: Path, tag: str, passes: bool) -> None:
    step = _step(_workflow(repo_root)["jobs"]["build"], "Check the version against the tag")
    assert step["env"] == {"TAG": "${{ github.ref_name }}"}
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=repo_root,
        env={**os.environ, "TAG": tag, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode == 0) is passes, done.stdout + done.stderr
    if not passes:
        assert f"::error::the tag {tag} does not match the package version" in done.stdout
