"""handlers.disconnect: the `$disconnect` route as API Gateway and CloudWatch see it (moto DynamoDB)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import pytest
from botocore.exceptions import ClientError
from remediation_registry import config, handlers

from tests.support.events import CONNECTION_ID, SOURCE_IP, USER_AGENT, FakeContext, disconnect_event, now_ms
from tests.support.faults import SendInterceptor, count_calls, fail_first, throttle_first
from tests.support.logs import LogReader, assert_valid_emf, emf_dimension_names, emf_metrics
from tests.support.resources import Table, item, live_item

OK = {"statusCode": 200, "body": "disconnected"}
T0 = 1_795_677_000_000  # connectedAt, epoch ms
HIGH_CARDINALITY = {"connectionId", "requestId", "agentId", "awsRequestId", "apiId", "stage", "sourceIp", "userAgent"}


def seed_neighbours(table: Table) -> Dict[str, Dict[str, Any]]:
    """The connection named in the test event plus two others; return the table's contents."""
    table.put(live_item(CONNECTION_ID, client_type="dashboard"))
    table.put(live_item("neighbour-1=", client_type="agent", agent_id="agent-1"))
    table.put(item("neighbour-2="))
    return table.items()


# ---------------------------------------------------------------------------------------------------
# Deleting
# ---------------------------------------------------------------------------------------------------


def test_valid_event_deletes_the_connection_and_answers_200(table: Table, logs: LogReader) -> None:
    before = seed_neighbours(table)

    response = handlers.disconnect(disconnect_event(), FakeContext())

    assert response == OK
    after = table.items()
    assert CONNECTION_ID not in after
    assert after == {key: value for key, value in before.items() if key != CONNECTION_ID}
    assert [line["message"] for line in logs.lines()] == ["connection removed"]


def test_second_disconnect_for_the_same_connection_is_idempotent(table: Table, logs: LogReader) -> None:
    table.put(live_item(CONNECTION_ID, client_type="dashboard"))
    handlers.disconnect(disconnect_event())
    logs.clear()

    response = handlers.disconnect(disconnect_event())

    assert response == OK
    line = logs.one("connection already gone")
    assert line["result"] == "already_gone"
    assert line["level"] == "INFO"
    assert "item" not in line
    assert len(logs.lines()) == 1


def test_disconnect_of_a_connection_never_registered_answers_200(table: Table, logs: LogReader) -> None:
    table.put(item("someone-else="))

    response = handlers.disconnect(disconnect_event("never-registered="))

    assert response == OK
    assert logs.one("connection already gone")["connectionId"] == "never-registered="
    assert table.ids() == {"someone-else="}


def test_the_runtime_is_built_once_and_reused_across_invocations(table: Table) -> None:
    handlers.disconnect(disconnect_event("a="))
    first = handlers.runtime()

    handlers.disconnect(disconnect_event("b="))

    assert handlers.runtime() is first
    handlers.reset()
    assert handlers.runtime() is not first


# ---------------------------------------------------------------------------------------------------
# Malformed events
# ---------------------------------------------------------------------------------------------------


def mutated(change: Callable[[Dict[str, Any]], None]) -> Dict[str, Any]:
    event = disconnect_event()
    change(event)
    return event


def set_context(key: str, value: object) -> Callable[[Dict[str, Any]], None]:
    def change(event: Dict[str, Any]) -> None:
        event["requestContext"][key] = value

    return change


