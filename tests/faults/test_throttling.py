"""DynamoDB throttling through botocore's real retry path (standard mode), against moto.

Injection: tests.support.faults.SendInterceptor owns the client's `before-send` step. A handler simply
registered first would not do: botocore emits before-send to *every* handler and keeps the first
response, so moto would still execute the "throttled" DeleteItem and the item would vanish anyway.

Retry sleeps: the `no_retry_delay` fixture patches botocore.retries.standard.ExponentialBackoff.delay_amount
to return 0, so every attempt is still made (and counted) but no test waits for the backoff.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError
from remediation_registry import handlers
from remediation_registry.contract import POSITION_KEY

from tests.support.events import CONNECTION_ID, FakeContext, disconnect_event, now_ms, scheduled_event
from tests.support.faults import SendInterceptor, throttle_first
from tests.support.logs import LogReader, emf_metrics
from tests.support.resources import TABLE, Table, live_item
from tests.support.servers import fake_connections_endpoint

pytestmark = pytest.mark.usefixtures("no_retry_delay")
OK = {"statusCode": 200, "body": "disconnected"}
THROTTLED = 10**6  # more than any retry budget: every attempt is throttled


@pytest.fixture
def table(aws: None) -> Table:
    seeded = Table()
    seeded.put(live_item(CONNECTION_ID, age_seconds=1800, client_type="dashboard"))
    seeded.put(live_item("bystander=", client_type="dashboard"))
    return seeded


@pytest.mark.parametrize("throttled_attempts", [1, 2])
def test_throttled_delete_is_retried_and_succeeds(table: Table, logs: LogReader, throttled_attempts: int) -> None:
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", throttled_attempts))

    assert handlers.disconnect(disconnect_event()) == OK

    assert interceptor.attempts == {"DeleteItem": throttled_attempts + 1}
    assert table.ids() == {"bystander="}
    line = logs.one("connection removed")
    assert line["result"] == "deleted"
    assert line["item"]["clientType"] == "dashboard"
    assert not [line for line in logs.lines() if line["level"] == "ERROR"]


def expect_throttled_failure(logs: LogReader) -> Dict[str, Any]:
    with pytest.raises(ClientError) as error:
        handlers.disconnect(disconnect_event(), FakeContext())
    assert error.value.response["Error"]["Code"] == "ThrottlingException"
    [line] = [line for line in logs.lines() if line["level"] == "ERROR"]
    assert line["message"] == "connection not removed"
    assert (line["result"], line["errorCode"], line["connectionId"]) == ("error", "ThrottlingException", CONNECTION_ID)
    assert emf_metrics(line) == {"DisconnectErrors": (1, "Count", [])}
    assert logs.with_message("connection removed") == []
    return line


def test_exhausted_retries_raise_log_and_leave_the_item_for_the_sweeper_ttl(table: Table, logs: LogReader) -> None:
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", THROTTLED))

    line = expect_throttled_failure(logs)

    assert interceptor.attempts["DeleteItem"] >= 3
    assert "Rate exceeded" in line["error"]
    assert table.ids() == {CONNECTION_ID, "bystander="}
    # Later: the item has passed its TTL (DynamoDB's own TTL deletion takes up to days) and the sweep runs.
    table.client.update_item(
        TableName=TABLE,
        Key={"connectionId": {"S": CONNECTION_ID}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(now_ms() // 1000 - 1)}},
    )

    report = handlers.sweep(scheduled_event(), FakeContext())

    assert report["removedExpired"] == 1
    assert table.ids() - {POSITION_KEY} == {"bystander="}
    assert logs.one("stale connection removed")["connectionId"] == CONNECTION_ID


def test_exhausted_retries_leave_the_item_for_the_sweepers_probe(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_connections_endpoint() as (url, state):
        monkeypatch.setenv("SWEEP_PROBE_ENDPOINT", url)
        SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", THROTTLED))
        expect_throttled_failure(logs)
        assert table.ids() == {CONNECTION_ID, "bystander="}
        state.gone.add(CONNECTION_ID)  # API Gateway has forgotten the connection
        handlers.reset()  # a later invocation: the throttling has passed

        report = handlers.sweep(scheduled_event(), FakeContext())

    assert (report["removedGone"], report["probeErrors"]) == (1, 0)
    assert table.ids() - {POSITION_KEY} == {"bystander="}
    assert logs.one("stale connection removed")["reason"] == "gone"


def test_throttled_batch_write_in_the_sweep_is_retried(aws: None, logs: LogReader) -> None:
    table = Table()
    table.put_many(
        {"connectionId": {"S": f"expired-{n:02d}"}, "expiresAt": {"N": str(now_ms() // 1000 - 5)}} for n in range(30)
    )
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("BatchWriteItem", 2))

    report = handlers.sweep(scheduled_event(), FakeContext())

    assert report["removedExpired"] == 30
    assert table.ids() == {POSITION_KEY}  # the sweeper's saved scan position: not a connection
    assert interceptor.attempts["BatchWriteItem"] == 2 + 2  # two throttled, then one per batch of 25


def test_delete_gives_up_after_three_throttled_attempts(table: Table, logs: LogReader) -> None:
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", 3))
    raised: List[str] = []

    try:
        handlers.disconnect(disconnect_event())
    except ClientError as error:
        raised.append(error.response["Error"]["Code"])

    assert raised == ["ThrottlingException"], f"attempts: {interceptor.attempts}"
    assert table.ids() == {CONNECTION_ID, "bystander="}
