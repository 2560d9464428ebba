"""The applied examples/local stack, live: its functions under AWS's Lambda runtime emulator, behind the
local WebSocket gateway, fed by its event source mappings and schedules, and real WebSocket clients.
Shared by `make demo` and the end-to-end tests.

`live_stack(outputs, endpoint, ...)` starts, for what Terraform applied on the moto server:
- a runtime (scripts/lambda_rie.py) for every function of the stack: the functions its outputs name,
  those its API's routes and authorizers integrate, and `<function_name>-*`;
- the gateway (scripts/ws_gateway.py) in front of the API's routes;
- a poller per event source mapping of those functions (scripts/esm.py), in background threads;
- its EventBridge schedules (scripts/schedules.py): `stack.tick(rule)`, or a clock with `schedule_scale`.
Clients: `client(**query)` (query-string identity), `iam_client(principal, ...)` (SigV4-signed, with
`assume_role` for credentials), `cut(ws)` (TCP lost: 1006), `silenceable_client` / `iam_client(...,
silenceable=True)` then `stack.silence(ws)` (a silent host). State: `presence()`, `drain_events()`,
`drain()` (event sources idle), `tick(rule)`.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from scripts.esm import Poller, Pollers, load_mappings
from scripts.esm_sqs import SqsPoller
from scripts.esm_streams import StreamPoller
from scripts.lambda_rie import Invocation, LambdaRuntime, start_runtimes
from scripts.offline import REGION, client, drain_queue, scheduled_event
from scripts.schedules import Schedules, Tick
from scripts.sigv4_presign import presign, signed_headers
from scripts.ws_credentials import Principal, assume_role
from scripts.ws_events import Routes
from scripts.ws_gateway import Gateway
from scripts.ws_relay import Relay, relay_for


class Refused(Exception):
    """The gateway rejected the WebSocket handshake (the `$connect` answer was not 2xx)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"handshake rejected with HTTP {status}")
        self.status = status


def plain(value: Dict[str, Any]) -> Any:
    """A DynamoDB attribute value as Python: N -> int or float, SS -> sorted list, M -> dict, ..."""
    kind, data = next(iter(value.items()))
    if kind == "N":
        number = float(data)
        return int(number) if number.is_integer() and "." not in data else number
    if kind in ("SS", "NS", "BS"):
        return sorted(plain({kind[0]: item}) for item in data)
    if kind == "M":
        return {key: plain(item) for key, item in data.items()}
    if kind == "L":
        return [plain(item) for item in data]
    return None if kind == "NULL" else data


