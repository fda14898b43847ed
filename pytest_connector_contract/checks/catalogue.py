"""The catalogue of check kinds: how the harness finds the function that runs a check of each kind.

The kinds beyond the default suite (exploration, racing clients) are imported only when a check of theirs
runs, so that a run that does not use them never pays for Hypothesis or threads; the official client's module
is imported at start-up (it lists its checks), the client itself only when a check runs. No check module
imports another.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pytest_connector_contract.checks import client_wire, kinds, official_client
from pytest_connector_contract.checks.run import Run
from pytest_connector_contract.contract.spec import Check, Spec

__all__ = ["KINDS", "RUN_ALONE", "request_floors", "runner"]

#: kind -> the function that runs it, or "module:function" for the kinds loaded on first use
KINDS: dict[str, Callable[[Run], None] | str] = {
    "transition": kinds.check_transition,
    "validation": kinds.check_validation,
    "not_found": kinds.check_not_found,
    "response": kinds.check_response,
    "privileges": kinds.check_privileges,
    "client": client_wire.check_client_wire,
    "unchanged": kinds.check_unchanged,
    "explore": "pytest_connector_contract.checks.explore:explore",
    "race": "pytest_connector_contract.checks.race:race",
    "official_client": official_client.official_client,
}

#: kinds whose checks never run ahead of their turn with others in flight (``--connector-concurrency``): an
#: exploration walk drives Hypothesis, which is not thread-safe, so no two walks may overlap; a race check
#: runs its own racing threads, whose timing other checks in flight would only blur (an official client check
#: runs in a slot too: it hands the part that catches the client's warnings to pytest's thread, see ahead.py)
RUN_ALONE = frozenset({"explore", "race"})


def runner(kind: str) -> Callable[[Run], None]:
    """The function that runs checks of ``kind`` (KeyError for a kind the catalogue does not know)."""
    entry = KINDS[kind]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        function: Callable[[Run], None] = getattr(importlib.import_module(module), name)
        KINDS[kind] = function
        return function
    return entry


def request_floors(spec: Spec, check: Check, *, soft_delete: bool) -> tuple[int, int]:
    """The fewest requests a fully isolated check of a run without options needs: (strict, safe). KeyError
    for the kinds beyond it, whose request count depends on the run's options.

    create + setup transitions + the request(s) under test + one read + one delete, where create is one
    PUT (strict) or, on an API whose PUT overwrites, the GET that proves the id unused plus the PUT (safe).
    A check that sends a request to an id that must not exist needs that GET too (in both floors a
    request to someone else's connector is never acceptable, so the strict floor counts it as well).
    The benchmark compares the suite with them (bench/run.py); checks in flight together start the longest
    first (plugin/concurrency.py).
    """
    if check.kind in ("transition", "unchanged"):
        start = check.params["from"]
        setup = len(spec.setup_paths[start])
        if check.kind == "unchanged":  # the _error call and the read of the status it left, then the path
            setup = 2 + min(setup, len(spec.setup_paths_from_error.get(start, spec.setup_paths[start])))
        return 1 + setup + 1 + 1 + 1, 2 + setup + 1 + 1 + 1
    if check.kind == "validation":
        return 1 + 1 + 1 + 1, 2 + 1 + 1 + 1
    if check.kind == "not_found":
        if check.params["case"] == "id-case":
            # create, the GET proving the other-case id unused, the request, the read showing it still missing,
            # the read of the connector, the delete
            return 1 + 1 + 1 + 1 + 1 + 1, 2 + 1 + 1 + 1 + 1 + 1
        if check.params["case"] == "deleted-connector":
            # create, the DELETE that is its setup, the request; a hard delete where deletes are soft
            strict = 1 + 1 + 1 + (1 if soft_delete else 0)
            return strict, strict + 1
        # the GET proving the id unused, the request, the read showing it still missing
        return 3, 3
    if check.kind == "client":
        # create, the replayed request, one read, one delete (a capture needs no setup transition)
        return 1 + 1 + 1 + 1, 2 + 1 + 1 + 1
    if check.kind == "response":
        # create, a second id proven unused, the three answers under test, one read, one delete
        return 1 + 1 + 3 + 1 + 1, 2 + 1 + 3 + 1 + 1
    if check.kind == "official_client":
        if check.params["case"] == "not-found":
            return 2, 2  # the GET proving the id unused, the client's request
        return 1 + 1 + 1 + 1, 2 + 1 + 1 + 1  # create, the client's request, one read, one delete
    raise KeyError(check.kind)
