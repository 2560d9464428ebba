"""The client's behaviour against a local WebSocket server that plays the parts of API Gateway the
contract is about: heartbeats, renewal (make-before-break), reconnects (1001 at once, else backoff),
refused handshakes, a clean stop. The repository also runs it against its API Gateway stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from remediation_agent.client import AgentClient, ClientConfig
from remediation_agent.urls import fixed

FAST = dict(heartbeat_interval=0.05, backoff_base=0.05, backoff_cap=0.2, open_timeout=5, close_timeout=1)


class Server:
    """Records what each connection did; can refuse handshakes, close or drop connections."""

    def __init__(self) -> None:
        self.events: List[Tuple[Any, ...]] = []
        self.connections: List[ServerConnection] = []
        self.refuse = 0  # refuse this many handshakes with 403
        self.url = ""
        self.queries: List[Dict[str, str]] = []  # each handshake's query parameters, refused ones too

    def process_request(self, ws: ServerConnection, request: Request) -> Optional[Response]:
        self.queries.append(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query)))
        if self.refuse > 0:
            self.refuse -= 1
            self.events.append(("refused", 403))
            return ws.respond(403, "Forbidden\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        number = len(self.connections)
        self.events.append(("open", number))
        try:
            async for message in ws:
                self.events.append(("message", number, message))
        except ConnectionClosed:
            pass
        self.events.append(("close", number, ws.close_code, ws.close_reason))

    def messages(self, number: Optional[int] = None) -> List[Any]:
        return [e[2] for e in self.events if e[0] == "message" and number in (None, e[1])]

    def kinds(self) -> List[Tuple[Any, ...]]:
        return [e for e in self.events if e[0] != "message"]


class Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[Dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append({"message": record.getMessage(), **getattr(record, "fields", {})})

    def messages(self) -> List[str]:
        return [line["message"] for line in self.lines]

    def find(self, message: str) -> List[Dict[str, Any]]:
        return [line for line in self.lines if line["message"] == message]


def scenario(
    story: Callable[[Server, AgentClient, Logs], Awaitable[None]], refuse: int = 0, **config: Any
) -> Tuple[Server, AgentClient, Logs]:
    """Start a server and a client, run `story`, stop the client (it must return), stop the server."""
    server, logs = Server(), Logs()
    server.refuse = refuse
    logger = logging.getLogger(f"test-agent-{id(server)}")
    logger.handlers[:] = [logs]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    async def main() -> AgentClient:
        async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
            port = next(iter(running.sockets)).getsockname()[1]
            client = AgentClient(
                fixed(f"ws://127.0.0.1:{port}/live"), ClientConfig(**{**FAST, **config}), name="t", logger=logger
            )
            task = asyncio.ensure_future(client.run())
            await story(server, client, logs)
            client.stop()
            await asyncio.wait_for(task, 10)
            await asyncio.sleep(0.05)  # the server handler records the close
            return client

    client = asyncio.run(main())
    return server, client, logs


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_heartbeats_are_data_frames_on_the_heartbeat_route_and_stop_closes_with_1000() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.messages()) >= 3)

    server, client, logs = scenario(story)
    assert set(server.messages()) == {'{"action":"heartbeat"}'}
    assert server.kinds() == [("open", 1), ("close", 1, 1000, "client stopping")]
    [link] = client.links
    assert (link.closed_by, link.close_code, link.heartbeats) == ("client", 1000, len(server.messages()))
    assert logs.messages()[-2:] == ["connection closed", "stopped"]


def test_route_key_and_selection_field_are_configurable() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.messages()) >= 1)

    server, _, _ = scenario(story, heartbeat_route_key="keepalive", route_selection_field="type")
    assert set(server.messages()) == {'{"type":"keepalive"}'}


def test_without_a_heartbeat_route_nothing_is_sent() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        await asyncio.sleep(0.3)  # six heartbeat intervals

    server, _, _ = scenario(story, heartbeat_route_key=None)
    assert server.messages() == []


def test_renewal_opens_the_next_connection_before_closing_the_old_one_with_1000() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(logs.find("renewed")) >= 2)

    server, client, logs = scenario(story, renew_after=0.3, renew_jitter=0)
    kinds = server.kinds()
    # make-before-break: connection n+1 opens before connection n closes, each renewed one with 1000
    assert kinds.index(("open", 2)) < kinds.index(("close", 1, 1000, "renewed"))
    assert kinds.index(("open", 3)) < kinds.index(("close", 2, 1000, "renewed"))
    assert [link.purpose for link in client.links][:3] == ["connect", "renewal", "renewal"]
    assert all(line["overlapMs"] > 0 for line in logs.find("renewed"))
    assert "reconnect scheduled" not in logs.messages()


def test_going_away_reconnects_at_once() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        await asyncio.sleep(0.1)
        await server.connections[0].close(1001, "Going away")
        await until(lambda: len(server.connections) == 2)

    _server, client, logs = scenario(story, backoff_reset_after=0.05)
    between = logs.messages()[logs.messages().index("connection closed") : logs.messages().index("connected", 1)]
    assert "reconnecting at once after 1001" in between
    assert "reconnect scheduled" not in between
    assert (client.links[0].close_code, client.links[0].closed_by, client.links[1].purpose) == (
        1001,
        "server",
        "reconnect",
    )


def test_a_second_quick_1001_falls_back_to_backoff() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        for number in (1, 2):
            await until(lambda n=number: len(server.connections) == n)  # type: ignore[misc]
            await server.connections[number - 1].close(1001, "Going away")
        await until(lambda: len(server.connections) == 3)

    _, _, logs = scenario(story, backoff_reset_after=60)
    assert logs.messages().count("reconnecting at once after 1001") == 1
    assert len(logs.find("reconnect scheduled")) == 1


def test_a_lost_connection_reconnects_after_a_full_jitter_backoff() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        server.connections[0].transport.abort()  # no close frame: the client sees 1006
        await until(lambda: len(server.connections) == 2)

    _, client, logs = scenario(story, backoff_base=0.5, backoff_cap=30)
    assert (client.links[0].close_code, client.links[0].closed_by) == (1006, "network")
    [scheduled] = logs.find("reconnect scheduled")
    assert scheduled["retry"] == 1
    assert 0 <= scheduled["delaySeconds"] <= 0.5


def test_every_reconnect_attempt_reports_how_long_the_agent_has_had_no_connection() -> None:
    """downMs (docs/client-contract.md): absent on the first connection; on each attempt after a loss, the
    milliseconds since the lost connection closed, growing across refused attempts, never more than the
    time the agent really was without a connection."""
    away: List[float] = []

    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        server.refuse = 2
        lost = time.monotonic()
        server.connections[0].transport.abort()
        await until(lambda: len(server.connections) == 2)
        away.append(time.monotonic() - lost)

    server, client, _ = scenario(story, backoff_base=0.05, backoff_cap=0.1)
    assert "downMs" not in server.queries[0]
    reports = [int(query["downMs"]) for query in server.queries[1:]]
    assert len(reports) == 3  # two refused attempts, then the connection
    assert reports == sorted(reports)
    assert reports[0] >= 0
    assert reports[-1] <= away[0] * 1000
    assert [link.purpose for link in client.links] == ["connect", "reconnect"]


def test_a_url_source_without_parameters_still_reconnects_without_a_report() -> None:
    """A UrlSource written for the earlier protocol (no arguments) keeps working; it just cannot carry
    downMs (the client cannot add it after a signer signed the URL)."""
    server, logs = Server(), Logs()
    logger = logging.getLogger(f"test-agent-old-{id(server)}")
    logger.handlers[:] = [logs]
    logger.propagate = False

    async def main() -> AgentClient:
        async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
            port = next(iter(running.sockets)).getsockname()[1]
            url = f"ws://127.0.0.1:{port}/live"
            fast: Dict[str, Any] = dict(FAST)
            client = AgentClient(lambda: url, ClientConfig(**fast), name="t", logger=logger)
            task = asyncio.ensure_future(client.run())
            await until(lambda: len(server.connections) == 1)
            server.connections[0].transport.abort()
            await until(lambda: len(server.connections) == 2)
            client.stop()
            await asyncio.wait_for(task, 10)
            return client

    client = asyncio.run(main())
    assert [link.purpose for link in client.links] == ["connect", "reconnect"]
    assert all("downMs" not in query for query in server.queries)
    assert logs.find("cannot build the connection URL") == []


def test_a_server_side_1000_is_not_a_reason_to_stay_away() -> None:
    """DeleteConnection (the presence checker closing a silent connection) reaches the client as 1000."""

    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        await server.connections[0].close(1000, "")
        await until(lambda: len(server.connections) == 2)

    _, client, logs = scenario(story)
    assert (client.links[0].close_code, client.links[0].closed_by) == (1000, "server")
    assert len(logs.find("reconnect scheduled")) == 1


def test_refused_handshakes_back_off_with_growing_ceilings_then_connect() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)

    _server, client, logs = scenario(story, refuse=4, backoff_base=0.01, backoff_cap=0.04)
    refused = logs.find("connect refused")
    assert [line["httpStatus"] for line in refused] == [403] * 4
    assert [line["retry"] for line in logs.find("reconnect scheduled")] == [1, 2, 3, 4]
    ceilings = [0.01, 0.02, 0.04, 0.04]
    assert all(line["delaySeconds"] <= cap for line, cap in zip(logs.find("reconnect scheduled"), ceilings))
    assert len(client.links) == 1


def test_a_connection_that_stayed_up_resets_the_backoff() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: len(server.connections) == 1)
        await asyncio.sleep(0.2)  # longer than backoff_reset_after
        server.connections[0].transport.abort()
        await until(lambda: len(server.connections) == 2)

    _, _, logs = scenario(story, refuse=3, backoff_base=0.01, backoff_cap=0.04, backoff_reset_after=0.1)
    assert [line["retry"] for line in logs.find("reconnect scheduled")] == [1, 2, 3, 1]


def test_stop_during_a_backoff_returns_without_connecting() -> None:
    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: bool(logs.find("reconnect scheduled")))

    server, client, logs = scenario(story, refuse=100, backoff_base=30, backoff_cap=30)
    assert client.links == []
    assert server.connections == []
    assert logs.messages()[-1] == "stopped"


def test_stop_after_run_returned_is_a_no_op() -> None:
    """stop() may race the end of run() (another thread stops a client that is finishing): once run()
    has returned and its loop is closed, stop() does nothing and raises nothing."""

    async def story(server: Server, client: AgentClient, logs: Logs) -> None:
        await until(lambda: bool(client.links))

    _, client, logs = scenario(story)
    assert client.loop is not None
    assert client.loop.is_closed()
    client.stop()
    assert logs.messages()[-1] == "stopped"
