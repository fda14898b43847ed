"""What two conformance reports of the same target must have in common, whatever ran concurrently.

Two runs of one suite against one target differ in what is specific to a run: the times (the target's own
too), the run's token and the numbers of the connector ids it created (they come from one counter per
process, in the order the checks created them), ``--connector-concurrency``, ``--connector-request-log``, the
target's port (each run may get a target of its own). Everything else, check by check, is the same: the
outcome, the message, the problems, the evidence, every request and answer, and the order the checks reported
in.

A race check is the exception: its racing requests are sent at the same moment on purpose, and which of
them wins is up to the target in every run, concurrent or not. Of a race check only the outcome counts
(in ``checks`` and in the report's ``race`` section).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from pytest_connector_contract.contract.ids import RUN_ID

#: a time the target wrote into a connector (8.13 and 8.14 stamp the default filtering rules)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
#: options two otherwise equal runs may set differently
_PER_RUN_OPTIONS = frozenset({"concurrency", "request_log"})
_TIMES = frozenset({"duration", "elapsed_ms", "generated_at", "started_at", "finished_at"})


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without what is specific to one run (see the module)."""
    netloc = urlsplit(report["target"]["url"]).netloc
    report = json.loads(_TIMESTAMP.sub("<time>", json.dumps(report).replace(netloc, "<target>")))
    for check in report["checks"]:
        for exchange in check.get("exchanges") or []:  # its length follows the ids' (compared in the body)
            for part in (exchange["request"], exchange["response"] or {}):
                part.get("headers", {}).pop("Content-Length", None)
    checks = {}
    for check in report["checks"]:
        if check["id"].startswith("race["):
            checks[check["id"]] = {"outcome": check["outcome"]}
            continue
        ids: dict[str, str] = {}

        def number(match: re.Match[str], ids: dict[str, str] = ids) -> str:
            return ids.setdefault(match.group(0), f"{match['prefix']}-<run>-{len(ids) + 1}")

        checks[check["id"]] = _untimed(json.loads(RUN_ID.sub(number, json.dumps(check))))
    rest = {key: value for key, value in report.items() if key not in ("checks", "configuration", "race")}
    if report.get("race") is not None:
        rest["race"] = [{"id": race["id"], "outcome": race["outcome"]} for race in report["race"]["results"]]
    configuration = {key: value for key, value in report["configuration"].items() if key not in _PER_RUN_OPTIONS}
    return {"checks": checks, "order": list(checks), "configuration": configuration, **_untimed(rest)}


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _untimed(item) for key, item in value.items() if key not in _TIMES}
    if isinstance(value, list):
        return [_untimed(item) for item in value]
    return value


def differences(first: Any, second: Any, path: str = "") -> list[str]:
    """Where two comparable reports differ, one line per differing leaf (for a readable failure)."""
    if isinstance(first, dict) and isinstance(second, dict):
        found = []
        for key in dict.fromkeys([*first, *second]):
            if key not in first or key not in second:
                found.append(f"{path}/{key}: only in the {'second' if key not in first else 'first'}")
            else:
                found += differences(first[key], second[key], f"{path}/{key}")
        return found
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [
            line
            for i, (a, b) in enumerate(zip(first, second, strict=True))
            for line in differences(a, b, f"{path}[{i}]")
        ]
    return [] if first == second else [f"{path}: {str(first)[:300]!r} != {str(second)[:300]!r}"]