class Stack:
    """Runtimes by function name, the gateway, the pollers, the schedules and the stack's outputs."""

    def __init__(
        self,
        outputs: Dict[str, Any],
        runtimes: Dict[str, LambdaRuntime],
        gateway: Gateway,
        endpoint: str = "",
        pollers: Optional[Pollers] = None,
        schedules: Optional[Schedules] = None,
    ) -> None:
        self.outputs = outputs
        self.runtimes = runtimes
        self.gateway = gateway
        self.endpoint = endpoint
        self.pollers = pollers or Pollers([])
        self.schedules = schedules
        self.clients = ExitStack()  # every client connection is closed when the stack stops
        self.relays: Dict[int, Relay] = {}  # id(client) -> its relay, for silenceable clients

    def invoke(self, function_name: str, event: Dict[str, Any]) -> Invocation:
        runtime = self.runtimes.get(function_name)
        if runtime is None:
            raise RuntimeError(f"function {function_name} is routed to but not running under the runtime emulator")
        return runtime.invoke(event)

    # --- clients -----------------------------------------------------------------------------------

    def _open(
        self, url: str, user_agent: str, headers: Optional[Dict[str, str]], relay: Optional[Relay]
    ) -> ClientConnection:
        try:
            ws = connect(
                url, user_agent_header=user_agent, open_timeout=60, compression=None, additional_headers=headers
            )
        except InvalidStatus as exc:
            if relay is not None:
                relay.abort()
            raise Refused(exc.response.status_code) from None
        if relay is not None:
            self.relays[id(ws)] = relay
        return self.clients.enter_context(ws)

    def _url(self, silenceable: bool, query: Dict[str, str]) -> Tuple[Optional[Relay], str]:
        url = self.gateway.url + ("?" + urllib.parse.urlencode(query) if query else "")
        return relay_for(url) if silenceable else (None, url)

    def client(self, user_agent: str = "remediation-agent/2.4", **query: str) -> ClientConnection:
        """Open a real WebSocket connection (query-string identity, as examples/local allows)."""
        relay, url = self._url(False, query)
        return self._open(url, user_agent, None, relay)

    def silenceable_client(self, user_agent: str = "remediation-agent/2.4", **query: str) -> ClientConnection:
        """As `client`, through a relay (scripts/ws_relay.py) so that `silence(ws)` can make it a silent host."""
        relay, url = self._url(True, query)
        return self._open(url, user_agent, None, relay)

    def assume_role(self, role_arn: str, session_name: str) -> Principal:
        """Temporary credentials of a role (moto STS AssumeRole), known to the gateway's key store."""
        return assume_role(self.gateway.credentials, self.endpoint, role_arn, session_name, self.gateway.region)

    def iam_client(
        self,
        principal: Principal,
        user_agent: str = "remediation-agent/2.4",
        *,
        silenceable: bool = False,
        in_headers: bool = False,
        expires: int = 300,
        query: Optional[Dict[str, str]] = None,
    ) -> ClientConnection:
        """Open a SigV4-signed connection (AWS_IAM `$connect`) with these credentials: a presigned URL
        (scripts/sigv4_presign.py), or the Authorization header with `in_headers`. The signature covers
        the host the client connects to (the relay's, when silenceable)."""
        relay, url = self._url(silenceable, query or {})
        if in_headers:
            return self._open(url, user_agent, signed_headers(url, principal.credentials, self.gateway.region), relay)
        return self._open(presign(url, principal.credentials, self.gateway.region, expires), user_agent, None, relay)

    def silence(self, ws: ClientConnection) -> None:
        """Make a silenceable client a silent host: nothing more reaches the gateway or the client, and
        nothing is closed (only a heartbeat deadline, LastActiveAt or the idle timeout notices)."""
        self.relays[id(ws)].silence()

    def connection_id(self, before: Set[str]) -> str:
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

    # --- the stack's other inputs and state --------------------------------------------------------

    def sweep(self) -> Invocation:
        """One scheduled run of the deployed sweeper (what its EventBridge rule would send)."""
        name = self.outputs["sweeper_function_name"]
        return self.runtimes[name].invoke(scheduled_event(f"arn:aws:events:{REGION}:123456789012:rule/{name}"))

    def tick(self, rule: str) -> List[Tick]:
        """Fire a scheduled rule now (by rule name, or by the name of its only target function)."""
        if self.schedules is None:
            raise RuntimeError("the stack has no schedules")
        return self.schedules.tick(rule)

    def drain(self, timeout: float = 60, delayed: bool = False) -> None:
        """Wait until every event source is idle (delayed SQS messages count only with `delayed`)."""
        self.pollers.drain(timeout, delayed)

    def presence(self, table: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
        """The presence table by agentId, values as Python (connections as a sorted list)."""
        dynamodb = client("dynamodb", self.endpoint, self.gateway.region)
        name = table or self.outputs["presence_table_name"]
        items: Dict[str, Dict[str, Any]] = {}
        for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            for item in page.get("Items", []):
                items[item["agentId"]["S"]] = {key: plain(value) for key, value in item.items()}
        return items

    def drain_events(self, queue_url: Optional[str] = None, wait_seconds: float = 3.0) -> List[Dict[str, Any]]:
        """Every EventBridge event delivered to the stack's events queue (or `queue_url`), consumed."""
        url = queue_url or next(
            self.outputs[key] for key in ("agent_events_queue_url", "agent_offline_queue_url") if key in self.outputs
        )
        return drain_queue(url, self.endpoint, self.gateway.region, wait_seconds)


def cut(ws: ClientConnection) -> None:
    """Cut the TCP connection without a close frame (a lost network): the gateway sees 1006."""
    ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    ws.socket.close()


def function_names(outputs: Dict[str, Any], routes: Optional[Routes] = None, endpoint: str = "") -> List[str]:
    """The stack's functions: named by its outputs, integrated by its API, or named `<function_name>-*`."""
    named = {value for key, value in outputs.items() if key.endswith("function_name") and isinstance(value, str)}
    if routes is not None:
        named |= {route.function_name for route in routes.routes.values() if route.function_name}
        named |= {authorizer.function_name for authorizer in routes.authorizers.values()}
    base = outputs.get("function_name")
    if endpoint and base:
        pages = client("lambda", endpoint).get_paginator("list_functions").paginate()
        named |= {
            f["FunctionName"] for page in pages for f in page["Functions"] if f["FunctionName"].startswith(base + "-")
        }
    return sorted(named)


def _pollers(endpoint: str, names: List[str], invoke: Any) -> Pollers:
    pollers: List[Poller] = []
    for mapping in load_mappings(endpoint):
        if not mapping.enabled or mapping.function_name not in names:
            continue
        if mapping.service == "sqs":
            pollers.append(SqsPoller(mapping, invoke, endpoint))
        elif mapping.service == "dynamodb":
            pollers.append(StreamPoller(mapping, invoke, endpoint))
    return Pollers(pollers)


@contextmanager
def live_stack(
    outputs: Dict[str, Any],
    endpoint: str,
    connections_port: int = 0,
    workdir: Optional[Path] = None,
    idle_timeout: float = 600,
    max_lifetime: float = 7200,
    *,
    pollers: bool = True,
    schedule_scale: Optional[float] = None,
    invoke: Optional[Callable[[str, Dict[str, Any]], Any]] = None,
    **gateway_options: Any,
) -> Iterator[Stack]:
    """Start the stack's functions under aws-lambda-rie, the gateway in front of them, the pollers of
    their event source mappings (`pollers`) and, with `schedule_scale`, a clock for their schedules;
    stop everything. `invoke` replaces the runtimes (tests). `gateway_options` go to Gateway
    (close_timeout, post_is_activity, repeat_iam_identity)."""
    routes = Routes.load(outputs["api_id"], endpoint)
    names = function_names(outputs, routes, endpoint)
    runtimes = start_runtimes(names, endpoint, workdir) if invoke is None else {}
    gateway: Optional[Gateway] = None
    holder: Dict[str, Stack] = {}
    try:

        def invoke_runtime(name: str, event: Dict[str, Any]) -> Invocation:
            return holder["stack"].invoke(name, event)

        call = invoke or invoke_runtime
        gateway = Gateway(
            routes,
            outputs.get("stage_name", "live"),
            call,
            idle_timeout=idle_timeout,
            max_lifetime=max_lifetime,
            connections_port=connections_port,
            **gateway_options,
        )
        schedules = Schedules.load(endpoint, call)
        schedules.schedules = {
            name: rule
            for name, rule in schedules.schedules.items()
            if all(t.function_name in names for t in rule.targets)
        }
        stack = Stack(outputs, runtimes, gateway, endpoint, _pollers(endpoint, names, call), schedules)
        holder["stack"] = stack
        gateway.start()
        if pollers:
            stack.pollers.start()
        if schedule_scale:
            schedules.start(schedule_scale)
        yield stack
    finally:
        if "stack" in holder:
            stack = holder["stack"]
            if stack.schedules is not None:
                stack.schedules.stop()
            stack.pollers.stop()
            for relay in stack.relays.values():
                relay.abort()
            stack.clients.close()
        if gateway is not None:
            gateway.stop()
        for runtime in runtimes.values():
            runtime.stop()
