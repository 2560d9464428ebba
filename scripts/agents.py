"""The reference agent client (examples/agent-client) against the local gateway: the agents of
`make demo`, the end-to-end tests and the data-plane tests follow the client contract because they
are that client, unchanged.

`start_agent(url, name, config, ...)` runs one AgentClient on an event loop of its own (its
BackgroundAgent thread), with query-string identity or SigV4-presigned with a principal's
credentials. Its User-Agent names it (`remediation-agent-client/1.0 (<name>)`), so the gateway's
`$connect` records tell which connections are its. Faults, played from outside the client:
- `cut(until)`: its network drops: the current TCP connection is reset (the gateway sees 1006) and,
  until the event `until` is set, every attempt to connect is refused (its URL points nowhere); the
  client, unaware of why, reconnects per the contract once the network is back;
- `crash()`: the process dies: TCP reset, no close frame, no reconnect;
- `silence()` (a `silenceable` agent, which reaches the gateway through relays, scripts/ws_relay.py,
  one per connection attempt): the host goes silent: nothing more reaches the gateway or the client,
  nothing is closed; only the heartbeat check can tell.
`stop()` is the client's own clean shutdown (close 1000).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from scripts.offline import REGION
from scripts.ws_credentials import Principal
from scripts.ws_relay import Relay, relay_for

CLIENT_DIR = Path(__file__).resolve().parent.parent / "examples" / "agent-client"
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

from remediation_agent import (  # noqa: E402 - the folder users copy, imported as they would
    AgentClient,
    BackgroundAgent,
    ClientConfig,
    LinkRecord,
    Presigner,
    insecure_query_string_url,
)
from remediation_agent.urls import UrlSource, with_query  # noqa: E402

__all__ = ["Agent", "ClientConfig", "LinkRecord", "start_agent", "user_agent"]


UNREACHABLE = "ws://127.0.0.1:1/live"  # nothing listens on port 1: the connection is refused


class Midpoint(random.Random):
    """Jitter without chance, for a story whose order of events must not depend on a draw: every
    uniform(a, b) is (a + b) / 2 (heartbeats exactly every interval, the first retry after 0.25 s)."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def user_agent(name: str) -> str:
    return f"remediation-agent-client/1.0 ({name})"


class _Lines(logging.Handler):
    """The client's log lines as dicts (message + fields), thread-safe."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = {"time": record.created, "level": record.levelname, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        with self._lock:
            self.lines.append(line)

    def snapshot(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self.lines)


class Agent:
    def __init__(self, name: str, client: AgentClient, lines: _Lines, relays: List[Relay]) -> None:
        self.name = name
        self.client = client
        self.background = BackgroundAgent(client)
        self._lines = lines
        self.relays = relays
        self.silent = False  # a silent host: every relay, also one opened later, drops everything
        self.network_back: Optional[threading.Event] = None  # set: the network is up again after a cut

    # --- what it did ----------------------------------------------------------------------------------

    @property
    def user_agent(self) -> str:
        return self.client.config.user_agent

    @property
    def links(self) -> List[LinkRecord]:
        def copy(client: AgentClient) -> List[LinkRecord]:
            return [dataclasses.replace(link) for link in client.links]

        return self.background.call(copy) if self.background.running else copy(self.client)

    def lines(self, message: Optional[str] = None) -> List[Dict[str, Any]]:
        found = self._lines.snapshot()
        return found if message is None else [line for line in found if line["message"] == message]

    def connection_ids(self, records: List[Any]) -> List[str]:
        """Its connections' ids, in the order the gateway accepted them (from the gateway's records)."""
        ids: List[str] = []
        for record in list(records):
            if record.route_key != "$connect" or record.status is None or not 200 <= record.status < 300:
                continue
            headers = record.event.get("headers") or {}
            agent = next((value for key, value in headers.items() if key.lower() == "user-agent"), None)
            if agent == self.user_agent and record.connection_id not in ids:
                ids.append(record.connection_id)
        return ids

    # --- what happens to it ---------------------------------------------------------------------------

    def wait_connected(self, timeout: float = 30) -> Agent:
        self.background.wait_connected(timeout)
        return self

    def cut(self, until: Optional[threading.Event] = None) -> None:
        """A network blip: reset the current TCP connection; with `until`, no connection can be made
        before it is set. The client reconnects on its own."""
        self.network_back = until
        self.background.call(_reset_current)

    @property
    def network_down(self) -> bool:
        return self.network_back is not None and not self.network_back.is_set()

    def crash(self) -> None:
        """The process dies: TCP reset, no close frame, no reconnect."""

        def die(client: AgentClient) -> None:
            client.stop()  # queued first: the closed connection is then not retried
            _reset_current(client)

        self.background.call(die)
        self.background.stop()

    def silence(self) -> None:
        self.silent = True
        for relay in list(self.relays):
            relay.silence()

    def stop(self, timeout: float = 30) -> None:
        """Clean shutdown: close 1000 (a silent host's close never arrives: close_timeout, then abort)."""
        self.background.stop(timeout)
        for relay in list(self.relays):
            relay.abort()


def _reset_current(client: AgentClient) -> None:
    link = client.current
    if link is None:
        return
    transport = link.ws.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def start_agent(
    url: str,
    name: str,
    config: ClientConfig,
    *,
    agent_id: Optional[str] = None,
    client_type: str = "agent",
    principal: Optional[Principal] = None,
    credentials: Any = None,
    region: str = REGION,
    silenceable: bool = False,
    rng: Optional[random.Random] = None,
    wait: bool = True,
    timeout: float = 30,
) -> Agent:
    """Start the reference client as `name`: SigV4-presigned with `principal`'s credentials (or any
    botocore-style `credentials`), else with query-string identity (`client_type`, `agent_id`)."""
    relays: List[Relay] = []
    creds = principal.credentials if principal is not None else credentials
    holder: List[Agent] = []

    def target() -> str:
        if holder and holder[0].network_down:
            return UNREACHABLE
        if not silenceable:
            return url
        relay, through = relay_for(url)
        relays.append(relay)
        if holder and holder[0].silent:
            relay.silence()  # a silent host stays silent, whatever its client tries
        return through

    source: UrlSource
    if creds is not None:

        def source(extra: Optional[Mapping[str, str]] = None) -> str:
            return Presigner(target(), region, credentials=creds)(extra)

    else:

        def source(extra: Optional[Mapping[str, str]] = None) -> str:
            return with_query(insecure_query_string_url(target(), client_type, agent_id), extra)

    lines = _Lines()
    logger = logging.getLogger(f"remediation_agent.{name}.{id(lines)}")
    logger.handlers[:] = [lines]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    configured = dataclasses.replace(config, user_agent=user_agent(name))
    agent = Agent(name, AgentClient(source, configured, name=name, logger=logger, rng=rng), lines, relays)
    holder.append(agent)
    agent.background.start()
    if wait:
        agent.wait_connected(timeout)
    return agent