MALFORMED: Dict[str, tuple[object, str]] = {
    "none": (None, "NoneType, not an object"),
    "list": ([disconnect_event()], "list, not an object"),
    "string": ('{"requestContext": {"connectionId": "L0SM9cOFvHcCIhw="}}', "str, not an object"),
    "int": (1001, "int, not an object"),
    "empty object": ({}, "no requestContext"),
    "no requestContext": (mutated(lambda e: e.pop("requestContext")), "no requestContext"),
    "requestContext string": (mutated(lambda e: e.update(requestContext=CONNECTION_ID)), "no requestContext"),
    "requestContext list": (
        mutated(lambda e: e.update(requestContext=[{"connectionId": CONNECTION_ID}])),
        "no requestContext",
    ),
    "no connectionId": (mutated(lambda e: e["requestContext"].pop("connectionId")), "missing or empty"),
    "empty connectionId": (mutated(set_context("connectionId", "")), "missing or empty"),
    "numeric connectionId": (mutated(set_context("connectionId", 12345)), "missing or empty"),
    "null connectionId": (mutated(set_context("connectionId", None)), "missing or empty"),
    "connectionId in a list": (mutated(set_context("connectionId", [CONNECTION_ID])), "missing or empty"),
    "129 characters": (mutated(set_context("connectionId", CONNECTION_ID + "A" * 113)), "129 characters"),
    "10 kB": (mutated(set_context("connectionId", CONNECTION_ID * 640)), "10240 characters"),
    "space": (mutated(set_context("connectionId", "L0SM9cOF vHcCIhw=")), "whitespace"),
    "trailing newline": (mutated(set_context("connectionId", CONNECTION_ID + "\n")), "whitespace"),
    "tab": (mutated(set_context("connectionId", "\tL0SM9cOFvHcCIhw=")), "whitespace"),
    "NUL": (mutated(set_context("connectionId", "L0SM9cOF\x00vHcCIhw=")), "whitespace"),
    "escape": (mutated(set_context("connectionId", "\x1b[2J")), "whitespace"),
    "non-ASCII": (mutated(set_context("connectionId", "L0SM9cOFvHcCIhw\u00e9")), "whitespace"),
    "CONNECT": (mutated(set_context("eventType", "CONNECT")), "'CONNECT', not 'DISCONNECT'"),
    "MESSAGE": (mutated(set_context("eventType", "MESSAGE")), "'MESSAGE', not 'DISCONNECT'"),
    "lower-case": (mutated(set_context("eventType", "disconnect")), "eventType"),
    "numeric eventType": (mutated(set_context("eventType", 2)), "'int', not 'DISCONNECT'"),
}


@pytest.mark.parametrize(("event", "reason"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_event_answers_400_logs_one_warning_and_deletes_nothing(
    table: Table, logs: LogReader, event: object, reason: str
) -> None:
    before = seed_neighbours(table)

    response = handlers.disconnect(event, FakeContext())

    assert response["statusCode"] == 400
    assert isinstance(response["body"], str)
    assert response["body"]
    [line] = logs.lines()
    assert line["level"] == "WARNING"
    assert line["message"] == "invalid $disconnect event ignored"
    assert reason in line["error"]
    assert emf_metrics(line) == {"InvalidDisconnectEvents": (1, "Count", [])}
    assert table.items() == before


def test_malformed_event_log_line_does_not_echo_the_client_address(table: Table, logs: LogReader) -> None:
    event = disconnect_event()
    event["requestContext"]["eventType"] = "CONNECT"

    handlers.disconnect(event)

    logs.lines()
    assert SOURCE_IP not in logs.raw
    assert USER_AGENT not in logs.raw


def test_missing_event_type_is_accepted_as_in_console_test_events(table: Table, logs: LogReader) -> None:
    table.put(item("console-test="))

    response = handlers.disconnect({"requestContext": {"connectionId": "console-test="}})

    assert response == OK
    assert table.ids() == set()
    line = logs.one("connection removed")
    assert line["eventType"] is None
    assert line["durationSeconds"] is None
    assert "ConnectionDurationSeconds" not in emf_metrics(line)


# ---------------------------------------------------------------------------------------------------
# DynamoDB failures
# ---------------------------------------------------------------------------------------------------


def assert_one_error_line(logs: LogReader, error_code: str, connection_id: str = CONNECTION_ID) -> Dict[str, Any]:
    lines = logs.lines()
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, lines
    [line] = errors
    assert line["message"] == "connection not removed"
    assert line["result"] == "error"
    assert line["errorCode"] == error_code
    assert line["connectionId"] == connection_id
    assert emf_metrics(line) == {"DisconnectErrors": (1, "Count", [])}
    assert not [other for other in lines if other.get("message") in ("connection removed", "connection already gone")]
    return line


def test_missing_table_raises_client_error_and_logs_it(aws: None, logs: LogReader) -> None:
    with pytest.raises(ClientError) as error:
        handlers.disconnect(disconnect_event())

    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    line = assert_one_error_line(logs, "ResourceNotFoundException")
    assert "ResourceNotFoundException" in line["error"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "ThrottlingException"), (400, "ProvisionedThroughputExceededException"), (500, "InternalServerError")],
)
@pytest.mark.usefixtures("no_retry_delay")
def test_persistent_dynamodb_error_raises_after_retries_and_keeps_the_item(
    table: Table, logs: LogReader, status: int, code: str
) -> None:
    table.put(live_item(CONNECTION_ID, client_type="dashboard"))
    interceptor = SendInterceptor(handlers.runtime().dynamodb, fail_first("DeleteItem", 99, status, code, "injected"))

    with pytest.raises(ClientError) as error:
        handlers.disconnect(disconnect_event())

    assert error.value.response["Error"]["Code"] == code
    assert interceptor.attempts["DeleteItem"] > 1  # retried before giving up
    assert_one_error_line(logs, code)
    assert table.ids() == {CONNECTION_ID}


