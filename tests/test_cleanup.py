"""Clean-up on a live cluster: connectors the run did not create stay byte for byte as they were, and every
connector the run created is deleted (when checks fail, on Ctrl-C, per xdist worker, on the reference cluster
too); what could not be deleted is named with its sweep command, and ``connector-contract sweep`` deletes
the leftovers of earlier runs and nothing else. Real runs over real HTTP against the reference target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_connector_contract.contract.ids import is_run_connector_id
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.server import ReferenceServer

OTHERS = ("theirs", "ccontract-theirs", "ccontract-0badc0de")


def _plant_others(target: ReferenceTarget) -> dict[str, str]:
    """Connectors somebody else owns, some under the suite's default prefix; returns their exact bytes."""
    for connector_id in OTHERS:
        body = json.dumps({"index_name": f"idx-{connector_id}", "name": "not yours", "description": "keep"})
        answer = target.handle("PUT", f"/_connector/{connector_id}", {}, {"Content-Type": "application/json"},
                               body.encode())  # fmt: skip
        assert answer.status == 201
    target.handle("PUT", "/_connector/theirs/_status", {}, {"Content-Type": "application/json"},
                  b'{"status": "error"}')  # fmt: skip
    return _bytes_of_others(target)


def _bytes_of_others(target: ReferenceTarget) -> dict[str, str]:
    return {cid: json.dumps(target.snapshot(cid), sort_keys=True) for cid in OTHERS}


def _run_ids(target: ReferenceTarget) -> list[str]:
    return sorted(cid for cid in target.connectors if cid not in OTHERS)


@pytest.mark.parametrize("mode", ["normal", "failing", "parallel"])
def test_connectors_of_others_are_byte_identical_and_none_of_the_runs_remain(
    mode: str, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusalTouchesConnector

    target = RefusalTouchesConnector() if mode == "failing" else ReferenceTarget()
    server = start_target(target)
    before = _plant_others(target)
    run = run_suite(server.url, *(["-n", "2"] if mode == "parallel" else []))
    assert run.ret == (1 if mode == "failing" else 0), run.result.stdout.str()
    assert _bytes_of_others(target) == before
    assert _run_ids(target) == []
    assert run.report["leftovers"] == []


@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_sigint_midway_still_deletes_everything_the_run_created(
    workers: int, pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    target = ReferenceTarget()
    server = start_target(target, latency_ms=25)
    before = _plant_others(target)
    command = [sys.executable, "-m", "pytest", "--connector-url", server.url, "-p", "no:cacheprovider"]
    if workers:
        command += ["-n", str(workers)]
    process = subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _run_ids(target) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _run_ids(target), "the run never created a connector"
        time.sleep(0.3)  # well inside the run: checks are in flight
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # Ctrl-C reaches the whole process group; a worker may die before the controller notices, which
    # xdist reports as a failure rather than an interruption. Either way the run is not green.
    assert process.returncode in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED), output.decode()
    assert _run_ids(target) == [], output.decode()
    assert _bytes_of_others(target) == before


class UndeletableTarget(ReferenceTarget):
    """Refuses every DELETE, as a cluster with a too-narrow key would."""

    def handle_delete_connector(self, request: Request, connector_id: str) -> Response:
        return self.error(403, "security_exception", "action [cluster:admin/xpack/connector/delete] is unauthorized")


def test_what_could_not_be_deleted_is_listed_in_the_summary_and_the_report(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    target = UndeletableTarget()
    server = start_target(target)
    run = run_suite(server.url, "connector-contract::transition[created->error]")
    left = _run_ids(target)
    assert len(left) == 1
    assert run.report["leftovers"]
    assert left[0] in run.report["leftovers"][0]
    assert run.ret == 1  # cleanup failed: the check errors in teardown
    run.result.stdout.fnmatch_lines([f"NOT DELETED {left[0]}*"])


def test_what_could_not_be_deleted_on_the_reference_cluster_is_named_as_such_with_its_sweep_command(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    target, reference = start_target(), start_target(UndeletableTarget())
    run = run_suite(
        target.url, "--connector-reference-url", reference.url, "connector-contract::transition[created->error]"
    )
    left = _run_ids(reference.target)
    assert len(left) == 1
    assert _run_ids(target.target) == []
    where = f"on the reference cluster {reference.url}: {left[0]}"
    assert run.report["leftovers"] == [
        f"{where}: DELETE answered HTTP 403 security_exception: action [cluster:admin/xpack/connector/delete] "
        "is unauthorized"
    ]
    assert run.ret == 1  # as on the target: the check errs
    assert run.outcome("transition[created->error]") == "error"
    assert (
        "could not delete connectors the check created on the reference cluster"
        in run.check("transition[created->error]")["message"]
    )
    prefix = left[0].rsplit("-", 1)[0]
    sweep = f"*connector-contract sweep --connector-url {reference.url} --prefix {prefix}"
    run.result.stdout.fnmatch_lines([f"NOT DELETED {where}: *", sweep])


def test_header_names_the_run_prefix(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-id-prefix", "team-a",
                                           "connector-contract::transition[created->error]")  # fmt: skip
    result.stdout.fnmatch_lines(["connector-contract: target http://127.0.0.1:* connector ids team-a-*"])


# -- sweep --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("connector_id", "prefix", "swept"),
    [
        ("ccontract-1a2b3c4d-7", "ccontract", True),
        ("ccontract-1a2b3c4d-gw3-12", "ccontract", True),
        ("ccontract-1a2b3c4d-probe", "ccontract", True),
        ("ccontract-1a2b3c4d-7", "ccontract-1a2b3c4d", True),
        ("ccontract-1a2b3c4d-7", "ccontract-99999999", False),
        ("ccontract-theirs", "ccontract", False),
        ("ccontract-1a2b3c4d", "ccontract", False),
        ("ccontract-1a2b3c4d-7-x", "ccontract", False),
        ("cc-1a2b3c4d-7", "ccontract", False),
        ("team-ccontract-1a2b3c4d-7", "ccontract", False),
    ],
)
def test_sweep_recognises_only_ids_of_the_suites_shape(connector_id: str, prefix: str, swept: bool) -> None:
    assert is_run_connector_id(connector_id, prefix) is swept


@pytest.mark.parametrize("version", ["8.14.3", "9.1.0"])
def test_sweep_deletes_leftovers_of_earlier_runs_and_only_those(
    version: str, start_target: Callable[..., ReferenceServer], pytester: pytest.Pytester
) -> None:
    target = ReferenceTarget(version)
    server = start_target(target)
    before = _plant_others(target)
    kept = pytester.runpytest_subprocess("--connector-url", server.url, "--connector-keep",
                                         "connector-contract::transition[connected->error]")  # fmt: skip
    assert kept.ret == 0
    if target.soft_delete:  # a soft-deleted leftover must go too
        target.handle("DELETE", f"/_connector/{_run_ids(target)[0]}", {}, {}, b"")
    leftovers = _run_ids(target)
    assert leftovers
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "sweep", "--connector-url", server.url,
               "--prefix", "ccontract"]  # fmt: skip
    dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert _run_ids(target) == leftovers
    assert all(f"would delete {cid}" in dry.stdout for cid in leftovers)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _run_ids(target) == []
    assert _bytes_of_others(target) == before


def test_sweep_without_a_target_is_a_usage_error() -> None:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "sweep", "--prefix", "x"]
    env = {**os.environ, "CONNECTOR_URL": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "--connector-url" in done.stderr
