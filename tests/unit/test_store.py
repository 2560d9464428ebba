"""store: the item contract read tolerantly, and the DynamoDB calls behind delete / batch / scan."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from remediation_registry import handlers
from remediation_registry.contract import POSITION_KEY
from remediation_registry.store import (
    Connection,
    Deleted,
    _attributes_unparsed,
    keep_attributes_unparsed,
)
from remediation_registry.sweep.store import BATCH_ATTEMPTS, BATCH_SIZE, SweepStore
from remediation_registry.sweep.store import expired as sweep_expired
from remediation_registry.sweep.store import read as sweep_read

from tests.support.fakes import WrappedDynamoDB
from tests.support.faults import count_calls
from tests.support.resources import MAX_AGE_SECONDS, TABLE, Table, aws_client, item, live_item

NOW = 1_795_677_000.0  # 2026-11-26T06:30:00Z, in epoch seconds


def store_for(table: Table, client: Any = None, sleeps: Optional[List[float]] = None) -> SweepStore:
    recorded: List[float] = [] if sleeps is None else sleeps
    return SweepStore(client or table.client, table.name, table.ttl_attribute, sleep=recorded.append)


# ---------------------------------------------------------------------------------------------------
# Connection: the item contract
# ---------------------------------------------------------------------------------------------------


def test_connection_reads_every_contract_attribute() -> None:
    attributes = item("c1", client_type="agent", agent_id="agent-7", connected_at=1795677000123, expires_at=1795684500)

    connection = Connection.from_item(attributes)

    assert connection == Connection("c1", "agent", "agent-7", 1795677000123, 1795684500)
    assert connection.to_log() == {
        "clientType": "agent",
        "agentId": "agent-7",
        "connectedAt": 1795677000123,
        "expiresAt": 1795684500,
    }


def test_connection_tolerates_missing_and_malformed_attributes() -> None:
    attributes: Dict[str, Any] = {
        "connectionId": {"S": "c1"},
        "clientType": {"N": "1"},
        "agentId": {"S": 7},
        "connectedAt": {"N": "not-a-number"},
        "expiresAt": {"S": "1795684500"},
    }

    connection = Connection.from_item(attributes)

    assert connection == Connection("c1", None, None, None, None)
    assert connection.to_log() == {}


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400", ""])
def test_connection_ignores_numbers_that_are_not_finite(raw: str) -> None:
    assert Connection.from_item({"connectionId": {"S": "c"}, "connectedAt": {"N": raw}}).connected_at_ms is None


def test_connection_accepts_decimal_numbers_and_keeps_identities_whole() -> None:
    """Issue 9 finding 11: ids were cut to 256 characters, then queried and announced under the cut id."""
    long_agent, long_type = "a" * 1000, "t" * 300
    item = {
        "connectionId": {"S": "c"},
        "connectedAt": {"N": "1795677000123.9"},
        "agentId": {"S": long_agent},
        "clientType": {"S": long_type},
    }
    connection = Connection.from_item(item)

    assert connection.connected_at_ms == 1795677000123
    assert connection.connected_at_exact is None  # the sweeper's reads keep the exact text (sweep/store.py)
    assert sweep_read(item, "expiresAt").connected_at_exact == "1795677000123.9"
    assert (connection.agent_id, connection.client_type) == (long_agent, long_type)
    # Only what goes into logs is bounded.
    logged = connection.to_log()
    assert logged["agentId"] == "a" * 256 + "..."
    assert logged["clientType"] == "t" * 256 + "..."


def test_integer_connected_at_keeps_no_separate_exact_text() -> None:
    connection = sweep_read({"connectionId": {"S": "c"}, "connectedAt": {"N": "1795677000123"}}, "expiresAt")

    assert connection == Connection("c", None, None, 1795677000123, None)


def test_connection_reads_the_configured_ttl_attribute() -> None:
    attributes = item("c", expires_at=1795684500, ttl_attribute="ttl")

    assert Connection.from_item(attributes, "ttl").expires_at == 1795684500
    assert Connection.from_item(attributes).expires_at is None


@pytest.mark.parametrize(
    ("client_type", "label"),
    [("agent", "agent"), ("dashboard", "dashboard"), (None, "unknown"), ("robot", "other"), ("", "other")],
)
def test_client_label_is_bounded_to_four_values(client_type: Optional[str], label: str) -> None:
    assert Connection("c", client_type, None, None, None).client_label == label


@pytest.mark.parametrize(
    ("client_type", "agent_id", "is_agent"),
    [
        ("agent", "a-1", True),
        ("agent", None, False),
        ("agent", "", False),
        ("dashboard", "a-1", False),
        (None, "a-1", False),
    ],
)
def test_only_agent_items_with_an_agent_id_are_agents(
    client_type: Optional[str], agent_id: Optional[str], is_agent: bool
) -> None:
    assert Connection("c", client_type, agent_id, None, None).is_agent is is_agent


@pytest.mark.parametrize(
    ("connected_at_s", "expires_at", "expired"),
    [
        (NOW - 60, NOW + 7000, False),  # live
        (NOW - 60, NOW - 1, True),  # past its TTL
        (NOW - 60, NOW, True),  # TTL reached exactly
        (NOW - MAX_AGE_SECONDS - 1, None, True),  # older than 2 h + grace
        (NOW - MAX_AGE_SECONDS, None, True),
        (NOW - MAX_AGE_SECONDS + 1, None, False),
        (NOW - MAX_AGE_SECONDS - 1, NOW + 3600, True),  # age wins over a far TTL
        (None, None, False),  # nothing to go by: live
        (None, NOW - 1, True),
    ],
)
def test_expired_by_ttl_or_by_age(connected_at_s: Optional[float], expires_at: Optional[float], expired: bool) -> None:
    connection = Connection(
        "c",
        None,
        None,
        None if connected_at_s is None else int(connected_at_s * 1000),
        None if expires_at is None else int(expires_at),
    )

    assert sweep_expired(connection, NOW, MAX_AGE_SECONDS) is expired


# ---------------------------------------------------------------------------------------------------
# delete / delete_if_unchanged
# ---------------------------------------------------------------------------------------------------


def test_delete_removes_the_item_and_returns_its_old_attributes_in_one_request(table: Table) -> None:
    table.put(item("c1", client_type="agent", agent_id="a-1", connected_at=1795677000000, expires_at=1795684500))
    table.put(item("c2"))
    client = aws_client("dynamodb")
    calls = count_calls(client)

    deleted = store_for(table, client).delete("c1")

    assert deleted == Deleted(Connection("c1", "agent", "a-1", 1795677000000, 1795684500), retried=False)
    assert calls == ["DeleteItem"]
    assert table.ids() == {"c2"}


RICH_ITEM: Dict[str, Any] = {
    "connectionId": {"S": "c-rich="},
    "clientType": {"S": "agent"},
    "agentId": {"S": 'agent-\u00e9\u2028"quoted"\\' + "x" * 300},
    "connectedAt": {"N": "1795677000000.5"},
    "expiresAt": {"N": "12345678901234567890123456789012345678"},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "nested": {"M": {"l": {"L": [{"S": "x"}, {"N": "-0.001"}, {"BOOL": True}, {"NULL": True}]}}},
}


def _delete_twice(table: Table, attributes: Dict[str, Any], hooked: Any) -> List[Dict[str, Any]]:
    """The same item deleted through a plain client and through `hooked`: both answers."""
    answers = []
    for client in (aws_client("dynamodb"), hooked):
        table.put(attributes)
        key = {"connectionId": attributes["connectionId"]}
        answers.append(client.delete_item(TableName=table.name, Key=key, ReturnValues="ALL_OLD"))
    return answers


def test_unparsed_attributes_equal_what_botocore_parses_but_binary(table: Table) -> None:
    """S and N (all the package reads) and every container are the same; B shows the hook ran."""
    hooked = aws_client("dynamodb")
    keep_attributes_unparsed(hooked)

    parsed, unparsed = _delete_twice(table, {**RICH_ITEM, "blob": {"B": b"\x00\xffbinary"}}, hooked)

    assert parsed["Attributes"].pop("blob") == {"B": b"\x00\xffbinary"}
    assert unparsed["Attributes"].pop("blob") == {"B": "AP9iaW5hcnk="}  # as sent: base64 text
    assert unparsed["Attributes"] == parsed["Attributes"] == RICH_ITEM
    assert unparsed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert table.ids() == set()


def test_the_disconnect_runtime_reads_deleted_items_unparsed(table: Table) -> None:
    [_, unparsed] = _delete_twice(table, {**item("c1"), "blob": {"B": b"\x01"}}, handlers.runtime().dynamodb)

    assert unparsed["Attributes"]["blob"] == {"B": "AQ=="}


def test_other_members_of_a_delete_response_are_still_parsed(table: Table) -> None:
    hooked = aws_client("dynamodb")
    keep_attributes_unparsed(hooked)
    table.put(item("c1", client_type="agent"))

    answer = hooked.delete_item(
        TableName=table.name, Key={"connectionId": {"S": "c1"}}, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"
    )
    gone = hooked.delete_item(TableName=table.name, Key={"connectionId": {"S": "c1"}}, ReturnValues="ALL_OLD")

    assert answer["Attributes"]["clientType"] == {"S": "agent"}
    assert answer["ConsumedCapacity"]["TableName"] == table.name
    assert isinstance(answer["ConsumedCapacity"]["CapacityUnits"], float)  # parsed by botocore, not JSON text
    assert "Attributes" not in gone


@pytest.mark.parametrize(
    "response",
    [
        {"status_code": 400, "body": b'{"__type":"x","Attributes":{"a":{"S":"1"}}}'},
        {"status_code": 200, "body": b'{"ConsumedCapacity":{"TableName":"t"}}'},
        {"status_code": 200, "body": b'["Attributes"]'},
        {"status_code": 200, "body": b'{"Attributes":"not an object"}'},
        {"status_code": 200, "body": None},
    ],
    ids=["error", "no-attributes", "not-an-object", "attributes-not-an-object", "streamed-body"],
)
def test_responses_it_does_not_recognise_are_left_to_botocore(response: Dict[str, Any]) -> None:
    before = dict(response)
    customized: Dict[str, Any] = {}

    _attributes_unparsed(response_dict=response, customized_response_dict=customized, operation_model=None)

    assert response == before
    assert customized == {}


def test_delete_of_an_absent_item_returns_none(table: Table) -> None:
    table.put(item("other"))

    assert store_for(table).delete("never-there") == Deleted(None, retried=False)
    assert table.ids() == {"other"}


def test_delete_never_logs_undeclared_attributes(table: Table) -> None:
    table.put(item("c1", client_type="dashboard", token="secret-session-token"))

    old = store_for(table).delete("c1").previous

    assert old is not None
    assert "secret-session-token" not in repr(old.to_log())


def test_delete_if_unchanged_deletes_an_item_as_it_was_read(table: Table) -> None:
    table.put(item("c1", connected_at=1795677000000))
    connection = Connection("c1", None, None, 1795677000000, None)

    assert store_for(table).delete_if_unchanged(connection) is not None
    assert table.ids() == set()


def test_delete_if_unchanged_keeps_an_item_whose_connected_at_changed(table: Table) -> None:
    table.put(item("c1", connected_at=1795677999999))

    result = store_for(table).delete_if_unchanged(Connection("c1", None, None, 1795677000000, None))

    assert result is None
    assert table.ids() == {"c1"}


def test_delete_if_unchanged_reports_an_item_already_deleted(table: Table) -> None:
    assert store_for(table).delete_if_unchanged(Connection("gone", None, None, 1795677000000, None)) is None
    assert store_for(table).delete_if_unchanged(Connection("gone", None, None, None, None)) is None
    assert table.ids() == set()


@pytest.mark.parametrize("stored", ["1799998800000.5", "17999988000001234567"], ids=["fraction", "20-digits"])
def test_delete_if_unchanged_compares_connected_at_exactly_as_stored(table: Table, stored: str) -> None:
    """Issue 9 finding 11: the condition compared the integer read from the item, so it never matched."""
    table.put({"connectionId": {"S": "c1"}, "connectedAt": {"N": stored}})
    [[connection]] = [page.connections for page in store_for(table).scan_segment(0, 1)]

    assert store_for(table).delete_if_unchanged(connection) is not None
    assert table.ids() == set()


def test_delete_if_unchanged_without_connected_at_only_requires_existence(table: Table) -> None:
    table.put(item("c1", client_type="dashboard"))

    assert store_for(table).delete_if_unchanged(Connection("c1", None, None, None, None)) is not None
    assert table.ids() == set()


# ---------------------------------------------------------------------------------------------------
# batch_delete
# ---------------------------------------------------------------------------------------------------


def test_batch_delete_sends_requests_of_at_most_25_and_deletes_everything(table: Table) -> None:
    ids = table.put_many(item(f"c{n:03d}") for n in range(60))
    table.put(item("keep"))
    wrapped = WrappedDynamoDB(table.client)

    result = store_for(table, wrapped).batch_delete(ids)

    assert sorted(result.deleted) == sorted(ids)
    assert result.unprocessed == []
    assert [len(batch) for batch in wrapped.batch_requests] == [BATCH_SIZE, BATCH_SIZE, 10]
    assert table.ids() == {"keep"}


def test_batch_delete_never_names_a_key_twice_in_one_request(table: Table) -> None:
    table.put_many(item(f"c{n}") for n in range(3))
    wrapped = WrappedDynamoDB(table.client)

    result = store_for(table, wrapped).batch_delete(["c0", "c1", "c0", "c2", "c1"])

    assert sorted(result.deleted) == ["c0", "c1", "c2"]
    assert wrapped.batch_requests == [["c0", "c1", "c2"]]


def test_batch_delete_of_nothing_makes_no_request(table: Table) -> None:
    wrapped = WrappedDynamoDB(table.client)

    assert store_for(table, wrapped).batch_delete([]) == ([], [])
    assert wrapped.batch_requests == []


def test_batch_delete_retries_unprocessed_items_with_backoff(table: Table) -> None:
    ids = table.put_many(item(f"c{n:02d}") for n in range(30))
    stuck = {"c03", "c04", "c27"}
    wrapped = WrappedDynamoDB(table.client, stuck=stuck, stuck_times=3)
    sleeps: List[float] = []

    result = store_for(table, wrapped, sleeps).batch_delete(ids)

    assert sorted(result.deleted) == ids
    assert result.unprocessed == []
    assert table.ids() == set()
    # calls 1-3 leave the stuck ids unprocessed: only they are resent, until call 4 accepts them
    assert wrapped.batch_requests == [ids[:25], ["c03", "c04"], ["c03", "c04"], ["c03", "c04"], ids[25:]]
    assert len(sleeps) == 3
    assert all(0 <= delay <= 2.0 for delay in sleeps)


def test_batch_delete_gives_up_after_the_attempt_budget_and_reports_what_is_left(table: Table) -> None:
    ids = table.put_many(item(f"c{n:02d}") for n in range(10))
    wrapped = WrappedDynamoDB(table.client, stuck={"c02", "c07"})
    sleeps: List[float] = []

    result = store_for(table, wrapped, sleeps).batch_delete(ids)

    assert sorted(result.unprocessed) == ["c02", "c07"]
    assert sorted(result.deleted) == sorted(set(ids) - {"c02", "c07"})
    assert table.ids() == {"c02", "c07"}
    assert len(wrapped.batch_requests) == BATCH_ATTEMPTS
    assert len(sleeps) == BATCH_ATTEMPTS - 1


# ---------------------------------------------------------------------------------------------------
# scan_segment / agent_connections
# ---------------------------------------------------------------------------------------------------


def test_scan_segment_pages_through_the_table_projecting_only_the_contract(table: Table) -> None:
    table.put_many(live_item(f"c{n:02d}", client_type="dashboard", token="secret") for n in range(25))

    pages = list(store_for(table).scan_segment(0, 1, page_size=lambda: 10))

    assert [len(page.connections) for page in pages] == [10, 10, 5]
    assert [page.scanned for page in pages] == [10, 10, 5]
    assert [page.next_key is None for page in pages] == [False, False, True]
    connections = [connection for page in pages for connection in page.connections]
    assert sorted(connection.connection_id for connection in connections) == [f"c{n:02d}" for n in range(25)]
    assert all(connection.client_type == "dashboard" and connection.expires_at for connection in connections)


def test_scan_segment_continues_from_a_saved_key(table: Table) -> None:
    table.put_many(item(f"c{n:02d}") for n in range(25))
    first = next(iter(store_for(table).scan_segment(0, 1, page_size=lambda: 10)))

    rest = list(store_for(table).scan_segment(0, 1, start_key=first.next_key))

    ids = [c.connection_id for page in [first, *rest] for c in page.connections]
    assert sorted(ids) == [f"c{n:02d}" for n in range(25)]


def test_scan_segment_never_returns_the_sweepers_position_item(table: Table) -> None:
    table.put_many([item("c1"), item(POSITION_KEY, client_type="agent", agent_id="x")])

    [page] = list(store_for(table).scan_segment(0, 1))

    assert [c.connection_id for c in page.connections] == ["c1"]
    assert page.scanned == 2  # it still counts against the budget: DynamoDB read it


def test_scan_segments_partition_the_table(table: Table) -> None:
    ids = table.put_many(item(f"conn-{n:03d}") for n in range(80))
    store = store_for(table)

    segments = [
        {connection.connection_id for page in store.scan_segment(segment, 4) for connection in page.connections}
        for segment in range(4)
    ]

    assert set().union(*segments) == set(ids)
    assert sum(len(segment) for segment in segments) == len(ids)
    assert sum(1 for segment in segments if segment) > 1


def test_scan_segment_skips_items_without_a_connection_id() -> None:
    class OnePage:
        exceptions: Any = None

        def scan(self, **kwargs: Any) -> Dict[str, Any]:
            return {"Items": [{"connectionId": {"N": "1"}}, {"clientType": {"S": "agent"}}, item("ok")]}

        def delete_item(self, **kwargs: Any) -> Dict[str, Any]:
            raise AssertionError

        def batch_write_item(self, **kwargs: Any) -> Dict[str, Any]:
            raise AssertionError

        def query(self, **kwargs: Any) -> Dict[str, Any]:
            raise AssertionError

    [page] = list(SweepStore(OnePage(), TABLE).scan_segment(0, 1))

    assert [connection.connection_id for connection in page.connections] == ["ok"]
    assert (page.next_key, page.scanned) == (None, 3)
