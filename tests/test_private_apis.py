"""The private APIs the plugin uses on purpose still have the shape it relies on, and still take effect.

Each of these reaches into a library's internals because no public API does the job: Hypothesis' pool of
constants from local modules (``checks/explore.py``), pytest's JUnit writer (``plugin/junit.py``),
pytest's structured node ids (``plugin/suite.py``) and the queue of items an xdist worker has been handed
(``plugin/concurrency.py``). When one of them changes, a test here fails, and the
plugin itself warns instead of silently doing nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context

from pytest_connector_contract.checks import explore
from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.plugin import concurrency, junit, suite

#: an integer constant only the module written by the test holds
MARK = 1_234_567_891


# -- Hypothesis: walks that depend on their seed alone ---------------------------------------------
@pytest.fixture
def local_module_with_a_constant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local module (not installed, not the standard library) whose source holds ``MARK``."""
    name = "connector_contract_constants_probe"
    (tmp_path / f"{name}.py").write_text(f"MARK = {MARK}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)
    yield
    sys.modules.pop(name, None)


def _providers() -> Any:
    return importlib.import_module(explore.HYPOTHESIS_PROVIDERS)


def test_hypothesis_has_the_internals_the_seed_patch_replaces() -> None:
    assert importlib.util.find_spec(explore.HYPOTHESIS_CONSTANTS) is not None, "no local constants: drop _seed_only"
    patch = explore._local_constants_patch()
    assert not isinstance(patch, str), patch
    providers, original, empty = patch
    assert original is providers._get_local_constants
    assert len(empty) == 0
    # HypothesisProvider looks the function up in its module each time it needs the pool: what is patched
    assert "_get_local_constants" in providers.HypothesisProvider._local_constants.func.__code__.co_names


@pytest.mark.usefixtures("local_module_with_a_constant")
def test_inside_a_walk_hypothesis_draws_no_constant_of_a_local_module() -> None:
    providers = _providers()
    original = providers._get_local_constants
    assert MARK in providers.HypothesisProvider(None)._local_constants.integers  # what the patch is for
    providers.CONSTANTS_CACHE[("integer", "a pool computed before the walk")] = ((), (MARK,))
    with explore._seed_only():
        assert len(providers.HypothesisProvider(None)._local_constants) == 0
        assert ("integer", "a pool computed before the walk") not in providers.CONSTANTS_CACHE
    assert providers._get_local_constants is original
    assert MARK in providers.HypothesisProvider(None)._local_constants.integers


def test_the_seed_patch_warns_when_the_internals_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(_providers(), "_get_local_constants")
    with pytest.warns(explore.SeedWarning, match="may not be reproducible from their seed alone"), explore._seed_only():
        pass


def test_hypothesis_marks_its_final_replay_as_the_walk_expects() -> None:
    """``Walk.begin`` runs a sequence dry once out of budget, except on Hypothesis' final replay."""
    finals: list[bool] = []

    @settings(database=None, phases=[Phase.generate, Phase.shrink], max_examples=50, deadline=None)
    @given(st.integers())
    def departs_above_ten(number: int) -> None:
        finals.append(current_build_context().is_final)
        assert number <= 10

    with pytest.raises(AssertionError):
        departs_above_ten()
    assert finals[-1] is True
    assert not any(finals[:-1])


# -- pytest's JUnit writer ---------------------------------------------------------------------------
def test_pytest_junit_writer_is_where_the_plugin_looks(pytester: pytest.Pytester) -> None:
    from _pytest.junitxml import LogXML, xml_key

    config = pytester.parseconfigure("--junitxml", str(pytester.path / "j.xml"))
    writer = junit.junit_writer(config)
    assert isinstance(writer, LogXML)
    assert writer is config.stash[xml_key]


def _junit_properties(path: Path) -> dict[str | None, str | None]:
    suite_element = ET.fromstring(path.read_text(encoding="utf-8")).find("testsuite")
    assert suite_element is not None
    return {p.get("name"): p.get("value") for p in suite_element.iter("property")}


ONE_CHECK = ("--connector-url", "embedded", "connector-contract::transition[created->error]")


def test_the_junit_xml_carries_the_verdict(pytester: pytest.Pytester) -> None:
    path = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(*ONE_CHECK, "--junitxml", str(path))
    assert result.ret == 0
    properties = _junit_properties(path)
    assert properties["connector_contract.conformant"] == "true"
    assert properties["connector_contract.profile"] == "8.15"


def test_without_pytest_junit_writer_the_run_warns(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from _pytest.junitxml import xml_key

        @pytest.hookimpl(trylast=True)
        def pytest_configure(config):
            del config.stash[xml_key]  # as if pytest kept its writer elsewhere
        """
    )
    path = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(*ONE_CHECK, "--junitxml", str(path))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*PytestWarning: connector-contract: pytest's JUnit XML writer was not found*"])
    assert not any(str(name).startswith("connector_contract.") for name in _junit_properties(path))


# -- pytest's structured node ids --------------------------------------------------------------------
_DUMP_IDS = """
import json
import pytest

from pytest_connector_contract.plugin.suite import parse_selection


def pytest_collection_finish(session):
    rows = []
    for item in session.items:
        structured = getattr(item, "_id", None)
        rows.append({
            "nodeid": item.nodeid,
            "check": item.check.id,
            "selected_as": parse_selection([item.nodeid]),
            "structured": None if structured is None else {
                "type": f"{type(structured).__module__}.{type(structured).__qualname__}",
                "path": structured.path,
                "names": list(structured.names),
                "params": structured.params,
                "same_as_parsed": structured == type(structured).parse(item.nodeid),
            },
        })
    with open("ids.json", "w", encoding="utf-8") as out:
        json.dump(rows, out)
"""


def test_node_ids_are_pytests_own_structure_and_parse_back_to_check_ids(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_DUMP_IDS)
    result = pytester.runpytest_subprocess(
        "--connector-url", "embedded", "--collect-only", "-q", "-W", "error::pytest.PytestWarning",
        "--connector-explore", "2", "--connector-seed", "1", "--connector-race",
        "--connector-api-key", "ci:ci-key", "--connector-readonly-api-key", "ro:ro-key",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    rows = json.loads((pytester.path / "ids.json").read_text(encoding="utf-8"))
    spec = load_spec()
    expected = [c.id for c in (*spec.checks, *official_checks(spec), *spec.explore_checks(2, 1), *spec.optional_checks)]
    assert sorted(row["check"] for row in rows) == sorted(expected)
    assert {row["check"].partition("[")[0] for row in rows} == {
        "transition", "validation", "not_found", "response", "unchanged", "client", "explore", "race", "privileges",
        "official_client",
    }  # fmt: skip
    for row in rows:
        check = row["check"]
        assert row["nodeid"] == f"{suite.SUITE_NODE}::{check}"
        assert row["selected_as"] == [check]
        kind, _, params = check.partition("[")
        assert row["structured"] == {
            "type": "_pytest.nodeid.NodeId",
            "path": suite.SUITE_NODE,
            "names": [kind],
            "params": params.removesuffix("]"),
            "same_as_parsed": True,
        }


def test_an_unknown_node_id_layout_warns() -> None:
    suite._warn_node_ids.cache_clear()
    with pytest.warns(pytest.PytestWarning, match="unknown node id layout"):
        suite._reparse_node_id(types.SimpleNamespace())  # type: ignore[arg-type]
    suite._warn_node_ids.cache_clear()


# -- pytest-xdist: the items a worker has been handed ----------------------------------------------------
def test_an_xdist_worker_keeps_the_indices_it_was_handed_where_the_plugin_reads_them() -> None:
    import execnet
    from xdist.remote import Marker, TestQueue, WorkerInteractor

    assert "torun" in WorkerInteractor.__init__.__code__.co_names
    queue = TestQueue(execnet.gateway_base.get_execmodel("thread"))
    for index in (3, 5):
        queue.put(index)
    queue.put(Marker.SHUTDOWN)
    assert concurrency._indices(queue.lock) == [3, 5]
    assert queue.get() == 3  # reading them took none away


def test_xdist_workers_run_their_checks_concurrently(pytester: pytest.Pytester) -> None:
    log = pytester.path / "requests.jsonl"
    result = pytester.runpytest_subprocess(
        "--connector-url", "embedded", "-n", "2", "--connector-concurrency", "4", f"--connector-request-log={log}",
        "-W", "error::pytest.PytestWarning",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    assert "unknown pytest-xdist worker layout" not in result.stdout.str()
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for record in requestlog.read(log):
        if record["check"] is not None:
            key = (record["worker"], record["check"])
            end = record["start"] + record["elapsed_ms"] / 1000
            first, last = spans.get(key, (record["start"], end))
            spans[key] = (min(first, record["start"]), max(last, end))
    for worker in ("gw0", "gw1"):  # within each worker, some checks overlapped
        mine = sorted(span for (name, _), span in spans.items() if name == worker)
        assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(mine)), worker


def test_a_worker_without_the_queue_the_plugin_reads_warns_and_runs_one_check_at_a_time(
    pytester: pytest.Pytester,
) -> None:
    config = pytester.parseconfigure()
    concurrency._warn_xdist.cache_clear()
    with pytest.warns(pytest.PytestWarning, match="unknown pytest-xdist worker layout"):
        assert concurrency._xdist_queue(config) is None
    concurrency._warn_xdist.cache_clear()
