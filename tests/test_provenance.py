"""Every report says where its result comes from: suite, contract data, target, time and settings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from pytest_connector_contract import __version__
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reports.provenance import profile_digest

SPEC = load_spec()
SECRET = "s3cr3t-pa55"


@pytest.mark.parametrize("parallel", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_json_and_junit_carry_the_same_provenance_without_secrets(
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., Any],
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    parallel: tuple[str, ...],
) -> None:
    from pytest_connector_contract.reference.endpoints import ReferenceTarget

    server = start_target(ReferenceTarget("8.19.2"))
    monkeypatch.setenv("CONNECTOR_TIMEOUT", "7")
    junit = pytester.path / "junit.xml"
    run = run_suite(server.url.replace("http://", f"http://elastic:{SECRET}@"), "--junitxml", str(junit), *parallel)
    assert run.ret == 0
    report = run.report
    assert schemas.problems("conformance-report", report) == []
    provenance = report["provenance"]
    assert provenance["suite_version"] == __version__
    assert provenance["schemas_sha256"] == schemas.digest()
    assert provenance["spec_sha256"] == SPEC.digest
    assert provenance["profile_sha256"] == profile_digest(SPEC, "8.15")
    assert provenance["started_at"] <= provenance["finished_at"]
    assert report["target"]["build_hash"] == "0" * 40
    assert report["configuration"]["timeout"] == {"value": 7.0, "source": "env"}

    text = junit.read_text(encoding="utf-8")
    assert SECRET not in text
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    expected = {
        "connector_contract.suite_version": __version__,
        "connector_contract.profile": "8.15",
        "connector_contract.schemas_sha256": schemas.digest(),
        "connector_contract.spec_sha256": SPEC.digest,
        "connector_contract.profile_sha256": profile_digest(SPEC, "8.15"),
        "connector_contract.target.url": server.url,
        "connector_contract.target.product": "Elasticsearch",
        "connector_contract.target.version": "8.19.2",
        "connector_contract.target.build_flavor": "default",
        "connector_contract.target.build_hash": "0" * 40,
        "connector_contract.config.url": server.url,
        "connector_contract.config.timeout": "7.0",
        "connector_contract.conformant": "true",
        "connector_contract.score": "1.0",
        "connector_contract.started_at": provenance["started_at"],
    }
    assert {k: properties.get(k) for k in expected} == expected
    assert properties["connector_contract.finished_at"] >= provenance["started_at"]


def test_profile_digests_differ_per_profile_and_are_stable() -> None:
    assert profile_digest(SPEC, "8.13") != profile_digest(SPEC, "8.15")
    assert profile_digest(SPEC, "8.15") == profile_digest(SPEC, "8.15")
    assert profile_digest(SPEC, None) is None
