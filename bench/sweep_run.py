"""One sweep of the connections table on a moto server, in a fresh process; timings to OUT_JSON.

    python bench/sweep_run.py ours|plain|naive ZIP OUT_JSON

ours   remediation_registry.lambda_entry.sweep from the zip, as the scheduled Lambda runs it (settings from
       the environment bench/run.py sets: SWEEP_MAX_ITEMS large enough, one segment), with a 15-minute
       Lambda context so the time budget never stops it, and a 60 s read timeout for moto's slow Scan.
plain  the same through remediation_registry.handlers.sweep (no start-up collector change)
naive  what a hand-written cleanup typically does: boto3 resource, Scan the whole table page by page,
       one DeleteItem per expired item (expiresAt <= now), sequentially.

Scan time and delete time are measured separately (around each SDK call), so the report can tell the
emulator's cost of a Scan page from the cost of removing items. Imports and client creation are not
timed: only the sweep itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Dict


class Timer:
    """Wraps an SDK call: counts calls and accumulates wall time."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self.call = call
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.call(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def report(self) -> Dict[str, float]:
        return {"calls": self.calls, "seconds": round(self.seconds, 4)}


class LambdaContext:
    aws_request_id = "bench-sweep"

    def __init__(self, budget_ms: int) -> None:
        self.deadline = time.monotonic() + budget_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def ours(zip_path: str, entry: bool = True) -> Dict[str, Any]:
    sys.path.insert(0, zip_path)
    from botocore.config import Config

    if entry:
        from remediation_registry import handlers, lambda_entry

        sweep = lambda_entry.sweep
    else:
        from remediation_registry import handlers

        sweep = handlers.sweep
    from remediation_registry import runtime as container

    # Emulator accommodation, nothing else changes: moto walks the whole table for each Scan page and
    # needs ~3 s for a 1 MB page of 50,000 items, where DynamoDB answers well inside the function's 2 s.
    container.DYNAMODB_CONFIG = container.DYNAMODB_CONFIG.merge(Config(read_timeout=60))
    runtime = handlers.runtime()
    client: Any = runtime.dynamodb
    scan, batch = Timer(client.scan), Timer(client.batch_write_item)
    client.scan, client.batch_write_item = scan, batch
    event = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "detail-type": "Scheduled Event"}
    started_cpu, started = time.process_time(), time.perf_counter()
    report = sweep(event, LambdaContext(900_000))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - started_cpu,
        "removed": report["removedExpired"],
        "examined": report["examined"],
        "scan": scan.report(),
        "delete": batch.report(),
        "report": report,
    }


def naive() -> Dict[str, Any]:
    import boto3

    table = boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"])
    scan, delete = Timer(table.scan), Timer(table.delete_item)
    now = time.time()
    removed = examined = 0
    started_cpu, started = time.process_time(), time.perf_counter()
    kwargs: Dict[str, Any] = {}
    while True:
        page = scan(**kwargs)
        for item in page.get("Items", []):
            examined += 1
            if "expiresAt" in item and item["expiresAt"] <= now:
                delete(Key={"connectionId": item["connectionId"]})
                removed += 1
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - started_cpu,
        "removed": removed,
        "examined": examined,
        "scan": scan.report(),
        "delete": delete.report(),
    }


def main(argv: list[str]) -> int:
    kind, zip_path, out_path = argv[1], argv[2], argv[3]
    result = naive() if kind == "naive" else ours(zip_path, entry=kind == "ours")
    result["kind"] = kind
    sys.stdout.flush()
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump(result, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
