"""The applied examples/local stack, live: its functions under AWS's Lambda runtime emulator, behind the
local WebSocket gateway, and real WebSocket clients. Shared by `make demo` and the end-to-end tests.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from scripts.lambda_rie import Invocation, LambdaRuntime, start_runtimes
from scripts.offline import REGION, scheduled_event
from scripts.ws_events import Routes
from scripts.ws_gateway import Gateway


class Refused(Exception):
    """The gateway rejected the WebSocket handshake (the `$connect` answer was not 2xx)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"handshake rejected with HTTP {status}")
        self.status = status


class Stack:
    """Runtimes by function name, the gateway, and the stack's Terraform outputs."""

    def __init__(self, outputs: Dict[str, Any], runtimes: Dict[str, LambdaRuntime], gateway: Gateway) -> None:
        self.outputs = outputs
        self.runtimes = runtimes
        self.gateway = gateway
        self.clients = ExitStack()  # every client connection is closed when the stack stops

    def invoke(self, function_name: str, event: Dict[str, Any]) -> Invocation:
        runtime = self.runtimes.get(function_name)
        if runtime is None:
            raise RuntimeError(f"function {function_name} is routed to but not running under the runtime emulator")
        return runtime.invoke(event)

    def client(self, user_agent: str = "remediation-agent/2.4", **query: str) -> ClientConnection:
        """Open a real WebSocket connection (query-string identity, as examples/local allows)."""
        url = self.gateway.url + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            return self.clients.enter_context(
                connect(url, user_agent_header=user_agent, open_timeout=60, compression=None)
            )
        except InvalidStatus as exc:
            raise Refused(exc.response.status_code) from None

    def connection_id(self, before: set[str]) -> str:
        """The id the gateway gave the connection opened since `before` was taken.

        The client's handshake completes a moment before the gateway's handler registers the connection.
        """
        deadline = time.monotonic() + 10
        while True:
            new = self.gateway.live_ids() - before
            if len(new) == 1:
                return new.pop()
            if len(new) > 1 or time.monotonic() > deadline:
                raise RuntimeError(f"expected one new connection, the gateway has {sorted(new)}")
            time.sleep(0.01)

    def sweep(self) -> Invocation:
        """One scheduled run of the deployed sweeper (what its EventBridge rule would send)."""
        name = self.outputs["sweeper_function_name"]
        return self.runtimes[name].invoke(scheduled_event(f"arn:aws:events:{REGION}:123456789012:rule/{name}"))


def cut(ws: ClientConnection) -> None:
    """Cut the TCP connection without a close frame (a lost network): the gateway sees 1006."""
    ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    ws.socket.close()


def function_names(outputs: Dict[str, Any]) -> List[str]:
    names = [outputs["function_name"], outputs["sweeper_function_name"], outputs.get("connect_function_name")]
    return [name for name in names if name]


@contextmanager
def live_stack(
    outputs: Dict[str, Any],
    endpoint: str,
    connections_port: int = 0,
    workdir: Optional[Path] = None,
    idle_timeout: float = 600,
    max_lifetime: float = 7200,
) -> Iterator[Stack]:
    """Start the stack's functions under aws-lambda-rie and the gateway in front of them; stop both."""
    runtimes = start_runtimes(function_names(outputs), endpoint, workdir)
    gateway: Optional[Gateway] = None
    holder: Dict[str, Stack] = {}
    try:

        def invoke(name: str, event: Dict[str, Any]) -> Invocation:
            return holder["stack"].invoke(name, event)

        routes = Routes.load(outputs["api_id"], endpoint)
        gateway = Gateway(
            routes,
            outputs.get("stage_name", "live"),
            invoke,
            idle_timeout=idle_timeout,
            max_lifetime=max_lifetime,
            connections_port=connections_port,
        )
        holder["stack"] = Stack(outputs, runtimes, gateway)
        gateway.start()
        yield holder["stack"]
    finally:
        if "stack" in holder:
            holder["stack"].clients.close()
        if gateway is not None:
            gateway.stop()
        for runtime in runtimes.values():
            runtime.stop()
