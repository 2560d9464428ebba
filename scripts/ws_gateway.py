"""A local stand-in for API Gateway's WebSocket data plane, for a stack applied on the moto server.

Real WebSocket clients connect to ws://127.0.0.1:<port>/<stage>. The gateway reads the API's routes,
integrations and route responses back from the emulated control plane (scripts/ws_events.py) and, like
API Gateway (facts and their sources: /work/notes/aws-facts.md):
- on a handshake, assigns a connectionId; authorizes `$connect`: a Lambda REQUEST authorizer (401
  without its identity sources or on "Unauthorized", 403 unless its policy allows the route; its
  context reaches every later event) or AWS_IAM (scripts/ws_iam.py: SigV4 signature against
  `credentials`, then the caller's IAM policies; 403 otherwise, nothing invoked); then runs the
  `$connect` integration; a non-2xx answer (or a failed invocation: 500) rejects the handshake;
- on a message, runs the route chosen by the route selection expression (else `$default`): a Lambda
  proxy integration is invoked; a MOCK integration is answered without invoking anything
  (scripts/ws_mock.py: one-way routes send nothing back, two-way routes send the integration
  response's template). Every client message counts as activity: GetConnection's LastActiveAt;
- closes a connection after `idle_timeout` without a message in either direction and at
  `max_lifetime` (API Gateway: 10 minutes, 2 hours), with 1001 "Going away";
- on a close, invokes `$disconnect` with the close code and reason (scripts/ws_live.py); it can be
  dropped (API Gateway delivers it best-effort) or held back;
- serves `@connections` (scripts/ws_connections_api.py): GetConnection / PostToConnection /
  DeleteConnection, 410 GoneException for an id that is not connected.
Each invocation goes through `invoke(function_name, event)`: in the demo and e2e, AWS's Lambda runtime
(scripts/lambda_rie.py). Every invocation (and every MOCK answer, every refusal) is in `records`;
`stats[connection_id]` counts messages each way (and in billed 32 KB units) and invocations per route.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from scripts import ws_mock
from scripts.offline import REGION, now_ms
from scripts.ws_connections_api import ConnectionsApi, iso
from scripts.ws_credentials import CredentialStore
from scripts.ws_events import (
    ConnectionInfo,
    Route,
    Routes,
    connect_event,
    disconnect_event,
    handshake_info,
    message_event,
    run_authorizer,
    status_of,
)
from scripts.ws_iam import authorize
from scripts.ws_live import CLOSE_REASONS, ConnectionStats, Live, Record, invocation_totals

Invoke = Callable[[str, Dict[str, Any]], Any]  # returns an object with .payload and .error (lambda_rie.Invocation)
__all__ = ["Gateway", "Invoke", "Record"]


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
        close_timeout: float = 10,  # websockets' default; how long API Gateway waits is not documented
        post_is_activity: bool = False,
        repeat_iam_identity: bool = False,
    ) -> None:
        """`post_is_activity`: whether PostToConnection moves LastActiveAt (undocumented; off: only client
        messages do, as AWS's own tutorial output shows). `repeat_iam_identity`: whether events after
        `$connect` carry the IAM identity (undocumented; off: they carry sourceIp and userAgent only)."""
        self.routes = routes
        self.stage = stage
        self.invoke = invoke
        self.region = region
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.close_timeout = close_timeout
        self.post_is_activity = post_is_activity
        self.repeat_iam_identity = repeat_iam_identity
        self.credentials = CredentialStore()
        self.records: List[Record] = []
        self.stats: Dict[str, ConnectionStats] = {}
        self.drop_disconnect: Set[str] = set()
        self.hold_disconnect: Set[str] = set()
        self.held: Dict[str, Dict[str, Any]] = {}
        self.connections_api = ConnectionsApi(stage, self, connections_port)
        self._live: Dict[str, Live] = {}
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
            ping_interval=None,  # API Gateway sends no ping frames
            compression=None,
            # The $connect integration may take up to API Gateway's 29 s integration timeout.
            open_timeout=35,
            close_timeout=self.close_timeout,
            # "WebSocket frame size 32 KB, message payload size 128 KB": a longer message closes the
            # connection with 1009 (API Gateway quotas for WebSocket APIs; frames are not checked here).
            max_size=128 * 1024,
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

    def _stats(self, connection_id: str) -> ConnectionStats:
        with self._lock:
            return self.stats.setdefault(connection_id, ConnectionStats())

    def _record(self, record: Record) -> Record:
        with self._lock:
            self.records.append(record)
            if record.invocation is not None:
                stats = self.stats.setdefault(record.connection_id, ConnectionStats())
                stats.invocations[record.route_key] = stats.invocations.get(record.route_key, 0) + 1
        return record

    def _deliver(self, route_key: str, function: str, event: Dict[str, Any], connection_id: str) -> Record:
        invocation = self.invoke(function, event)
        status = 500 if getattr(invocation, "error", None) else status_of(getattr(invocation, "payload", None))
        return self._record(Record(route_key, connection_id, status, "delivered", invocation, event))

    def _run(self, route: Route, event: Dict[str, Any], connection_id: str, body: str = "") -> Tuple[Record, Any]:
        """Run a route's integration: (its record, what a two-way route sends back or None)."""
        if route.function_name is None:
            status, reply = ws_mock.reply(route.mock, body, route.two_way) if route.mock else (200, None)
            return self._record(Record(route.route_key, connection_id, status, "mock", None, event)), reply
        record = self._deliver(route.route_key, route.function_name, event, connection_id)
        payload = getattr(record.invocation, "payload", None)
        answer = payload.get("body") if route.two_way and isinstance(payload, dict) else None
        return record, answer if isinstance(answer, str) else None

    async def _handshake(self, ws: ServerConnection, request: Request) -> Optional[Response]:
        parsed = urllib.parse.urlsplit(request.path)
        if parsed.path.rstrip("/") != f"/{self.stage}":
            return ws.respond(403, "Forbidden\n")
        remote = ws.remote_address
        info = handshake_info(parsed.query, dict(request.headers.raw_items()), str(remote[0]) if remote else "")
        route = self.routes.routes.get("$connect")
        if route is not None and (route.authorization_type == "AWS_IAM" or route.authorizer_id is not None):
            authorized = await asyncio.to_thread(self._authorize, route, request, info)
            if isinstance(authorized, int):
                return ws.respond(authorized, {401: "Unauthorized\n", 403: "Forbidden\n"}.get(authorized, "Error\n"))
            info = authorized
        if route is not None:
            event = connect_event(info, self.routes.api_id, self.stage, self.region)
            record, _ = await asyncio.to_thread(self._run, route, event, info.connection_id)
            status = record.status or 500
            if not 200 <= status < 300:
                return ws.respond(status, "Forbidden\n" if status == 403 else "Internal server error\n")
        self._pending[id(ws)] = info
        return None

    def _authorize(self, route: Route, request: Request, info: ConnectionInfo) -> Any:
        """`$connect` authorization: the connection with its IAM identity or authorizer context, or the
        HTTP status that refuses it."""
        if route.authorization_type == "AWS_IAM":
            headers = dict(request.headers.raw_items())
            verdict = authorize(request.path, headers, self.credentials, self.routes, self.stage, self.region, info)
            if verdict.identity is None:
                self._record(
                    Record("$connect AWS_IAM", info.connection_id, 403, f"refused: {verdict.reason}", None, {})
                )
                return 403
            return info._replace(identity=verdict.identity)
        assert route.authorizer_id is not None  # noqa: S101 - checked by the caller
        status, context, invocation, event = run_authorizer(
            self.routes, route.authorizer_id, info, self.stage, self.invoke
        )
        if invocation is not None:
            self._record(Record("$connect authorizer", info.connection_id, status, "delivered", invocation, event))
        return info._replace(authorizer=context) if context is not None else status

    async def _send(self, live: Live, text: str) -> None:
        await live.ws.send(text)
        live.sent(len(text.encode()))

    async def _handler(self, ws: ServerConnection) -> None:
        info = self._pending.pop(id(ws))
        live = Live(info, ws, self._stats(info.connection_id))
        later = info if self.repeat_iam_identity else info._replace(identity=None)
        with self._lock:
            self._live[info.connection_id] = live
        watchdog = asyncio.ensure_future(self._watch(live))
        try:
            async for message in ws:
                body = message if isinstance(message, str) else message.decode("utf-8", "replace")
                live.received(len(message.encode() if isinstance(message, str) else message))
                route = self.routes.for_message(body)
                if route is None:
                    await self._send(live, json.dumps({"message": "Forbidden", "connectionId": info.connection_id}))
                    continue
                event = message_event(later, self.routes.api_id, self.stage, route.route_key, body, self.region)
                if route.function_name is None:  # MOCK: API Gateway answers it itself, no function to wait for
                    _, reply = self._run(route, event, info.connection_id, body)
                else:
                    _, reply = await asyncio.to_thread(self._run, route, event, info.connection_id, body)
                if reply is not None:
                    await self._send(live, reply)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            with self._lock:
                self._live.pop(info.connection_id, None)
        sent, received = ws.protocol.close_sent, ws.protocol.close_rcvd
        if live.closing is not None:
            code, reason = live.closing
        elif received is None and sent is not None:  # the gateway failed the connection (1009: too big)
            code, reason = sent.code, sent.reason
        else:
            code = ws.close_code or 1006
            reason = ws.close_reason or CLOSE_REASONS.get(code, "")
        await asyncio.to_thread(self._disconnected, later, code, reason, now_ms())

    def _disconnected(self, info: ConnectionInfo, code: int, reason: str, closed_at: Optional[int] = None) -> None:
        route = self.routes.routes.get("$disconnect")
        if route is None:
            return
        event = disconnect_event(info, self.routes.api_id, self.stage, code, reason, self.region, closed_at)
        cid = info.connection_id
        if cid in self.drop_disconnect or cid in self.hold_disconnect:
            note = "dropped" if cid in self.drop_disconnect else "held"
            with self._lock:
                self.records.append(Record("$disconnect", cid, None, note, None, event))
                if note == "held":
                    self.held[cid] = event
            return
        self._run(route, event, cid)

    def release_disconnect(self, connection_id: str) -> Record:
        """Deliver a held-back `$disconnect` now (a late delivery)."""
        with self._lock:
            event = self.held.pop(connection_id)
        route = self.routes.routes["$disconnect"]
        return self._run(route, event, connection_id)[0]

    async def _watch(self, live: Live) -> None:
        """API Gateway's limits: idle timeout (no message either way) and maximum connection lifetime, both
        closing with 1001 "Going away"."""
        step = max(0.05, min(self.idle_timeout, self.max_lifetime) / 10)
        while True:
            await asyncio.sleep(step)
            if live.closing is not None:  # already closing (DeleteConnection): its close code stands
                return
            now = time.monotonic()
            if now - live.last_traffic >= self.idle_timeout or now - live.started >= self.max_lifetime:
                self._close(live, 1001, "Going away")
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

    def invocations(self) -> Dict[str, int]:
        """Lambda invocations per route key, all connections together."""
        with self._lock:
            return invocation_totals(self.stats)

    # --- @connections (LiveConnections for ConnectionsApi) -------------------------------------------

    def live_ids(self) -> Set[str]:
        with self._lock:
            return set(self._live)

    def _get(self, connection_id: str) -> Optional[Live]:
        with self._lock:
            return self._live.get(connection_id)

    def describe(self, connection_id: str) -> Optional[Dict[str, object]]:
        """GetConnection: connectedAt, lastActiveAt (the last client message), identity (sourceIp and
        userAgent only: never the IAM identity or the authorizer context)."""
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
            self._call(self._send(live, data.decode("utf-8", "replace")), timeout=10)
        except ConnectionClosed:
            return False
        if self.post_is_activity:
            live.last_active_epoch = time.time()
        return True

    def delete(self, connection_id: str) -> bool:
        """DeleteConnection: API Gateway closes the socket and sends `$disconnect` with 1000 "Connection
        Closed Normally" (observed in execution logs; the code the client sees is assumed to be 1000 too)."""
        with self._lock:
            live = self._live.get(connection_id)
            if live is None or live.closing is not None:
                return False
        self._close(live, 1000, "Connection Closed Normally")
        asyncio.run_coroutine_threadsafe(live.ws.close(1000), self._loop)
        return True

    def _close(self, live: Live, code: int, reason: str) -> None:
        """The gateway closes a connection: @connections answers 410 for it from now on, while the close
        handshake runs (up to close_timeout for a client that does not answer: a silent host)."""
        live.closing = (code, reason)
        with self._lock:
            self._live.pop(live.info.connection_id, None)
