"""`make bench`, presence on: the `$disconnect` handler when every event closes an agent's last connection.

Context, not gated (the gates are for presence off, where nothing of presence is imported or run): the
same callgrind cold start and warm event, and the peak RSS, with the environment presence.tf sets. Each
event then costs one DeleteItem, one UpdateItem (T2: a grace window opens) and one SendMessage (the grace
message), all answered by bench/ddb_stub.py.
"""

from __future__ import annotations

from typing import Any, Dict, List

from bench.common import (
    CALLGRIND,
    ONE_SHOT,
    PRESENCE_ENV,
    RESULTS,
    Figure,
    figure,
    handler_env,
    mega,
    one_shot_argv,
    read_json,
    run_child,
)
from bench.handler_bench import callgrind


def presence_on(pkg: Dict[str, Any], endpoint: str, events: int) -> Dict[str, Any]:
    """Cold start and 1 + `events` warm events under callgrind, then the peak RSS of a plain run."""
    env = handler_env(endpoint, PRESENCE_ENV)
    totals: Dict[str, int] = {}
    for label, count in (("presence-cold", 0), ("presence-warm", events)):
        argv = one_shot_argv("ours", count, pkg, CALLGRIND / f"{label}.json")
        totals[label] = callgrind(label, argv, env)
        report = read_json(CALLGRIND / f"{label}.json")
        if report["ok"] != report["served"]:
            raise RuntimeError(f"{label}: {report['served'] - report['ok']} events not answered 200")
    argv = one_shot_argv("ours", events, pkg, RESULTS / "presence-rss.json")
    assert argv[1] == ONE_SHOT
    run_child(argv, env)
    rss = read_json(RESULTS / "presence-rss.json")
    return {"totals": totals, "events": events, "max_rss_kib": rss["max_rss_kib"], "vm_hwm_kib": rss["vm_hwm_kib"]}


def presence_figures(results: Dict[str, Any]) -> List[Figure]:
    counts, on = results["instructions"]["totals"], results["presence_on"]
    events = on["events"]
    seed_warm = (counts["seed-warm"] - counts["seed-cold"]) / results["instructions"]["events"]
    ours_warm = (on["totals"]["presence-warm"] - on["totals"]["presence-cold"]) / events
    seed_rss = results["wall_clock"]["seed"]["max_rss_kib"]
    return [
        figure(
            "presence on: cold start (Ir)",
            "M instr",
            mega(counts["seed-cold"]),
            mega(on["totals"]["presence-cold"]),
            None,
        ),
        figure(f"presence on: warm event, N={events} (Ir)", "M instr", mega(seed_warm), mega(ours_warm), None),
        figure(f"presence on: peak RSS after 1+{events} events", "KiB", seed_rss, on["max_rss_kib"], None),
    ]
