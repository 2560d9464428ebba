"""Scheduled sweeper runs over a lazily generated table (bench/scale_table.py), in a fresh process.

    python bench/coverage_run.py ZIP ITEMS MAX_RUNS OUT_JSON [BUDGET]

Imports the sweeper from ZIP (our package, or today's: the zip committed at the issue's commit), gives
it the table through an in-process client with botocore's method names (no HTTP, no parsing: the
DynamoDB side costs nothing, so CPU per run is the sweeper's own work), and runs it as the schedule
would: until a run reports a complete pass (ours), or MAX_RUNS runs (today's code never completes).
Reports per run: items examined, read and write units, CPU seconds; and the table's coverage (distinct
items any Scan returned) and the stale items left.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import TABLE
from bench.costs import SWEEP_BUDGET_ITEMS
from bench.scale_table import STALE_AT, STALE_EVERY, InProcessClient, ScaleTable

# The sweeper's module by package: ours, and today's (the issue commit's zip, from before the rename).
SWEEPER = {"remediation_registry": "sweep.run", "remediation_disconnect": "sweeper"}


def main(argv: List[str]) -> int:
    zip_path, items, max_runs, out = argv[1], int(argv[2]), int(argv[3]), argv[4]
    budget = int(argv[5]) if len(argv) > 5 else SWEEP_BUDGET_ITEMS
    sys.path.insert(0, zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        package = archive.namelist()[0].split("/")[0]
    config, store_module, sweeper_module, telemetry = (
        importlib.import_module(f"{package}.{module}") for module in ("config", "store", SWEEPER[package], "telemetry")
    )
    ConnectionStore, Sweeper, Telemetry = store_module.ConnectionStore, sweeper_module.Sweeper, telemetry.Telemetry

    now = time.time()
    table = ScaleTable(items, int(now * 1000))
    store = ConnectionStore(InProcessClient(table), TABLE, sleep=lambda _delay: None)
    settings = config.load({"CONNECTIONS_TABLE": TABLE, "SWEEP_MAX_ITEMS": str(budget)})
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    sweeper = Sweeper(store, settings, Telemetry("Bench", stream=sink))
    takes_schedule = "scheduled_at" in inspect.signature(sweeper.run).parameters  # today's code
    runs: List[Dict[str, Any]] = []
    complete = False
    for n in range(max_runs):
        read, write = table.read_units, table.write_units
        started = time.process_time()
        at = now + 300 * n  # one run per 5-minute slot
        # The live population stays live: ages are relative to the run's time (a steady-state table whose
        # connections are replaced as they close), so only the 1 % stale items are ever removed.
        table.now_ms = int(at * 1000)
        run: Any = sweeper.run  # today's takes the schedule slot too
        report = run(at, lambda: 900_000, at) if takes_schedule else run(at, lambda: 900_000)
        runs.append(
            {
                "examined": report.examined,
                "read_units": round(table.read_units - read, 1),
                "write_units": round(table.write_units - write, 1),
                "cpu_seconds": round(time.process_time() - started, 3),
                "complete": report.complete,
            }
        )
        complete = complete or report.complete
        if report.complete and not takes_schedule:
            break
    sink.close()
    stale_total = len(range(STALE_AT, items, STALE_EVERY))
    stale_left = sum(1 for slot in range(STALE_AT, items, STALE_EVERY) if not table.deleted[slot])
    result = {
        "items": items,
        "budget": budget,
        "code": "today" if takes_schedule else "ours",
        "runs": runs,
        "pass_complete": complete,
        "coverage": table.coverage(),
        "stale": stale_total,
        "stale_left": stale_left,
        "live_deleted": sum(table.deleted) - (stale_total - stale_left),  # must be 0
        "requests": dict(table.counts),
    }
    with open(out, "w", encoding="utf-8") as stream:
        json.dump(result, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
