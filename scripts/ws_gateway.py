"""A local stand-in for API Gateway's WebSocket data plane, for a stack applied on the moto server.

Real WebSocket clients connect to ws://127.0.0.1:<port>/<stage>. The gateway reads the API's routes and
Lambda integrations back from the emulated control plane (scripts/ws_events.py) and, like API Gateway:
- on a handshake, assigns a connectionId, runs the `$connect` route's Lambda REQUEST authorizer if it
  has one (401 without its identity sources or on "Unauthorized", 403 unless its policy allows the
  route; its context reaches every later event), then invokes the `$connect` integration; a non-2xx
  answer (or a failed invocation: 500) rejects the handshake with that status;
- on a message, invokes the route chosen by the route selection expression (else `$default`);
- on a close, invokes `$disconnect` with disconnectStatusCode / disconnectReason from the client's close
  frame (1005 without a code), 1006 when the TCP connection was cut, 1001 "Going away" when the gateway
  closed it (idle timeout, connection lifetime limit); `$disconnect` can be dropped (API Gateway
  delivers it best-effort) or held back and released later;
- serves `@connections` (scripts/ws_connections_api.py): GetConnection / PostToConnection /
  DeleteConnection, 410 GoneException for an id that is not connected.
Each invocation goes through `invoke(function_name, event)`: in the demo and e2e, AWS's Lambda runtime
(scripts/lambda_rie.py). Every invocation is recorded in `records`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from scripts.offline import REGION, now_ms
from scripts.ws_connections_api import ConnectionsApi, iso
from scripts.ws_events import (
    ConnectionInfo,
    Routes,
    authorizer_event,
    authorizer_verdict,
    connect_event,
    disconnect_event,
    identity_present,
    message_event,
    new_connection_id,
    status_of,
)

Invoke = Callable[[str, Dict[str, Any]], Any]  # returns an object with .payload and .error (lambda_rie.Invocation)


class Record(NamedTuple):
    route_key: str
    connection_id: str
    status: Optional[int]  # HTTP status derived from the answer; None when the event was not delivered
    note: str  # "delivered", "dropped", "held"
    invocation: Any
    event: Dict[str, Any]


class _Live:
    def __init__(self, info: ConnectionInfo, ws: ServerConnection) -> None:
        self.info = info
        self.ws = ws
        self.started = time.monotonic()
        self.last_active = time.monotonic()
        self.last_active_epoch = time.time()
        self.closing: Optional[Tuple[int, str]] = None


class Gateway:
    def __init__(
        self,
        routes: Routes,
        stage: str,
        invoke: Invoke,
        *,
        region: str = REGION,
        idle_timeout: float = 600,
        max_lifetime: float = 7200,
        connections_port: int = 0,
    ) -> None:
        self.routes = routes
        self.stage = stage
        self.invoke = invoke
        self.region = region
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.records: List[Record] = []
        self.drop_disconnect: Set[str] = set()
        self.hold_disconnect: Set[str] = set()
        self.held: Dict[str, Dict[str, Any]] = {}
        self.connections_api = ConnectionsApi(stage, self, connections_port)
        self._live: Dict[str, _Live] = {}
        self._pending: Dict[int, ConnectionInfo] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: Optional[Server] = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/{self.stage}"

    def start(self) -> Gateway:
        self._thread.start()
        self._server = self._call(self._serve())
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.connections_api.start()
        return self

    async def _serve(self) -> Server:
        server: Server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._handshake,
            ping_interval=None,
            compression=None,
            # The $connect integration may take up to API Gateway's 29 s integration timeout.
            open_timeout=35,
        )
        return server

    def stop(self) -> None:
        self.connections_api.stop()
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # --- data plane --------------------------------------------------------------------------------

    def _deliver(self, route_key: str, function: str, event: Dict[str, Any], connection_id: str) -> Record:
        invocation = self.invoke(function, event)
        status = 500 if getattr(invocation, "error", None) else status_of(getattr(invocation, "payload", None))
        record = Record(route_key, connection_id, status, "delivered", invocation, event)
        with self._lock:
            self.records.append(record)
        return record

    async def _handshake(self, ws: ServerConnection, request: Request) -> Optional[Response]:
        parsed = urllib.parse.urlsplit(request.path)
        if parsed.path.rstrip("/") != f"/{self.stage}":
            return ws.respond(403, "Forbidden\n")
        remote = ws.remote_address
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            connected_at_ms=now_ms(),
            source_ip=str(remote[0]) if remote else "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            headers={key: value for key, value in request.headers.raw_items()},
            query=urllib.parse.parse_qs(parsed.query),
            authorizer=None,
        )
        route = self.routes.routes.get("$connect")
        if route is not None and route.authorizer_id is not None:
            refused = await asyncio.to_thread(self._authorize, route.authorizer_id, info)
            if isinstance(refused, int):
                return ws.respond(refused, {401: "Unauthorized\n", 403: "Forbidden\n"}.get(refused, "Error\n"))
            info = refused
        if route is not None:
            event = connect_event(info, self.routes.api_id, self.stage, self.region)
            record = await asyncio.to_thread(self._deliver, "$connect", route.function_name, event, info.connection_id)
            if record.status is None or not 200 <= record.status < 300:
                return ws.respond(
                    record.status or 500, "Forbidden\n" if record.status == 403 else "Internal server error\n"
                )
        self._pending[id(ws)] = info
        return None

    def _authorize(self, authorizer_id: str, info: ConnectionInfo) -> Any:
        """Run the route's REQUEST authorizer: the connection with its context, or the HTTP status to refuse."""
        authorizer = self.routes.authorizers[authorizer_id]
        if not all(identity_present(source, info) for source in authorizer.identity_sources):
            return 401  # API Gateway does not even call the authorizer
        event = authorizer_event(info, self.routes, self.stage, self.region)
        invocation = self.invoke(authorizer.function_name, event)
        error = getattr(invocation, "error", None)
        context = None if error else authorizer_verdict(getattr(invocation, "payload", None), event["methodArn"])
        if error:
            status = 401 if error.get("errorMessage") == "Unauthorized" else 500
        else:
            status = 200 if context is not None else 403
        with self._lock:
            self.records.append(
                Record("$connect authorizer", info.connection_id, status, "delivered", invocation, event)
            )
        return info._replace(authorizer=context) if context is not None else status

    async def _handler(self, ws: ServerConnection) -> None:
        info = self._pending.pop(id(ws))
        live = _Live(info, ws)
        with self._lock:
            self._live[info.connection_id] = live
        watchdog = asyncio.ensure_future(self._watch(live))
        try:
            async for message in ws:
                live.last_active, live.last_active_epoch = time.monotonic(), time.time()
                body = message if isinstance(message, str) else message.decode("utf-8", "replace")
                route = self.routes.for_message(body)
                if route is None:
                    await ws.send(json.dumps({"message": "Forbidden", "connectionId": info.connection_id}))
                    continue
                event = message_event(info, self.routes.api_id, self.stage, route.route_key, body, self.region)
                await asyncio.to_thread(self._deliver, route.route_key, route.function_name, event, info.connection_id)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            with self._lock:
                self._live.pop(info.connection_id, None)
        if live.closing is not None:
            code, reason = live.closing
        else:
            code, reason = ws.close_code or 1006, ws.close_reason or ""
        await asyncio.to_thread(self._disconnected, info, code, reason)

    def _disconnected(self, info: ConnectionInfo, code: int, reason: str) -> None:
        route = self.routes.routes.get("$disconnect")
        if route is None:
            return
        event = disconnect_event(info, self.routes.api_id, self.stage, code, reason, self.region)
        cid = info.connection_id
        if cid in self.drop_disconnect or cid in self.hold_disconnect:
            note = "dropped" if cid in self.drop_disconnect else "held"
            with self._lock:
                self.records.append(Record("$disconnect", cid, None, note, None, event))
                if note == "held":
                    self.held[cid] = event
            return
        self._deliver("$disconnect", route.function_name, event, cid)

    def release_disconnect(self, connection_id: str) -> Record:
        """Deliver a held-back `$disconnect` now (a late delivery)."""
        with self._lock:
            event = self.held.pop(connection_id)
        route = self.routes.routes["$disconnect"]
        return self._deliver("$disconnect", route.function_name, event, connection_id)

    async def _watch(self, live: _Live) -> None:
        """API Gateway's limits: idle timeout and maximum connection lifetime, both closing with 1001."""
        step = max(0.05, min(self.idle_timeout, self.max_lifetime) / 10)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            if now - live.last_active >= self.idle_timeout or now - live.started >= self.max_lifetime:
                live.closing = (1001, "Going away")
                await live.ws.close(1001, "Going away")
                return

    def wait_closed(self, connection_id: str, timeout: float = 30) -> Record:
        """Wait until the gateway has handled the close of a connection (its $disconnect record)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [r for r in self.records if r.connection_id == connection_id and r.route_key == "$disconnect"]
            if found:
                return found[-1]
            time.sleep(0.02)
        raise TimeoutError(f"no $disconnect handled for {connection_id} within {timeout} s")

    # --- @connections (LiveConnections for ConnectionsApi) -------------------------------------------

    def live_ids(self) -> Set[str]:
        with self._lock:
            return set(self._live)

    def _get(self, connection_id: str) -> Optional[_Live]:
        with self._lock:
            return self._live.get(connection_id)

    def describe(self, connection_id: str) -> Optional[Dict[str, object]]:
        live = self._get(connection_id)
        if live is None:
            return None
        return {
            "connectedAt": iso(live.info.connected_at_ms / 1000),
            "lastActiveAt": iso(live.last_active_epoch),
            "identity": {"sourceIp": live.info.source_ip, "userAgent": live.info.user_agent},
        }

    def post(self, connection_id: str, data: bytes) -> bool:
        live = self._get(connection_id)
        if live is None:
            return False
        try:
            self._call(live.ws.send(data.decode("utf-8", "replace")), timeout=10)
        except ConnectionClosed:
            return False
        return True

    def delete(self, connection_id: str) -> bool:
        live = self._get(connection_id)
        if live is None:
            return False
        live.closing = (1000, "")
        asyncio.run_coroutine_threadsafe(live.ws.close(1000), self._loop)
        return True
