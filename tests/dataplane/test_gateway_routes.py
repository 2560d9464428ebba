"""The local gateway's data plane (scripts/ws_gateway.py): MOCK routes, LastActiveAt, counters,
DeleteConnection, API Gateway's limits, close codes, silent hosts."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator, Tuple

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from scripts.offline import client
from scripts.ws_gateway import Gateway
from scripts.ws_relay import relay_for
from tests.support.dataplane import Answer, ScriptedFunction, new_connection, running_gateway, websocket_api

HEARTBEAT = json.dumps({"action": "heartbeat"})


@pytest.fixture
def fn() -> ScriptedFunction:
    return ScriptedFunction(Answer({"statusCode": 200, "body": "ok"}, None))


@pytest.fixture
def api(endpoint: str, name: str) -> str:
    routes = {
        "$connect": name,
        "$disconnect": name,
        "$default": name,
        "heartbeat": "MOCK",
        "ping": "MOCK",
        "echo": name,
    }
    return websocket_api(endpoint, name, routes, two_way=("ping", "echo"))


@pytest.fixture
def gateway(endpoint: str, api: str, fn: ScriptedFunction) -> Iterator[Gateway]:
    with running_gateway(endpoint, api, fn, close_timeout=1) as started:
        yield started


def open_client(gateway: Gateway, url: str = "") -> Tuple[ClientConnection, str]:
    before = gateway.live_ids()
    ws = connect(url or gateway.url, open_timeout=30, legacy=True)
    return ws, new_connection(gateway, before)


def management(gateway: Gateway) -> Any:
    return client("apigatewaymanagementapi", gateway.connections_api.endpoint)


def routes_invoked(fn: ScriptedFunction) -> list[str]:
    return [event["requestContext"]["routeKey"] for event in fn.events()]


def test_routes_are_read_back_with_their_integration_kind(gateway: Gateway) -> None:
    routes = gateway.routes.routes
    assert routes["heartbeat"].function_name is None
    assert routes["heartbeat"].mock is not None
    assert (routes["heartbeat"].two_way, routes["ping"].two_way, routes["echo"].two_way) == (False, True, True)
    assert routes["$default"].function_name is not None


def test_a_one_way_mock_route_answers_nothing_and_invokes_nothing(gateway: Gateway, fn: ScriptedFunction) -> None:
    ws, cid = open_client(gateway)
    with ws:
        ws.send(HEARTBEAT)
        ws.send(json.dumps({"action": "ping"}))  # two-way: its pong is the first frame the client gets
        assert ws.recv(timeout=10) == '{"action":"pong"}'
    gateway.wait_closed(cid)
    assert routes_invoked(fn) == ["$connect", "$disconnect"]
    mocked = [(r.route_key, r.status, r.note) for r in gateway.records if r.connection_id == cid and r.note == "mock"]
    assert mocked == [("heartbeat", 200, "mock"), ("ping", 200, "mock")]
    stats = gateway.stats[cid]
    assert (stats.received, stats.sent) == (2, 1)
    assert stats.invocations == {"$connect": 1, "$disconnect": 1}


def test_lambda_routes_are_counted_per_route(gateway: Gateway, fn: ScriptedFunction) -> None:
    ws, cid = open_client(gateway)
    with ws:
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == "ok"  # a two-way Lambda proxy route sends the answer's body
        ws.send("not json: $default")
        ws.send(HEARTBEAT)
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == "ok"
    gateway.wait_closed(cid)
    assert gateway.stats[cid].invocations == {"$connect": 1, "echo": 2, "$default": 1, "$disconnect": 1}
    assert gateway.stats[cid].received == 4
    assert gateway.invocations()["echo"] >= 2


def test_messages_are_billed_in_32_kb_units(gateway: Gateway) -> None:
    ws, cid = open_client(gateway)
    with ws:
        ws.send(iter(["x" * 20000, "y" * 20000]))  # one 40,000-byte message in two frames
        ws.send(HEARTBEAT)
    gateway.wait_closed(cid)
    assert (gateway.stats[cid].received, gateway.stats[cid].received_billed) == (2, 3)


def test_last_active_at_moves_with_client_messages_only(gateway: Gateway) -> None:
    ws, cid = open_client(gateway)
    api = management(gateway)
    with ws:
        first = api.get_connection(ConnectionId=cid)
        assert first["LastActiveAt"] == first["ConnectedAt"]
        time.sleep(0.01)
        api.post_to_connection(ConnectionId=cid, Data=b"server says hi")
        assert ws.recv(timeout=10) == "server says hi"
        assert api.get_connection(ConnectionId=cid)["LastActiveAt"] == first["LastActiveAt"]
        ws.send(HEARTBEAT)
        ws.send(json.dumps({"action": "ping"}))
        ws.recv(timeout=10)
        assert api.get_connection(ConnectionId=cid)["LastActiveAt"] > first["LastActiveAt"]
    assert gateway.stats[cid].sent == 2


def test_post_to_connection_can_count_as_activity(endpoint: str, api: str, fn: ScriptedFunction) -> None:
    """Undocumented either way (/work/notes/aws-facts.md section 2): an option, off by default."""
    with running_gateway(endpoint, api, fn, post_is_activity=True) as gateway:
        ws, cid = open_client(gateway)
        with ws:
            before = management(gateway).get_connection(ConnectionId=cid)["LastActiveAt"]
            time.sleep(0.01)
            management(gateway).post_to_connection(ConnectionId=cid, Data=b"x")
            ws.recv(timeout=10)
            assert management(gateway).get_connection(ConnectionId=cid)["LastActiveAt"] > before


def test_delete_connection_closes_1000_and_sends_disconnect(gateway: Gateway) -> None:
    ws, cid = open_client(gateway)
    api = management(gateway)
    with ws:
        api.delete_connection(ConnectionId=cid)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1000
    record = gateway.wait_closed(cid)
    context = record.event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1000, "Connection Closed Normally")
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=cid)
    with pytest.raises(api.exceptions.GoneException):
        api.delete_connection(ConnectionId=cid)


def test_a_disconnect_that_waits_for_its_invocation_keeps_the_close_as_its_request_time(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API Gateway stamps `$disconnect` (requestTimeEpoch) when the connection closes; a Lambda busy with a
    backlog runs it later with that stamp (presence counts the grace from it)."""
    handle = gateway._disconnected

    def busy(*args: Any) -> None:
        time.sleep(1.0)  # waiting for a free invocation
        handle(*args)

    monkeypatch.setattr(gateway, "_disconnected", busy)
    ws, cid = open_client(gateway)
    closed = time.time() * 1000
    ws.close()
    stamped = gateway.wait_closed(cid).event["requestContext"]["requestTimeEpoch"]
    assert closed - 50 <= stamped < closed + 500  # not when it ran, 1 s later


