"""Collection of the bundled suite: one pytest item per catalogue entry, with fixed node ids.

Items are built from the catalogue rather than collected from a file, so their ids read
``connector-contract::transition[created->error]`` wherever the package is installed and whatever the
user's ``python_files``, ``testpaths``, ``rootdir`` or conftest files say.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn

import pytest

from pytest_connector_contract.checks.factory import SetupError
from pytest_connector_contract.checks.run import CheckFailed, Run, outcome_of
from pytest_connector_contract.client.api import TargetUnreachable
from pytest_connector_contract.contract.spec import SUITE_NODE, Check, Spec, selects
from pytest_connector_contract.plugin import concurrency
from pytest_connector_contract.plugin.keys import STATE

__all__ = ["CheckItem", "SuiteCollector", "collect_suite", "parse_selection"]


def run_check(_connector_run: Run, request: pytest.FixtureRequest) -> None:
    """Run one catalogued check against the target, and the reference if there is one (the same function
    serves every item); a check that ran ahead of its turn (``--connector-concurrency``) is not run again: its
    outcome is raised here instead."""
    ahead = concurrency.taken(request.node)
    outcome = ahead.outcome if ahead is not None else request.config.stash[STATE].execute(_connector_run)
    if outcome.error is None:
        return
    ended, message = outcome_of(outcome.error)
    if ended in _PYTEST_OUTCOME:
        _PYTEST_OUTCOME[ended](message or "")
    raise outcome.error


#: the outcomes of a check that pytest reports as a skip or an xfail (see checks.run.outcome_of); a failure or
#: an error is the exception itself, raised
_PYTEST_OUTCOME: dict[str, Callable[[str], NoReturn]] = {
    "blocked": pytest.skip,
    "skipped": pytest.skip,
    "xfailed": pytest.xfail,
}


class CheckItem(pytest.Function):
    """A catalogued check; failures print the departures, not a traceback into the harness."""

    check: Check

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _reparse_node_id(self)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        path, lineno, _ = super().reportinfo()
        return path, lineno, self.nodeid

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, CheckFailed):
            lines = str(excinfo.value).splitlines()
            details = getattr(excinfo.value, "details", None)  # e.g. a walk's shortest sequence and replay
            shown = [f"{self.check.id}: {self.check.statement}", *(f"  - {line}" for line in lines)]
            return "\n".join([*shown, details] if details else shown)
        if isinstance(excinfo.value, SetupError | TargetUnreachable):
            return f"{self.check.id} could not run: {excinfo.value}"
        return super().repr_failure(excinfo)


def _reparse_node_id(item: pytest.Item) -> None:
    """Give the item the structured node id pytest itself would parse from its string form.

    pytest 9 keeps node ids structured (``_pytest.nodeid.NodeId``: path, names, params) and ``--lf``
    compares them with ids parsed back from the cache's strings. Ours are built from a plain name that
    carries the brackets (``names=("transition[created->error]",)``), while the parsed form splits them
    off (``names=("transition",), params="created->error"``), so the structure is re-parsed from the
    string. pytest 8 keeps a plain string (``_nodeid``): nothing to do. A layout of neither kind warns,
    since ``--lf`` may then not find the failed checks (tests/test_private_apis.py checks the layout).
    """
    node_id = getattr(item, "_id", None)
    parse = getattr(type(node_id), "parse", None)
    if node_id is not None and callable(parse):
        item._id = parse(str(node_id))
    elif node_id is not None or not isinstance(getattr(item, "_nodeid", None), str):
        _warn_node_ids("an item keeps its node id neither in _id (with a parse method) nor in _nodeid")


@functools.cache
def _warn_node_ids(problem: str) -> None:
    """Once per process: the check ids still select and report, but ``--lf`` may rerun every check."""
    message = f"connector-contract: unknown node id layout of this pytest ({problem}); --lf may not work"
    warnings.warn(pytest.PytestWarning(message), stacklevel=1)


class SuiteCollector(pytest.Collector):
    """The bundled suite as one collector directly under the session."""

    spec: Spec
    selection: Sequence[str] | None
    #: checks beyond the default suite that the run's options enable (see extended.py)
    extra: Sequence[Check] = ()

    def collect(self) -> Iterable[pytest.Item]:
        for check in _selected((*self.spec.checks, *self.extra), self.selection):
            item = CheckItem.from_parent(
                self, name=check.id, callobj=run_check, keywords={check.category: True, check.kind: True}
            )
            item.check = check
            yield item


def _selected(checks: Iterable[Check], selection: Sequence[str] | None) -> Iterator[Check]:
    for check in checks:
        if selection is None or any(selects(s, check.id) for s in selection):
            yield check


def suite_selection(config: pytest.Config, has_target: bool) -> tuple[bool, list[str] | None]:
    """Whether this run collects the bundled suite (a target and no test path of the user's), and which of its
    checks the arguments select; the suite is then not collected from paths (nothing from ``testpaths`` or
    the invocation directory)."""
    selection = parse_selection(config.args)
    explicit_paths = config.args_source == pytest.Config.ArgsSource.ARGS and selection is None
    if selection is not None and not has_target:
        raise pytest.UsageError(f"{config.args[0]!r} names the bundled suite: give a target with --connector-url")
    suite = has_target and not explicit_paths
    if suite:
        config.args = []
    return suite, selection


def parse_selection(args: Sequence[str]) -> list[str] | None:
    """``connector-contract::transition[created->error]`` style arguments -> check ids (or prefixes).

    Returns None unless every argument names the suite, so that real paths keep their usual meaning.
    """
    if not args or not all(arg == SUITE_NODE or arg.startswith(f"{SUITE_NODE}::") for arg in args):
        return None
    selection = [arg.partition("::")[2] for arg in args]
    return [] if "" in selection else selection


def collect_suite(
    session: pytest.Session, spec: Spec, selection: Sequence[str] | None, extra: Sequence[Check] = ()
) -> list[pytest.Item]:
    """Collect the suite through the public collection hooks, as Session.perform_collect would."""
    hook = session.config.hook
    collector = SuiteCollector.from_parent(session, name=SUITE_NODE, nodeid=SUITE_NODE)
    collector.spec = spec
    collector.selection = selection or None
    collector.extra = tuple(extra)
    hook.pytest_collectstart(collector=collector)
    report = hook.pytest_make_collect_report(collector=collector)
    hook.pytest_collectreport(report=report)
    items = [node for node in report.result if isinstance(node, pytest.Item)] if report.passed else []
    if selection:
        known = (*spec.checks, *extra)
        unknown = [s for s in selection if not any(selects(s, c.id) for c in known)]
        if unknown:
            hint = (
                " (exploration walks need --connector-explore N)"
                if any(u.startswith("explore") for u in unknown)
                else ""
            )
            raise pytest.UsageError(
                f"no check of the suite matches {', '.join(repr(u) for u in unknown)}{hint}; "
                f"see 'pytest --connector-url embedded --collect-only -q' for the ids"
            )
    return items
