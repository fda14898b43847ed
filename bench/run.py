#!/usr/bin/env python3
"""Benchmarks of pytest-connector-contract: time to verdict, requests per check, harness overhead,
parallel scaling, checks in flight together, and the reference target under load.

    python bench/run.py                 # the full benchmark (a few minutes), writes bench/results.json
    python bench/run.py --quick         # a smoke run: few repeats, tiny sizes (bench/results-quick.json)
    python bench/run.py --only startup,requests

It prints a table and writes it as JSON (shape: docs/performance.md). Every figure is the median of
repeated runs, with min and max; every ratio is taken between runs made side by side in the same repeat,
because absolute times on a shared machine drift. Needs only what ``pip install -e '.[dev]'`` installs.

This file is the command line; the rest of bench/ does the work: ``measuring.py`` (statistics, the
processes it starts, where a logged run's time went), ``suite_runs.py`` (the sections that run the suite),
``reference_load.py`` (the reference target under load) and ``results.py`` (targets, verdicts, the table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reference_load import bench_load
from results import machine, pytest_plugins, table, verdicts, versions
from suite_runs import bench_concurrency, bench_overhead, bench_requests, bench_scaling, bench_startup

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results.json"
#: where --quick writes unless told otherwise: a smoke run never replaces the published figures
QUICK_OUTPUT = ROOT / "bench" / "results-quick.json"
SCHEMA_VERSION = 1
SECTIONS = ("startup", "requests", "overhead", "scaling", "concurrency", "load")
#: the latency of the slow target the scaling and concurrency sections run against
LATENCY_MS = 20.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats and tiny sizes (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each timed figure (default 5, quick 1)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the JSON (default bench/results.json; bench/results-quick.json with --quick)",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    repeats = args.repeats or (1 if args.quick else 5)
    #: the quick run's slow-target sections run only the cheapest checks
    select = ["-k", "transition and created"] if args.quick else []
    started = datetime.now(UTC)
    load_before = list(os.getloadavg())
    sections: dict[str, Any] = {}
    steps: dict[str, Callable[[Path], dict[str, Any]]] = {
        "startup": lambda work: bench_startup(work, repeats),
        "requests": bench_requests,
        "overhead": lambda work: bench_overhead(work, repeats),
        "scaling": lambda work: bench_scaling(
            work,
            1 if args.quick else max(1, repeats // 2),
            (0, 2) if args.quick else (0, 2, 4, 8),
            LATENCY_MS,
            select,
        ),
        "concurrency": lambda work: bench_concurrency(work, 1 if args.quick else repeats, LATENCY_MS, select),
        "load": lambda work: bench_load(
            1 if args.quick else max(1, repeats // 2),
            (1, 4) if args.quick else (1, 8, 32),
            64 if args.quick else 4000,
            2 if args.quick else 50,
        ),
    }
    work = Path(tempfile.mkdtemp(prefix="connector-contract-bench-"))
    try:
        for name in only:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            sections[name] = steps[name](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeats": repeats,
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {**machine(), "load_average_before": load_before},
        "versions": versions(),
        "pytest_plugins": pytest_plugins(),
        "sections": sections,
    }
    result["targets"] = verdicts(sections)
    output: Path = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nJSON: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