def test_a_close_without_a_status_code_is_1005(gateway: Gateway) -> None:
    ws, cid = open_client(gateway)
    with ws.send_context():  # what close() does, with a close frame that has no status code
        ws.protocol.send_close()
    context = gateway.wait_closed(cid).event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
        1005,
        "Client-side close frame status not set",
    )


@pytest.mark.parametrize(("idle", "lifetime"), [(0.5, 600.0), (600.0, 0.5)])
def test_idle_timeout_and_lifetime_limit_close_with_1001(
    endpoint: str, api: str, fn: ScriptedFunction, idle: float, lifetime: float
) -> None:
    with running_gateway(endpoint, api, fn, idle_timeout=idle, max_lifetime=lifetime) as gateway:
        ws, cid = open_client(gateway)
        with ws:
            context = gateway.wait_closed(cid).event["requestContext"]
            assert ws.close_code == 1001
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_server_messages_keep_a_connection_from_idling_out(endpoint: str, api: str, fn: ScriptedFunction) -> None:
    """The idle timeout counts messages in either direction."""
    with running_gateway(endpoint, api, fn, idle_timeout=1.0) as gateway:
        ws, cid = open_client(gateway)
        with ws:
            for _ in range(10):  # 2 s of PostToConnection every 0.2 s: never 1 s without a message
                management(gateway).post_to_connection(ConnectionId=cid, Data=b"tick")
                ws.recv(timeout=10)
                time.sleep(0.2)
            assert cid in gateway.live_ids()
            gateway.wait_closed(cid)  # then silence: the idle timeout closes it
            assert ws.close_code == 1001


