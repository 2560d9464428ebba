"""Local servers for tests, the demo and benchmarks: a moto server and a fake @connections endpoint.

Both bind 127.0.0.1 on a free port and are stopped by the pid/handle that started them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, Optional, Set


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed: run `make tools`")
    return found


@contextmanager
def moto_server(log_path: Optional[Path] = None) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its URL; stop it by its pid."""
    port = free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback URL
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url} (exit code {proc.poll()})") from None
                time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


class FakeConnections:
    """A stand-in for API Gateway's @connections endpoint (GetConnection only).

    Ids in `gone` answer 410 GoneException exactly as API Gateway does; ids in `throttled` answer
    429 LimitExceededException; anything else is alive. `calls` counts requests per id.
    """

    def __init__(self) -> None:
        self.gone: Set[str] = set()
        self.throttled: Set[str] = set()
        self.calls: Dict[str, int] = {}
        self.lock = threading.Lock()


@contextmanager
def fake_connections_endpoint(stage: str = "live") -> Iterator[tuple[str, FakeConnections]]:
    """Serve GET /<stage>/@connections/<id> on a free loopback port; yield (endpoint URL, state)."""
    state = FakeConnections()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            prefix = f"/{stage}/@connections/"
            if not self.path.startswith(prefix):
                self._reply(404, "NotFoundException", {"message": "Not Found"})
                return
            connection_id = urllib.parse.unquote(self.path[len(prefix) :])
            with state.lock:
                state.calls[connection_id] = state.calls.get(connection_id, 0) + 1
            if connection_id in state.gone:
                self._reply(410, "GoneException", {"message": None})
            elif connection_id in state.throttled:
                self._reply(429, "LimitExceededException", {"message": "Rate exceeded"})
            else:
                now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                body = {"connectedAt": now, "lastActiveAt": now, "identity": {"sourceIp": "192.0.2.10"}}
                self._reply(200, None, body)

        def _reply(self, status: int, error_type: Optional[str], body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{stage}", state
    finally:
        server.shutdown()
        server.server_close()
