"""The `@connections` management API of the local WebSocket gateway (scripts/ws_gateway.py).

Serves, on its own loopback port, what boto3's `apigatewaymanagementapi` client calls at
`<endpoint>/<stage>/@connections/<connectionId>`:
  GET     GetConnection     200 {connectedAt, lastActiveAt, identity} for a live connection
  POST    PostToConnection  200; the body is sent to the client as a text frame
  DELETE  DeleteConnection  204; the gateway closes the connection (its $disconnect follows)
and answers 410 GoneException (as API Gateway does) for an id that is not connected. The same server,
with a scripted set of live connections, is the @connections stand-in of the unit and fault tests
(tests/support/servers.py).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional, Protocol, Set, Tuple


class LiveConnections(Protocol):
    """What the gateway offers this API (all thread-safe)."""

    def describe(self, connection_id: str) -> Optional[Dict[str, object]]: ...

    def post(self, connection_id: str, data: bytes) -> bool: ...

    def delete(self, connection_id: str) -> bool: ...


def iso(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds)) + f".{int(epoch_seconds * 1000) % 1000:03d}Z"


class ConnectionsApi:
    """A ThreadingHTTPServer on 127.0.0.1:<port> (0: a free one); `calls` counts (method, id) requests."""

    def __init__(self, stage: str, live: LiveConnections, port: int = 0, throttled: Optional[Set[str]] = None) -> None:
        self.stage = stage
        self.port = port
        # Ids answered 429 LimitExceededException (API Gateway's throttling), for fault tests.
        self.throttled: Set[str] = throttled if throttled is not None else set()
        self.live = live
        self.calls: Dict[Tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def endpoint(self) -> str:
        """The endpoint_url for boto3 (and the sweeper's SWEEP_PROBE_ENDPOINT)."""
        if self._server is None:
            raise RuntimeError("start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.stage}"

    def count(self, method: str, connection_id: str) -> int:
        with self.lock:
            return self.calls.get((method, connection_id), 0)

    def start(self) -> ConnectionsApi:
        api = self
        prefix = f"/{self.stage}/@connections/"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _id(self) -> Optional[str]:
                if not self.path.startswith(prefix):
                    self._reply(403, "ForbiddenException", {"message": "Forbidden"})
                    return None
                connection_id = urllib.parse.unquote(self.path[len(prefix) :])
                with api.lock:
                    key = (self.command, connection_id)
                    api.calls[key] = api.calls.get(key, 0) + 1
                if connection_id in api.throttled:
                    self._reply(429, "LimitExceededException", {"message": "Rate exceeded"})
                    return None
                return connection_id

            def do_GET(self) -> None:
                connection_id = self._id()
                if connection_id is None:
                    return
                described = api.live.describe(connection_id)
                if described is None:
                    self._gone()
                else:
                    self._reply(200, None, described)

            def do_POST(self) -> None:
                connection_id = self._id()
                if connection_id is None:
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                if api.live.post(connection_id, data):
                    self._reply(200, None, None)
                else:
                    self._gone()

            def do_DELETE(self) -> None:
                connection_id = self._id()
                if connection_id is None:
                    return
                if api.live.delete(connection_id):
                    self._reply(204, None, None)
                else:
                    self._gone()

            def _gone(self) -> None:
                self._reply(410, "GoneException", {"message": None})

            def _reply(self, status: int, error_type: Optional[str], body: object) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
