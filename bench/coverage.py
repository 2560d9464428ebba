"""`make bench`, sweeper coverage: full passes over 100 k, 1 M and 10 M items, ours vs today's code.

Tables come from bench/scale_table.py (generated lazily, slot by slot; nothing approximated but the
storage). Each size runs in a fresh process (bench/coverage_run.py), two at a time:
  ours    the package under test, run after run until one reports a complete pass
  today   the sweeper of the issue's commit (ISSUE_COMMIT, its committed zip, read with git), 3 runs:
          with one segment every run starts again at the table's first item, so what 3 runs cover is
          what any number of runs covers
Then the cost of one run through botocore and HTTP (the in-process runs above skip both): one 100,000-
item run of ours against the stub serving a 1 M-item table, and callgrind counts of the sweeper's cold
start and per-item cost (1,000- and 3,000-item tables), with and without lambda_entry.
"""

from __future__ import annotations

import math
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

from bench.common import BENCH, CALLGRIND, PY, RESULTS, ROOT, SWEEP_RUN, TABLE, Figure, log, read_json, run_child
from bench.costs import SWEEP_BUDGET_ITEMS as BUDGET  # the module's default sweeper.max_items_per_run
from bench.ddb_stub import serve
from bench.handler_bench import callgrind
from bench.scale_table import ScaleTable

ISSUE_COMMIT = "c2eafb5"  # main when issue 10 was filed: the sweeper without a saved position
SIZES = (100_000, 1_000_000, 10_000_000)
GATED_SIZE = 1_000_000
COVERAGE_RUN = str(BENCH / "coverage_run.py")


def today_zip() -> Optional[str]:
    """The issue commit's committed package, or None when the clone lacks that history."""
    out = RESULTS / "today.zip"
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ISSUE_COMMIT}:function/dist/remediation_disconnect.zip"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    out.write_bytes(proc.stdout)
    return str(out)


def passes(pkg: Dict[str, Any]) -> Dict[str, Any]:
    baseline = today_zip()
    jobs: List[Tuple[str, List[str]]] = []
    for items in SIZES:
        runs = 3 * math.ceil(items / BUDGET) + 3
        out = RESULTS / f"coverage-ours-{items}.json"
        jobs.append((f"ours-{items}", [PY, COVERAGE_RUN, str(pkg["sweeper_zip"]), str(items), str(runs), str(out)]))
        if baseline is not None:
            out = RESULTS / f"coverage-today-{items}.json"
            jobs.append((f"today-{items}", [PY, COVERAGE_RUN, baseline, str(items), "3", str(out)]))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: run_child(job[1], env), jobs))
    result: Dict[str, Any] = {"budget": BUDGET, "today_available": baseline is not None}
    for label, _argv in jobs:
        result[label] = read_json(RESULTS / f"coverage-{label}.json")
    return result


def sweep_env(endpoint: str, items: int) -> Dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(RESULTS / "home"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(RESULTS / "home" / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(RESULTS / "home" / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "remediation-sweeper",
        "CONNECTIONS_TABLE": TABLE,
        "SWEEP_MAX_ITEMS": str(min(items, BUDGET)),
    }


def through_botocore(pkg: Dict[str, Any]) -> Dict[str, Any]:
    """One budget-sized run of ours over HTTP (botocore parses every item), and callgrind counts."""
    (RESULTS / "home").mkdir(exist_ok=True)
    result: Dict[str, Any] = {}
    with serve(ScaleTable(GATED_SIZE, 0)) as (endpoint, _stub):
        out = RESULTS / "coverage-http.json"
        run_child([PY, SWEEP_RUN, "ours", str(pkg["sweeper_zip"]), str(out)], sweep_env(endpoint, GATED_SIZE))
        result["http_run"] = read_json(out)
    counts: Dict[str, int] = {}
    CALLGRIND.mkdir(parents=True, exist_ok=True)
    for label, kind, items in (("ours-1000", "ours", 1000), ("ours-3000", "ours", 3000), ("plain-1000", "plain", 1000)):
        with serve(ScaleTable(items, 0)) as (endpoint, _stub):
            out = RESULTS / f"sweep-callgrind-{label}.json"
            argv = [PY, SWEEP_RUN, kind, str(pkg["sweeper_zip"]), str(out)]
            counts[label] = callgrind(f"sweeper-{label}", argv, sweep_env(endpoint, items))
    result["callgrind"] = counts
    result["per_item_instructions"] = (counts["ours-3000"] - counts["ours-1000"]) / 2000
    return result


def coverage(pkg: Dict[str, Any]) -> Dict[str, Any]:
    log("sweeper coverage: 100 k, 1 M, 10 M items (lazily generated), ours until a pass completes, today 3 runs ...")
    result = passes(pkg)
    log("sweeper through botocore: one 100,000-item run over HTTP; callgrind cold start and per item ...")
    result.update(through_botocore(pkg))
    return result


def summary(run: Dict[str, Any]) -> Dict[str, Any]:
    runs = run["runs"]
    n = len(runs)
    return {
        "runs": n,
        "complete": run["pass_complete"],
        "coverage": run["coverage"],
        "items": run["items"],
        "examined_per_run": max(r["examined"] for r in runs),
        "read_units_per_run": sum(r["read_units"] for r in runs) / n,
        "write_units_per_run": sum(r["write_units"] for r in runs) / n,
        "cpu_seconds_per_run": sum(r["cpu_seconds"] for r in runs) / n,
        "stale_left": run["stale_left"],
        "stale": run["stale"],
        "live_deleted": run.get("live_deleted", 0),
    }


def coverage_figures(cov: Dict[str, Any]) -> List[Figure]:
    ours = summary(cov[f"ours-{GATED_SIZE}"])
    bound = math.ceil(GATED_SIZE / BUDGET)
    met = (
        ours["complete"]
        and ours["coverage"] == GATED_SIZE
        and ours["runs"] <= bound
        and ours["stale_left"] == 0
        and ours["live_deleted"] == 0
    )
    return [
        Figure(
            f"sweeper: runs per full pass, {GATED_SIZE:,} items",
            "runs",
            None,
            float(ours["runs"]),
            None,
            f"<= {bound}, all items, only stale removed",
            met,
        )
    ]