@pytest.mark.usefixtures("no_retry_delay")
def test_dynamodb_client_gives_up_after_three_attempts_as_documented(table: Table, logs: LogReader) -> None:
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", 99))

    with pytest.raises(ClientError):
        handlers.disconnect(disconnect_event())

    assert interceptor.attempts == {"DeleteItem": 3}


@pytest.mark.usefixtures("no_retry_delay")
def test_transient_throttling_is_retried_and_the_disconnect_succeeds(table: Table, logs: LogReader) -> None:
    table.put(live_item(CONNECTION_ID, client_type="dashboard"))
    interceptor = SendInterceptor(handlers.runtime().dynamodb, throttle_first("DeleteItem", 1))

    assert handlers.disconnect(disconnect_event()) == OK

    assert interceptor.attempts == {"DeleteItem": 2}
    assert table.ids() == set()
    assert logs.one("connection removed")["result"] == "deleted"


# ---------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------


def test_missing_connections_table_raises_config_error(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTIONS_TABLE")

    with pytest.raises(config.ConfigError, match="CONNECTIONS_TABLE"):
        handlers.disconnect(disconnect_event())


@pytest.mark.parametrize(
    ("name", "raw"), [("SWEEP_MAX_ITEMS", "ten"), ("CONNECTION_GRACE_SECONDS", "5m"), ("LOG_LEVEL", "LOUD")]
)
def test_malformed_setting_raises_config_error_naming_the_variable(
    table: Table, monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    table.put(item(CONNECTION_ID))

    with pytest.raises(config.ConfigError, match=name):
        handlers.disconnect(disconnect_event())

    assert table.ids() == {CONNECTION_ID}


def test_a_configuration_error_is_not_cached(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_MAX_ITEMS", "ten")
    with pytest.raises(config.ConfigError):
        handlers.disconnect(disconnect_event())
    monkeypatch.setenv("SWEEP_MAX_ITEMS", "10")
    table.put(item(CONNECTION_ID))

    assert handlers.disconnect(disconnect_event()) == OK
    assert table.ids() == set()


# ---------------------------------------------------------------------------------------------------
# The log line
# ---------------------------------------------------------------------------------------------------


def test_log_line_describes_the_disconnect_and_the_deleted_item(table: Table, logs: LogReader) -> None:
    table.put(
        item(CONNECTION_ID, client_type="agent", agent_id="agent-42", connected_at=T0, expires_at=T0 // 1000 + 7500)
    )
    event = disconnect_event(status_code=1001, connected_at=T0, request_time=T0 + 754_321)

    handlers.disconnect(event, FakeContext(request_id="lambda-req-1"))

    [line] = logs.lines()
    expected = {
        "level": "INFO",
        "message": "connection removed",
        "awsRequestId": "lambda-req-1",
        "connectionId": CONNECTION_ID,
        "eventType": "DISCONNECT",
        "routeKey": "$disconnect",
        "disconnectStatusCode": 1001,
        "disconnectReason": "Going away",
        "connectedAt": T0,
        "durationSeconds": 754.321,
        "apiId": "abc123",
        "stage": "live",
        "requestId": "QSdpnFzRjoEFQjA=",
        "result": "deleted",
        "abnormal": False,
        "item": {"clientType": "agent", "agentId": "agent-42", "connectedAt": T0, "expiresAt": T0 // 1000 + 7500},
    }
    assert {key: line.get(key) for key in expected} == expected


def test_the_deleted_item_is_read_from_the_delete_itself_not_a_second_request(table: Table, logs: LogReader) -> None:
    table.put(item(CONNECTION_ID, client_type="dashboard", connected_at=T0))
    calls = count_calls(handlers.runtime().dynamodb)

    handlers.disconnect(disconnect_event())

    assert calls == ["DeleteItem"]
    assert logs.one("connection removed")["item"] == {"clientType": "dashboard", "connectedAt": T0}


@pytest.mark.parametrize(
    ("code", "abnormal"), [(1000, False), (1001, False), (1005, False), (1006, True), (1011, True)]
)
def test_abnormal_is_logged_for_lost_connections_only(table: Table, logs: LogReader, code: int, abnormal: bool) -> None:
    table.put(item(CONNECTION_ID))

    handlers.disconnect(disconnect_event(status_code=code))

    line = logs.one("connection removed")
    assert line["abnormal"] is abnormal
    assert line["disconnectStatusCode"] == code


def test_duration_uses_the_items_connected_at_when_the_event_has_none(table: Table, logs: LogReader) -> None:
    table.put(item(CONNECTION_ID, connected_at=T0))
    event = disconnect_event(request_time=T0 + 61_500)
    del event["requestContext"]["connectedAt"]

    handlers.disconnect(event)

    line = logs.one("connection removed")
    assert line["connectedAt"] is None
    assert line["durationSeconds"] == 61.5


def test_duration_is_measured_to_now_when_the_event_has_no_request_time(table: Table, logs: LogReader) -> None:
    table.put(item(CONNECTION_ID))
    event = disconnect_event(connected_at=now_ms() - 30_000)
    del event["requestContext"]["requestTimeEpoch"]

    handlers.disconnect(event)

    assert 30.0 <= logs.one("connection removed")["durationSeconds"] < 30.0 + 600


def test_no_duration_when_the_clock_runs_backwards(table: Table, logs: LogReader) -> None:
    table.put(item(CONNECTION_ID))

    handlers.disconnect(disconnect_event(connected_at=T0, request_time=T0 - 1))

    line = logs.one("connection removed")
    assert line["durationSeconds"] is None
    assert set(emf_metrics(line)) == {"Disconnects"}


def test_function_name_is_logged_inside_lambda(table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "remediation-disconnect")

    handlers.disconnect(disconnect_event())

    assert logs.one("connection already gone")["function"] == "remediation-disconnect"


def test_client_address_is_not_logged_by_default(table: Table, logs: LogReader) -> None:
    table.put(item(CONNECTION_ID, client_type="dashboard"))

    handlers.disconnect(disconnect_event())
    handlers.disconnect(disconnect_event())

    for line in logs.lines():
        assert "sourceIp" not in line
        assert "userAgent" not in line
    assert SOURCE_IP not in logs.raw
    assert USER_AGENT not in logs.raw


def test_client_address_is_logged_when_enabled(table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_CLIENT_ADDRESS", "true")
    table.put(item(CONNECTION_ID, client_type="dashboard"))

    handlers.disconnect(disconnect_event())

    line = logs.one("connection removed")
    assert (line["sourceIp"], line["userAgent"]) == (SOURCE_IP, USER_AGENT)


# ---------------------------------------------------------------------------------------------------
# EMF metrics
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "label"),
    [
        (item(CONNECTION_ID, client_type="agent", agent_id="agent-1", connected_at=T0), "agent"),
        (item(CONNECTION_ID, client_type="agent", connected_at=T0), "agent"),
        (item(CONNECTION_ID, client_type="dashboard", connected_at=T0), "dashboard"),
        (item(CONNECTION_ID, connected_at=T0), "unknown"),
        (item(CONNECTION_ID, client_type="Robot; DROP TABLE", connected_at=T0), "other"),
        (None, "unknown"),
    ],
    ids=["agent", "agent-without-id", "dashboard", "no-client-type", "unexpected-client-type", "already-gone"],
)
def test_disconnects_metric_is_dimensioned_by_a_bounded_client_type(
    table: Table, logs: LogReader, monkeypatch: pytest.MonkeyPatch, stored: Optional[Dict[str, Any]], label: str
) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "Acme/Remediation")
    if stored is not None:
        table.put(stored)

    handlers.disconnect(disconnect_event(connected_at=T0, request_time=T0 + 5_250))

    [line] = logs.lines()
    assert_valid_emf(line, "Acme/Remediation")
    assert line["ClientType"] == label
    assert emf_metrics(line) == {
        "Disconnects": (1, "Count", ["ClientType"]),
        "ConnectionDurationSeconds": (5.25, "Seconds", ["ClientType"]),
    }


def test_no_metric_is_ever_dimensioned_by_an_id(table: Table, logs: LogReader) -> None:
    table.put(item("a=", client_type="agent", agent_id="agent-1"))
    table.put(item("d=", client_type="dashboard"))
    handlers.disconnect(disconnect_event("a="), FakeContext())
    handlers.disconnect(disconnect_event("d="), FakeContext())
    handlers.disconnect(disconnect_event("gone="), FakeContext())
    handlers.disconnect({"requestContext": {"connectionId": ""}}, FakeContext())

    lines = logs.lines()

    assert len(lines) == 4
    assert emf_dimension_names(lines) <= {"ClientType"}
    assert not emf_dimension_names(lines) & HIGH_CARDINALITY


# ---------------------------------------------------------------------------------------------------
# Bugs
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["connectedAt", "requestTimeEpoch", "disconnectStatusCode"])
def test_unicode_digit_metadata_does_not_prevent_the_disconnect(table: Table, field: str) -> None:
    table.put(item(CONNECTION_ID))
    event = disconnect_event()
    event["requestContext"][field] = "\u00b2"

    assert handlers.disconnect(event) == OK
    assert table.ids() == set()


def test_out_of_range_request_time_is_ignored_like_a_missing_one(table: Table, logs: LogReader) -> None:
    """A requestTimeEpoch beyond float range (10**400) is dropped: the duration ends at the handler's clock."""
    table.put(item(CONNECTION_ID))
    event = disconnect_event()
    event["requestContext"].update(connectedAt=now_ms() - 60_000, requestTimeEpoch=10**400)

    assert handlers.disconnect(event) == OK

    line = logs.one("connection removed")
    assert line["durationSeconds"] == pytest.approx(60, abs=5)
    assert table.ids() == set()


def test_out_of_range_connected_at_is_ignored(table: Table, logs: LogReader) -> None:
    """A negative or huge connectedAt is dropped (the item has none either): no duration, no failure."""
    table.put(item(CONNECTION_ID))
    event = disconnect_event()
    event["requestContext"].update(connectedAt=-(10**400), requestTimeEpoch=T0)

    assert handlers.disconnect(event) == OK

    line = logs.one("connection removed")
    assert (line["connectedAt"], line["durationSeconds"]) == (None, None)
    assert table.ids() == set()
