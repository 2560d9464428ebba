"""One fresh Lambda-like process: import a handler from its zip, serve 1 + N events, report.

    python bench/one_shot.py KIND N EVENT_JSON ZIP OUT_JSON [REPS PER_REP]

KIND   seed   seed_handler.lambda_handler (the baseline)
       ours   remediation_registry.lambda_entry.disconnect (what the function's handler string names)
       plain  remediation_registry.handlers.disconnect: ours without lambda_entry's start-up collector
              change (what BENCHMARKS.md compares it with)
       floor  no handler: this harness alone (reads the event, builds events and contexts, reports)
N      warm events after the first (cold) one; -1: import the handler only, serve nothing
REPS   optional: then REPS timed batches of PER_REP events each (CPU and wall time per event)

Kept minimal on purpose: under callgrind every instruction counts, so the harness imports nothing the
handlers do not import anyway (json; the builtin time and resource modules), and does the same work for
both kinds. The zip replaces this script's directory on sys.path, so nothing else of bench/ is
importable. The environment (endpoint, credentials, table, settings) comes from bench/run.py; stdout
(the handler's log lines) is wherever run.py points it.
"""

import json
import sys
import time

OK = {"statusCode": 200, "body": "disconnected"}


class Context:
    """The attributes of Lambda's context object that handlers read; a new one per invocation."""

    __slots__ = ("aws_request_id", "deadline", "function_name", "memory_limit_in_mb")

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_name = "remediation-disconnect"
        self.memory_limit_in_mb = "128"
        self.deadline = time.monotonic() + 10.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def floor_handler(event: object, context: object) -> dict[str, object]:
    return dict(OK)


def peak_kib() -> int:
    """VmHWM: this process image's own peak RSS (ru_maxrss also keeps the spawning parent's peak)."""
    with open("/proc/self/status", encoding="ascii") as stream:
        for line in stream:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str]) -> int:
    kind, count, event_path, zip_path, out_path = argv[1], int(argv[2]), argv[3], argv[4], argv[5]
    reps = int(argv[6]) if len(argv) > 6 else 0
    per_rep = int(argv[7]) if len(argv) > 7 else 0
    sys.path[0] = zip_path
    with open(event_path, encoding="utf-8") as stream:
        template = json.load(stream)
    request_context = template["requestContext"]
    prefix = request_context["connectionId"][:9]

    def event(n: int) -> dict[str, object]:
        """A distinct connection per event, for a few hundred instructions (shallow copies)."""
        copy = dict(template)
        context = dict(request_context)
        context["connectionId"] = f"{prefix}{n:06d}="
        copy["requestContext"] = context
        return copy

    if kind == "seed":
        from seed_handler import lambda_handler as handler  # type: ignore[import-not-found]
    elif kind == "ours":
        from remediation_registry.lambda_entry import disconnect as handler
    elif kind == "plain":
        from remediation_registry.handlers import disconnect as handler
    else:
        handler = floor_handler

    served = ok = 0
    for n in range(count + 1):
        served += 1
        ok += handler(event(n), Context(f"req-{n:06d}")) == OK

    import resource

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_kib = peak_kib()
    cpu: list[float] = []
    wall: list[float] = []
    n = count + 1
    for _rep in range(reps):
        events = [event(n + i) for i in range(per_rep)]
        contexts = [Context(f"req-{n + i:06d}") for i in range(per_rep)]
        n += per_rep
        started_cpu, started = time.process_time(), time.perf_counter()
        for i in range(per_rep):
            handler(events[i], contexts[i])
        cpu.append((time.process_time() - started_cpu) / per_rep)
        wall.append((time.perf_counter() - started) / per_rep)
    sys.stdout.flush()
    report = {
        "kind": kind,
        "served": served,
        "ok": ok,
        "max_rss_kib": rss_kib,
        "vm_hwm_kib": hwm_kib,
        "cpu_seconds_per_event": cpu,
        "wall_seconds_per_event": wall,
        "modules": len(sys.modules),
    }
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump(report, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
