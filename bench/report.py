"""`make bench`: the printed report (figures, breakdowns, package entries, monthly costs)."""

from __future__ import annotations

from typing import Any, Dict, List

from bench import costs
from bench.common import COLD_START_FUNCTIONS, TARGETS, Figure, log, mega, show
from bench.coverage import SIZES, summary
from bench.sweeper_bench import moto_bound


def report(results: Dict[str, Any], figures: List[Figure]) -> None:
    log("")
    log(f"  {'figure':<48} {'seed/naive':>15} {'ours':>15} {'unit':<10} {'ratio':>8}  target")
    for fig in figures:
        log(show(fig))
    if "instructions" in results:
        counts = results["instructions"]["totals"]
        log("")
        log(
            f"  floors: interpreter alone {mega(counts['interpreter']):,.1f} M instr; harness without handler "
            f"{mega(counts['harness']):,.1f} M; ours with precompiled .pyc in the zip (diagnostic) "
            f"{mega(counts['ours-cold-pyc']):,.1f} M = {counts['ours-cold-pyc'] / counts['seed-cold']:.3f}x"
        )
        log("  cold start, inclusive Ir of a few C functions (overlapping), seed -> ours:")
        functions = results["instructions"]["functions"]
        for name, label in COLD_START_FUNCTIONS:
            log(f"    {label:<46} {mega(functions['seed'][name]):8.1f} M -> {mega(functions['ours'][name]):8.1f} M")
        imports = results["import_time_us"]
        for kind in ("seed", "ours"):
            top = ", ".join(f"{package} {us / 1000:.1f}" for package, us in imports[kind].items())
            log(f"  import time by package, ms (-X importtime, median of 5), {kind}: {top}")
        requests = results["requests"]
        for label in ("presence_off", "presence_on"):
            per = ", ".join(f"{op} {n:g}" for op, n in requests[label]["per_event"].items())
            log(
                f"  requests per disconnect, {label.replace('_', ' ')}: {per} "
                f"(CPU {requests[label]['cpu_ms_per_event']:.3f} ms/event)"
            )
        verify = results["verify"]
        log(
            f"  log: {verify['ours']['log_lines']} JSON lines for {verify['ours']['events']} events, "
            f"{verify['ours']['log_line_bytes']} bytes each; seed {verify['seed']['log_lines']} lines"
        )
    pkg = results["package"]
    log("  package entries (bytes, deflated, zip headers):")
    for entry in sorted(pkg["entries"], key=lambda e: -e["deflated"]):
        log(f"    {entry['name']:<40} {entry['bytes']:7,} {entry['deflated']:7,} {entry['headers']:5,}")
    overhead = pkg["bytes"] - sum(e["deflated"] for e in pkg["entries"])
    log(f"    {'(headers, central directory, end record)':<40} {'':7} {'':7} {overhead:5,}")
    if "sweeper" in results:
        for kind in ("naive", "ours"):
            run = results["sweeper"][kind]
            log(
                f"  sweeper {kind}: {run['removed']:,} removed, {run['examined']:,} examined in {run['seconds']:.1f} s "
                f"(CPU {run['cpu_seconds']:.1f} s); Scan {run['scan']['calls']} calls {run['scan']['seconds']:.1f} s, "
                f"deletes {run['delete']['calls']} calls {run['delete']['seconds']:.1f} s"
            )
    if "sweeper" in results:
        bound = moto_bound(results["sweeper"])
        if bound < TARGETS["sweeper_items_per_second"]:
            log(
                f"  sweeper: moto reads the whole table for every Scan page, so even with free deletes no scanning "
                f"sweeper could beat the naive one by more than {bound:.2f}x here "
                f"(< {TARGETS['sweeper_items_per_second']:g}x): "
                "the target is checked on the deletion phase, which the sweeper controls."
            )
    if "wall_clock" in results and "sweeper" in results:
        ours = results["sweeper"]["ours"]
        measured = costs.Measured(
            disconnect_ms=results["wall_clock"]["ours"]["wall_ms_per_event"],
            disconnect_cpu_ms=results["wall_clock"]["ours"]["cpu_ms_per_event"],
            log_line_bytes=results["verify"]["ours"]["log_line_bytes"],
            sweep_cpu_us_per_item=1e6 * ours["cpu_seconds"] / ours["examined"],
        )
        results["costs"] = {
            "measured": measured._asdict(),
            "disconnect": costs.disconnect_rows(measured),
            "sweeper": costs.sweeper_rows(measured),
        }
        log("\n  monthly cost (us-east-1 on-demand, prices as of " + costs.PRICES_AS_OF + "):")
        log(costs.markdown(results["costs"]["disconnect"]))
        log("")
        log(costs.markdown(results["costs"]["sweeper"]))
        log(costs.fixed_costs())
    if "coverage" in results:
        coverage_report(results)


def coverage_report(results: Dict[str, Any]) -> None:
    cov = results["coverage"]
    log(f"\n  sweeper coverage, budget {cov['budget']:,} items/run, lazily generated tables (1 % stale items):")
    log(
        f"    {'items':>11} {'code':<6} {'runs':>5} {'pass':<9} {'covered':>11} {'examined/run':>12} "
        f"{'RRU/run':>8} {'WRU/run':>8} {'CPU s/run':>9} {'stale left':>11}"
    )
    for items in SIZES:
        for code in ("ours", "today"):
            key = f"{code}-{items}"
            if key not in cov:
                continue
            s = summary(cov[key])
            done = "complete" if s["complete"] else "never" if code == "today" else "INCOMPLETE"
            if code == "today" and s["complete"]:
                done = "each run"  # the table fits in one run's budget
            log(
                f"    {items:>11,} {code:<6} {s['runs']:>5} {done:<9} {s['coverage']:>11,} "
                f"{s['examined_per_run']:>12,} "
                f"{s['read_units_per_run']:>8,.0f} {s['write_units_per_run']:>8,.0f} "
                f"{s['cpu_seconds_per_run']:>9.2f} "
                f"{s['stale_left']:>6,}/{s['stale']:,}"
            )
    if not cov["today_available"]:
        log("    (today's code not measured: this clone lacks the issue's commit)")
    http = cov["http_run"]
    per_item_us = 1e6 * http["cpu_seconds"] / max(1, http["examined"])
    log(
        f"  one {http['examined']:,}-item run through botocore + HTTP stub: {http['seconds']:.1f} s elapsed, "
        f"CPU {http['cpu_seconds']:.1f} s ({per_item_us:.1f} us/item); Scan {http['scan']['calls']} calls"
    )
    counts = cov["callgrind"]
    log(
        f"  sweeper callgrind: cold start (import + clients + a 1,000-item run) via lambda_entry "
        f"{mega(counts['ours-1000']):,.1f} M, via handlers {mega(counts['plain-1000']):,.1f} M "
        f"({counts['ours-1000'] / counts['plain-1000']:.3f}x); per item {cov['per_item_instructions'] / 1000:,.1f} k"
    )
    ten = summary(cov[f"ours-{SIZES[-1]}"])
    log_bytes = results.get("verify", {}).get("ours", {}).get("log_line_bytes", 850)
    rows = costs.live_10m_rows(ten["read_units_per_run"], http["cpu_seconds"], log_bytes)
    results["costs_10m"] = rows
    log("\n  paper model, 10 M live connections, per month (assumptions in bench/costs.py):")
    log(costs.markdown(rows))
