"""management.py: GetConnection's LastActiveAt and DeleteConnection, as the presence checker reads them."""

from __future__ import annotations

from datetime import datetime, timezone

from botocore.stub import Stubber
from remediation_registry.management import ALIVE, ERROR, GONE, Inspection, Prober

from tests.support.resources import aws_client

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/live"


def test_inspect_reads_when_the_connection_was_last_active() -> None:
    client = aws_client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    active = datetime(2026, 11, 26, 6, 30, 15, 250000, tzinfo=timezone.utc)
    with Stubber(client) as stubber:
        stubber.add_response("get_connection", {"ConnectedAt": active, "LastActiveAt": active}, {"ConnectionId": "a="})
        stubber.add_response("get_connection", {"ConnectedAt": active}, {"ConnectionId": "b="})
        stubber.add_client_error("get_connection", service_error_code="GoneException", http_status_code=410)
        stubber.add_client_error("get_connection", service_error_code="LimitExceededException", http_status_code=429)
        prober = Prober(client, concurrency=1)

        found = [prober.inspect(cid) for cid in ("a=", "b=", "g=", "t=")]

        stubber.assert_no_pending_responses()
    assert found == [
        Inspection(ALIVE, None, int(active.timestamp() * 1000)),
        Inspection(ALIVE, None, None),
        Inspection(GONE),
        Inspection(ERROR, "LimitExceededException"),
    ]


def test_close_accepts_a_connection_already_gone_and_names_other_errors() -> None:
    client = aws_client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        stubber.add_response("delete_connection", {}, {"ConnectionId": "a="})
        stubber.add_client_error("delete_connection", service_error_code="GoneException", http_status_code=410)
        stubber.add_client_error("delete_connection", service_error_code="ForbiddenException", http_status_code=403)
        prober = Prober(client, concurrency=1)

        closed = [prober.close(cid) for cid in ("a=", "g=", "f=")]

        stubber.assert_no_pending_responses()
    assert closed == [None, None, "ForbiddenException"]
