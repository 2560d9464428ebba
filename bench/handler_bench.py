"""`make bench`, handler half: callgrind instruction counts, requests, wall clock, import times, figures."""

from __future__ import annotations

import json
import re
import resource
import statistics
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from bench.common import (
    CALLGRIND,
    COLD_START_FUNCTIONS,
    COLD_WALL_RUNS,
    ONE_SHOT,
    PRESENCE_ENV,
    PY,
    READ_OPERATIONS,
    RESULTS,
    TARGETS,
    TIMING_EVENTS,
    TIMING_REPS,
    TIMING_ROUNDS,
    WARM_EVENTS,
    BenchError,
    Figure,
    figure,
    handler_env,
    mega,
    one_shot_argv,
    read_json,
    run_child,
)
from bench.ddb_stub import Stub


def callgrind_total(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as stream:  # line by line: the file is large
        for line in stream:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise BenchError(f"no totals line in {path}")


def callgrind(label: str, argv: Sequence[str], env: Dict[str, str]) -> int:
    out = CALLGRIND / f"{label}.out"
    run_child(["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={out}", *argv], env)
    return callgrind_total(out)


def inclusive_costs(path: Path) -> Dict[str, int]:
    """Inclusive Ir of COLD_START_FUNCTIONS, from callgrind_annotate."""
    proc = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    found: Dict[str, int] = {}
    pattern = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:([A-Za-z_0-9.]+)(?:\s+\[.*\])?\s*$")
    for line in proc.stdout.splitlines():
        match = pattern.match(line)
        if match:
            name, value = match.group(2), int(match.group(1).replace(",", ""))
            found[name] = max(found.get(name, 0), value)
    return {name: found.get(name, 0) for name, _ in COLD_START_FUNCTIONS}


def instruction_counts(pkg: Dict[str, Any], endpoint: str, events: int) -> Dict[str, Any]:
    """Every callgrind run, two at a time (the counts do not depend on load)."""
    CALLGRIND.mkdir(parents=True, exist_ok=True)
    env = handler_env(endpoint)
    scratch = RESULTS / "callgrind-report.json"
    pyc_zip = pyc_package(pkg["ours_zip"])
    jobs: List[Tuple[str, List[str]]] = [
        ("seed-warm", one_shot_argv("seed", events, pkg, scratch)),
        ("ours-warm", one_shot_argv("ours", events, pkg, scratch)),
        ("interpreter", [PY, "-c", "pass"]),
        ("harness", one_shot_argv("floor", -1, pkg, scratch)),
        ("seed-import", one_shot_argv("seed", -1, pkg, scratch)),
        ("ours-import", one_shot_argv("ours", -1, pkg, scratch)),
        ("seed-cold", one_shot_argv("seed", 0, pkg, scratch)),
        ("ours-cold", one_shot_argv("ours", 0, pkg, scratch)),
        ("ours-cold-pyc", [*one_shot_argv("ours", 0, pkg, scratch)[:5], str(pyc_zip), str(scratch)]),
    ]
    # Each job writes its report to its own file: the scratch path is replaced per job.
    prepared = [
        (label, [*argv[:6], str(CALLGRIND / f"{label}.json"), *argv[7:]] if argv[1] == ONE_SHOT else argv)
        for label, argv in jobs
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.map(lambda job: callgrind(job[0], job[1], env), prepared)
        totals = dict(zip([label for label, _ in prepared], counted))
    for label, argv in prepared:
        if argv[1] == ONE_SHOT and label != "harness":
            report = read_json(CALLGRIND / f"{label}.json")
            if report["ok"] != report["served"]:
                raise BenchError(f"{label}: {report['served'] - report['ok']} events not answered 200")
    breakdown = {kind: inclusive_costs(CALLGRIND / f"{kind}-cold.out") for kind in ("seed", "ours")}
    return {"totals": totals, "events": events, "functions": breakdown}


def pyc_package(zip_path: Path) -> Path:
    """Diagnostic only: the same package plus unchecked-hash .pyc beside each .py (zipimport uses them).

    Measures what compiling the sources costs at every cold start; not a proposal as such (a .pyc is
    specific to one Python version and makes the zip ~3x larger).
    """
    import importlib.util
    import marshal

    out = RESULTS / "remediation_registry-pyc.zip"
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data)
            if info.filename.endswith(".py"):
                code = compile(data, info.filename, "exec", dont_inherit=True)
                source_hash = importlib.util.source_hash(data)
                header = importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little") + source_hash
                target.writestr(info.filename[:-3] + ".pyc", header + marshal.dumps(code))
    return out


def verify(pkg: Dict[str, Any], endpoint: str, stub: Stub) -> Dict[str, Any]:
    """Once, with stdout captured: both answer 200; ours writes exactly one JSON line per event."""
    events = 10
    result: Dict[str, Any] = {}
    for kind in ("seed", "ours"):
        stub.reset()
        out = RESULTS / f"verify-{kind}.json"
        stdout = run_child(one_shot_argv(kind, events - 1, pkg, out), handler_env(endpoint), subprocess.PIPE)
        report = read_json(out)
        lines = [line for line in stdout.splitlines() if line.strip()]
        documents = [json.loads(line) for line in lines]
        result[kind] = {
            "ok": report["ok"],
            "events": report["served"],
            "log_lines": len(lines),
            "requests": stub.snapshot(),
            "return_values": dict(stub.return_values),
            "log_line_bytes": max((len(line.encode()) + 1 for line in lines), default=0),
        }
        if report["ok"] != events:
            raise BenchError(f"{kind}: {events - report['ok']} of {events} events not answered 200")
        if kind == "ours":
            messages = {doc.get("message") for doc in documents}
            if len(lines) != events or messages != {"connection removed"} or not all("_aws" in d for d in documents):
                raise BenchError(f"ours: expected {events} EMF lines 'connection removed', got {lines[:3]}")
            result["sample_log_line"] = lines[0]
    return result


def requests_per_disconnect(pkg: Dict[str, Any], endpoint: str, stub: Stub) -> Dict[str, Any]:
    """Requests per event with presence off and on, counted by the stub over 1 + 9 + 2 x 500 events."""
    result: Dict[str, Any] = {}
    for label, extra in (("presence_off", {}), ("presence_on", PRESENCE_ENV)):
        stub.reset()
        out = RESULTS / f"requests-{label}.json"
        run_child(one_shot_argv("ours", 9, pkg, out, 2, 500), handler_env(endpoint, extra))
        report = read_json(out)
        served = report["served"] + 2 * 500
        counts = stub.snapshot()
        result[label] = {
            "events": served,
            "per_event": {op: round(n / served, 4) for op, n in sorted(counts.items())},
            "cpu_ms_per_event": round(1000 * statistics.median(report["cpu_seconds_per_event"]), 4),
        }
    return result


def wall_clock(pkg: Dict[str, Any], endpoint: str) -> Dict[str, Any]:
    """Context, not gated: CPU and elapsed time per warm event, peak RSS, cold-start wall time."""
    env = handler_env(endpoint)
    runs: Dict[str, List[Dict[str, Any]]] = {"seed": [], "ours": []}
    for round_ in range(TIMING_ROUNDS):
        for kind in ("seed", "ours"):
            out = RESULTS / f"timing-{kind}-{round_}.json"
            run_child(one_shot_argv(kind, WARM_EVENTS, pkg, out, TIMING_REPS, TIMING_EVENTS), env)
            runs[kind].append(read_json(out))
    cold: Dict[str, List[float]] = {"seed": [], "ours": []}
    for _ in range(COLD_WALL_RUNS):
        for kind in ("seed", "ours"):
            started = time.perf_counter()
            run_child(one_shot_argv(kind, 0, pkg, RESULTS / "cold-wall.json"), env)
            cold[kind].append(time.perf_counter() - started)
    # ru_maxrss survives fork + exec on Linux: a child reports at least its parent's peak. This process
    # imports neither boto3 nor moto before this point, so its peak stays below the handlers'.
    result: Dict[str, Any] = {"parent_max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    for kind, reports in runs.items():
        result[kind] = {
            "cpu_ms_per_event": 1000 * statistics.median(t for r in reports for t in r["cpu_seconds_per_event"]),
            "wall_ms_per_event": 1000 * statistics.median(t for r in reports for t in r["wall_seconds_per_event"]),
            "max_rss_kib": statistics.median(r["max_rss_kib"] for r in reports),
            "max_rss_kib_runs": [r["max_rss_kib"] for r in reports],
            "vm_hwm_kib": statistics.median(r["vm_hwm_kib"] for r in reports),
            "cold_wall_ms": 1000 * statistics.median(cold[kind]),
            "modules": reports[0]["modules"],
        }
    return result


def import_times(pkg: Dict[str, Any], endpoint: str) -> Dict[str, Dict[str, int]]:
    """Context: `python -X importtime` self time summed by top-level package (median of 5, microseconds)."""
    env = handler_env(endpoint)
    result: Dict[str, Dict[str, int]] = {}
    for kind in ("seed", "ours"):
        samples: Dict[str, List[int]] = {}
        for _ in range(5):
            argv = one_shot_argv(kind, -1, pkg, RESULTS / "importtime.json")
            proc = subprocess.run(
                [argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True, check=False
            )
            totals: Dict[str, int] = {}
            for line in proc.stderr.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[0].startswith("import time:") and parts[1].strip().isdigit():
                    package = parts[2].strip().split(".")[0]
                    totals[package] = totals.get(package, 0) + int(parts[0].split(":")[1])
            for package, value in totals.items():
                samples.setdefault(package, []).append(value)
        medians = {package: int(statistics.median(values)) for package, values in samples.items()}
        result[kind] = dict(sorted(medians.items(), key=lambda item: -item[1])[:8])
    return result


def handler_figures(results: Dict[str, Any]) -> List[Figure]:
    counts = results["instructions"]["totals"]
    events = results["instructions"]["events"]
    seed_warm = (counts["seed-warm"] - counts["seed-cold"]) / events
    ours_warm = (counts["ours-warm"] - counts["ours-cold"]) / events
    wall, requests = results["wall_clock"], results["requests"]
    off = requests["presence_off"]["per_event"]
    reads = sum(off.get(op, 0) for op in READ_OPERATIONS)
    one_delete = off.get("DeleteItem") == 1.0 and reads == 0 and set(off) == {"DeleteItem"}
    return [
        figure(
            "cold start: import + 1st event (Ir)",
            "M instr",
            mega(counts["seed-cold"]),
            mega(counts["ours-cold"]),
            TARGETS["cold_start_instructions"],
        ),
        figure(
            f"warm event: per event, N={events} (Ir)",
            "M instr",
            mega(seed_warm),
            mega(ours_warm),
            TARGETS["warm_event_instructions"],
        ),
        rss_figure(wall),
        Figure(
            "DynamoDB requests/disconnect (presence off)",
            "requests",
            None,
            sum(off.values()),
            None,
            "1 DeleteItem, 0 reads",
            one_delete,
        ),
        figure(
            "  cold: import only (seed builds its client)",
            "M instr",
            mega(counts["seed-import"]),
            mega(counts["ours-import"]),
            None,
        ),
        figure(
            "  cold: 1st event only (ours builds its client)",
            "M instr",
            mega(counts["seed-cold"] - counts["seed-import"]),
            mega(counts["ours-cold"] - counts["ours-import"]),
            None,
        ),
        figure(
            "  warm CPU time per event", "ms", wall["seed"]["cpu_ms_per_event"], wall["ours"]["cpu_ms_per_event"], None
        ),
        figure(
            "  warm wall time per event",
            "ms",
            wall["seed"]["wall_ms_per_event"],
            wall["ours"]["wall_ms_per_event"],
            None,
        ),
        figure("  peak RSS (VmHWM)", "KiB", wall["seed"]["vm_hwm_kib"], wall["ours"]["vm_hwm_kib"], None),
        figure(
            "  cold start wall time (process)", "ms", wall["seed"]["cold_wall_ms"], wall["ours"]["cold_wall_ms"], None
        ),
    ]


def rss_figure(wall: Dict[str, Any]) -> Figure:
    """ru_maxrss of the handler process; VmHWM instead if the parent's peak could have leaked into it."""
    name = f"peak RSS after 1+{WARM_EVENTS} events"
    if wall["parent_max_rss_kib"] < min(wall[kind]["max_rss_kib"] for kind in ("seed", "ours")):
        return figure(f"{name} (ru_maxrss)", "KiB", wall["seed"]["max_rss_kib"], wall["ours"]["max_rss_kib"], 1.0)
    return figure(f"{name} (VmHWM)", "KiB", wall["seed"]["vm_hwm_kib"], wall["ours"]["vm_hwm_kib"], 1.0)