def test_a_silent_host_is_noticed_only_by_the_idle_timeout(endpoint: str, api: str, fn: ScriptedFunction) -> None:
    with running_gateway(endpoint, api, fn, idle_timeout=1.0, close_timeout=0.5) as gateway:
        relay, url = relay_for(gateway.url)
        ws, cid = open_client(gateway, url)
        try:
            ws.send(HEARTBEAT)
            ws.send(json.dumps({"action": "ping"}))
            ws.recv(timeout=10)
            received = gateway.stats[cid].received
            relay.silence()
            ws.send(HEARTBEAT)  # lost on the way
            record = gateway.wait_closed(cid)
            assert gateway.stats[cid].received == received
            assert record.event["requestContext"]["disconnectStatusCode"] == 1001
            assert ws.close_code is None  # the client never learnt: its socket is still open
        finally:
            relay.abort()
            ws.close()


def test_a_limit_reached_during_a_deletes_close_handshake_does_not_change_its_code(
    endpoint: str, api: str, fn: ScriptedFunction
) -> None:
    """DeleteConnection on a silent host: the close handshake waits close_timeout; the lifetime limit
    passing meanwhile must not turn the $disconnect's 1000 into a 1001."""
    with running_gateway(endpoint, api, fn, close_timeout=2, max_lifetime=1) as gateway:
        relay, url = relay_for(gateway.url)
        ws, cid = open_client(gateway, url)
        try:
            relay.silence()
            management(gateway).delete_connection(ConnectionId=cid)
            context = gateway.wait_closed(cid).event["requestContext"]
            assert context["disconnectStatusCode"] == 1000
        finally:
            relay.abort()
            ws.close()


def test_a_message_without_a_route_gets_an_error_frame(endpoint: str, name: str, fn: ScriptedFunction) -> None:
    api_id = websocket_api(endpoint, name, {"$connect": name, "heartbeat": "MOCK"})
    with running_gateway(endpoint, api_id, fn) as gateway:
        ws, cid = open_client(gateway)
        with ws:
            ws.send(json.dumps({"action": "nothing-routes-this"}))
            frame: Dict[str, Any] = json.loads(ws.recv(timeout=10))
    assert (frame["message"], frame["connectionId"]) == ("Forbidden", cid)


def test_a_message_over_128_kb_closes_the_connection_with_1009(gateway: Gateway) -> None:
    ws, cid = open_client(gateway)
    with ws:
        ws.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert gateway.wait_closed(cid).event["requestContext"]["disconnectStatusCode"] == 1009


def test_deleting_a_silent_host_makes_it_gone_at_once(endpoint: str, api: str, fn: ScriptedFunction) -> None:
    """What the presence checker does on a heartbeat timeout: DeleteConnection, then the connection is
    gone for @connections while the close handshake waits for a client that never answers."""
    with running_gateway(endpoint, api, fn, close_timeout=0.5) as gateway:
        relay, url = relay_for(gateway.url)
        ws, cid = open_client(gateway, url)
        try:
            relay.silence()
            api_client = management(gateway)
            api_client.delete_connection(ConnectionId=cid)
            with pytest.raises(api_client.exceptions.GoneException):
                api_client.get_connection(ConnectionId=cid)
            context = gateway.wait_closed(cid).event["requestContext"]
            assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
                1000,
                "Connection Closed Normally",
            )
        finally:
            relay.abort()
            ws.close()
