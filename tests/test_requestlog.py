"""--connector-request-log: one JSON line per request, from every process, never a credential."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.runs import run_pytest

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.contract.spec import load_spec

SPEC = load_spec()
ALL_IDS = {check.id for check in (*SPEC.checks, *official_checks(SPEC))}
SECRET = "log-secret-0005"


def test_every_request_of_a_serial_run_is_logged_in_order_without_credentials(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_API_KEY", f"ci:{SECRET}")
    log = pytester.path / "logs" / "requests.jsonl"
    log.parent.mkdir()
    log.write_text("a line of an earlier run\n")
    result = run_pytest(pytester, "embedded", "--connector-request-log", str(log), "--connector-concurrency", "1")
    assert result.ret == 0, result.stdout.str()
    text = log.read_text()
    assert SECRET not in text
    assert "ApiKey" not in text
    records = requestlog.read(log)
    assert all(tuple(record) == requestlog.RECORD_KEYS for record in records)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))  # one process: its own order
    assert {r["worker"] for r in records} == {None}
    # The preflight (GET /, the probe GET and PUT _status) belongs to no check; then every check's requests.
    assert [(r["method"], r["check"]) for r in records[:3]] == [("GET", None), ("GET", None), ("PUT", None)]
    assert {r["check"] for r in records[3:]} == ALL_IDS
    first = [r for r in records if r["check"] == "transition[created->error]"]
    assert [(r["method"], r["status"]) for r in first] == [
        ("GET", 404),  # the id is unused
        ("PUT", 201),  # create
        ("GET", 200),  # the document before
        ("PUT", 200),  # the request under test
        ("GET", 200),  # the document after
        ("DELETE", 200),
    ]
    under_test = first[3]
    assert under_test["path"].endswith("/_status")
    assert under_test["body"] == '{"status":"error"}'
    assert under_test["content_type"] == "application/json"
    assert under_test["elapsed_ms"] >= 0
    assert first[-1]["query"] == "hard=true"
    assert all(r["error"] is None for r in records)


def test_every_worker_appends_to_the_same_log(pytester: pytest.Pytester) -> None:
    log = pytester.path / "requests.jsonl"
    result = run_pytest(pytester, "embedded", "--connector-request-log", str(log), "-n", "2")
    assert result.ret == 0, result.stdout.str()
    records = requestlog.read(log)
    assert {r["worker"] for r in records} == {None, "gw0", "gw1"}
    assert {r["check"] for r in records if r["worker"] is not None} == ALL_IDS
    assert all(r["check"] is None for r in records if r["worker"] is None)  # the controller's preflight
    for worker in ("gw0", "gw1"):
        seqs = [r["seq"] for r in records if r["worker"] == worker]
        assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_bodies_that_are_not_utf8_are_logged_as_base64(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    requestlog.reset(path)
    log = requestlog.RequestLog(path, worker="gw3")
    fields = {"method": "PUT", "path": "/x", "query": "", "content_type": None, "accept": None, "status": 400}
    log.write(check="c", body=b'{"status":"\xff"}', error=None, start=1.0, elapsed_ms=1.0, **fields)
    log.write(check="c", body=None, error="timed out", start=2.0, elapsed_ms=1.0, **fields)
    log.close()
    log.close()  # closing twice is harmless
    first, second = requestlog.read(path)
    assert first["body"] is None
    assert requestlog.request_body(first) == b'{"status":"\xff"}'
    assert requestlog.request_body(second) is None
    assert second["error"] == "timed out"
    assert first["worker"] == "gw3"
