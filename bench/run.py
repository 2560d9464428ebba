#!/usr/bin/env python3
"""`make bench`: the `$disconnect` handler and the sweeper against the seed's handler, in one run.

Every figure is a ratio ours/baseline measured in this run, printed with its target; the whole result
goes to bench/results/latest.json (git-ignored). Exit status: 0 when every target is met, 1 when one is
missed, 2 when the benchmark itself could not run. No timing threshold lives anywhere else.

  cold start    instructions (valgrind --tool=callgrind) of a fresh process importing the handler from
                its zip (remediation_registry.lambda_entry, as the function's handler string
                names it) and serving one event                                           <= 0.85x
  warm event    (Ir(1+N events) - Ir(1 event)) / N, N = 300                               <= 1.00x
  peak memory   ru_maxrss of the handler process after cold start + N events              <= 1.00x
  package       bytes of the zip built from function/src                                  <= 16 KiB
  requests      DynamoDB requests per disconnect, presence off: one DeleteItem, no read
  presence on   context: cold start, warm event and peak RSS when every event closes an agent's last
                connection (DeleteItem + UpdateItem + SendMessage)
  sweeper       expired items removed per second, 10,000 of 50,000 on moto, vs a naive scan + delete >= 4x
  coverage      runs per full pass over 1,000,000 items with the default 100,000-item budget <= 10, every
                item examined (bench/coverage.py; 100 k and 10 M items and today's code as context)
  fleet         agent presence for 1,000 real WebSocket agents through the local gateway, time compressed
                5x (bench/fleet.py): per scenario, detection latency, false / missed / duplicate /
                out-of-order events against the simulator's ground truth (= 0 each), silent death
                announced at p99 < 120 s (real-time equivalent); requests per agent-hour, $ per 1,000
                agents per month; a model at 100,000 agents (bench/fleet_model.py)

Both handlers talk to bench/ddb_stub.py (a loopback stand-in for DynamoDB that costs next to nothing),
so the figures measure the handlers rather than the network or an emulator. Wall-clock figures (CPU and
elapsed time per event, cold-start time) are context, never gated.

Usage: run.py [--zip PATH] [--only handler|sweeper|coverage|fleet] [--events N] [--fleet-agents N]
  --zip PATH   measure this package instead of a fresh build of function/src (e.g. a candidate change)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    RESULTS,
    TARGETS,
    TIMING_EVENTS,
    TIMING_REPS,
    TIMING_ROUNDS,
    WARM_EVENTS,
    BenchError,
    Figure,
    build_packages,
    figure,
    log,
    machine,
    write_event,
)
from bench.coverage import coverage, coverage_figures  # noqa: E402
from bench.ddb_stub import serve  # noqa: E402
from bench.fleet import simulate  # noqa: E402
from bench.fleet_model import model  # noqa: E402
from bench.fleet_report import fleet_figures, print_fleet  # noqa: E402
from bench.handler_bench import (  # noqa: E402
    handler_figures,
    import_times,
    instruction_counts,
    requests_per_disconnect,
    verify,
    wall_clock,
)
from bench.presence_bench import presence_figures, presence_on  # noqa: E402
from bench.report import report  # noqa: E402
from bench.sweeper_bench import sweeper, sweeper_figures  # noqa: E402


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, help="measure this package instead of building function/src")
    parser.add_argument("--only", choices=("handler", "sweeper", "coverage", "fleet"), help="run one part only")
    parser.add_argument("--fleet-agents", type=int, default=1000, help="agents live at once in the fleet part")
    parser.add_argument("--events", type=int, default=WARM_EVENTS, help="warm events under callgrind (>= 300)")
    args = parser.parse_args(argv)
    for tool in ("valgrind", "callgrind_annotate") if args.only in (None, "handler") else ():
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed (apt-get install valgrind)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    info = machine()
    log(f"make bench: {info['cpu']}, {info['cores']} cores, Python {info['python']}, botocore {info['botocore']}, ")
    log(f"            boto3 {info['boto3']}, moto {info['moto']}, {info['valgrind']}; {info['date']}")
    pkg = build_packages(args.zip)
    write_event()
    sizes = ", ".join(f"{function}.zip {size:,}" for function, size in pkg["zip_bytes"].items())
    log(f"packages: {pkg['source']}: {sizes} bytes (function/dist up to date: {pkg['dist_up_to_date']})")

    figures: List[Figure] = []
    results: Dict[str, Any] = {"machine": info, "targets": TARGETS}
    results["package"] = {key: value for key, value in pkg.items() if not key.endswith("_zip")}
    figures.append(figure("package size (disconnect.zip)", "bytes", float(TARGETS["package_bytes"]), pkg["bytes"], 1.0))
    for function in ("connect", "sweeper", "presence", "events"):
        figures.append(figure(f"context: {function}.zip", "bytes", None, pkg["zip_bytes"][function], None))

    if args.only in (None, "handler"):
        with serve() as (endpoint, stub):
            log(f"stub DynamoDB/EventBridge endpoint on {endpoint}")
            log("verifying both handlers (one JSON line per event, stub counters) ...")
            results["verify"] = verify(pkg, endpoint, stub)
            log("requests per disconnect, presence off and on ...")
            results["requests"] = requests_per_disconnect(pkg, endpoint, stub)
            log(f"callgrind: 9 fresh processes, 2 at a time (cold start, {args.events} warm events, floors) ...")
            results["instructions"] = instruction_counts(pkg, endpoint, args.events)
            log(f"wall clock: {TIMING_ROUNDS} rounds x {TIMING_REPS} x {TIMING_EVENTS:,} events per handler ...")
            results["wall_clock"] = wall_clock(pkg, endpoint)
            results["import_time_us"] = import_times(pkg, endpoint)
            log(f"presence on: callgrind cold start and {args.events} warm events, peak RSS ...")
            results["presence_on"] = presence_on(pkg, endpoint, args.events)
        figures += handler_figures(results)
        figures += presence_figures(results)
    if args.only in (None, "sweeper"):
        log("sweeper on moto server: 10,000 expired of 50,000 items, naive scan + DeleteItem vs ours ...")
        results["sweeper"] = sweeper(pkg)
        figures += sweeper_figures(results["sweeper"])
    if args.only in (None, "coverage"):
        results["coverage"] = coverage(pkg)
        figures += coverage_figures(results["coverage"])
    if args.only in (None, "fleet"):
        log(f"fleet: {args.fleet_agents} agents through the local gateway, time compressed 5x ...")
        results["fleet"] = simulate(args.fleet_agents, 5, 22.0)
        results["fleet_model"] = model(results["fleet"])
        figures += fleet_figures(results["fleet"])

    results["figures"] = [fig._asdict() for fig in figures]
    results["seconds"] = round(time.monotonic() - started, 1)
    report(results, figures)
    if "fleet" in results:
        print_fleet(results["fleet"], results["fleet_model"], log)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    missed = [fig.name for fig in figures if fig.met is False]
    log(f"\nwritten: {(RESULTS / 'latest.json').relative_to(ROOT)}; {results['seconds']:.0f} s")
    log(f"targets missed: {', '.join(missed)}" if missed else "all targets met")
    return 1 if missed else 0


def entry() -> int:
    try:
        return main(sys.argv[1:])
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(entry())
