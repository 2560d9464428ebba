"""10,000 disconnects at concurrency 16 through one warm Runtime, against a real moto server.

The Runtime (settings, botocore clients, telemetry) is shared by all threads, as it is by all the
invocations of one warm container; botocore clients are thread-safe. Throughput is printed, not asserted.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, List

import pytest
from remediation_registry import handlers

from tests.support.events import CONNECTION_ID, disconnect_event
from tests.support.logs import parse_log_lines
from tests.support.resources import Table, item
from tests.support.servers import moto_server

DISCONNECTS = 10_000
CONCURRENCY = 16
OK = {"statusCode": 200, "body": "disconnected"}


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # botocore sends every service there
        yield url


def test_ten_thousand_concurrent_disconnects_leave_an_empty_table(moto_endpoint: str) -> None:
    table = Table()
    started = time.perf_counter()
    ids = table.put_many(
        item(f"{CONNECTION_ID[:8]}{n:07d}=", client_type="dashboard" if n % 3 else "agent", connected_at=1795677000000)
        for n in range(DISCONNECTS)
    )
    seeded = time.perf_counter()
    assert table.client.scan(TableName=table.name, Select="COUNT")["Count"] == DISCONNECTS
    rt = handlers.runtime()
    buffer = io.StringIO()  # one write() per line: safe to share between threads under the GIL
    rt.telemetry.stream = buffer
    errors: List[BaseException] = []

    def one(connection_id: str) -> Dict[str, object]:
        try:
            return handlers.disconnect(disconnect_event(connection_id), None)
        except BaseException as error:  # counted, never lost in a worker thread
            errors.append(error)
            raise

    begun = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        responses = list(pool.map(one, ids))
    elapsed = time.perf_counter() - begun

    assert errors == []
    assert all(response == OK for response in responses)
    assert table.client.scan(TableName=table.name, Select="COUNT")["Count"] == 0
    lines = parse_log_lines(buffer.getvalue())
    summaries = [line for line in lines if line["message"] in ("connection removed", "connection already gone")]
    assert sorted(line["connectionId"] for line in summaries) == sorted(ids)
    results = {
        result: sum(1 for line in summaries if line["result"] == result) for result in ("deleted", "already_gone")
    }
    assert results["deleted"] + results["already_gone"] == DISCONNECTS
    assert not [line for line in lines if line["level"] == "ERROR"]
    print(
        f"\nload: {DISCONNECTS} disconnects at concurrency {CONCURRENCY} in {elapsed:.1f} s = "
        f"{DISCONNECTS / elapsed:.0f} disconnects/s against moto_server at {moto_endpoint} "
        f"(seeding {seeded - started:.1f} s; results {results})"
    )
