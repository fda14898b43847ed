"""The behaviour a refactor must keep: a normalised JSON report and the request sequence of one run, per release.

``tests/golden/`` holds, for the oldest and the newest release the embedded target serves, what a default run
(``pytest --connector-url embedded``, one check at a time) reports and which requests it sends, with what is
specific to one run taken out (times, ports, the run token and the numbering of connector ids: see
``support/comparable.py``). A change that alters either on purpose (a new check, a new report field) regenerates them
and says so in its commit::

    CONNECTOR_GOLDEN_UPDATE=1 pytest tests/test_golden.py

New entries in the report's ``configuration`` (new options) are not differences: the golden run did not have
them to report.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from support.comparable import comparable, differences

from pytest_connector_contract.contract.ids import RUN_ID

GOLDEN = Path(__file__).parent / "golden"
RELEASES = ("8.13.4", "9.1.0")
#: what a request-log line says that does not depend on the run
_REQUEST_KEYS = ("check", "method", "path", "query", "content_type", "accept", "body", "body_base64", "status")


def _requests(log: Path) -> list[dict[str, Any]]:
    ids: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return ids.setdefault(match.group(0), f"{match.group(1)}-<run>-{len(ids) + 1}")

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [json.loads(RUN_ID.sub(number, json.dumps({key: line[key] for key in _REQUEST_KEYS}))) for line in lines]


@pytest.mark.parametrize("release", RELEASES)
def test_a_default_run_reports_and_sends_what_the_golden_run_did(pytester: pytest.Pytester, release: str) -> None:
    report_path, log_path = pytester.path / "conformance.json", pytester.path / "requests.jsonl"
    result = pytester.runpytest_subprocess(
        "--connector-url=embedded",
        f"--connector-embedded-version={release}",
        "--connector-json=conformance.json",
        "--connector-request-log=requests.jsonl",
    )
    assert result.ret == 0, result.stdout.str()
    report = comparable(json.loads(report_path.read_text()))
    requests = _requests(log_path)
    golden_report, golden_requests = GOLDEN / f"report-{release}.json", GOLDEN / f"requests-{release}.json"
    if os.environ.get("CONNECTOR_GOLDEN_UPDATE") == "1":
        golden_report.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        golden_requests.write_text(json.dumps(requests, indent=1) + "\n")
    expected = json.loads(golden_report.read_text())
    new_options = set(report["configuration"]) - set(expected["configuration"])
    for name in new_options:
        del report["configuration"][name]
    assert not differences(expected, report), "\n".join(differences(expected, report)[:40])
    expected_requests = json.loads(golden_requests.read_text())
    assert requests == expected_requests, "\n".join(differences(expected_requests, requests)[:40])
