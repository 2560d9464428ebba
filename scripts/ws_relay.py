"""A TCP relay between one WebSocket client and the local gateway, to play a host that goes silent.

A host that loses power or its network sends nothing more, not even a close frame or a TCP reset; the
gateway's socket stays open and only a liveness check (a heartbeat deadline, GetConnection's
LastActiveAt, the idle timeout) can tell. The client connects to the relay, the relay to the gateway.
`silence()` makes the relay drop every byte from then on, both ways, and close nothing: the gateway's
frames (and its eventual close) never reach the client, the client's frames (heartbeats included)
never reach the gateway. `abort()` resets both sides (used when the stack stops).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import List


class Relay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._silent = threading.Event()
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name=f"relay-{self.port}", daemon=True).start()

    @property
    def silent(self) -> bool:
        return self._silent.is_set()

    def url(self, path: str) -> str:
        """ws://127.0.0.1:<relay port><path>: what the client opens instead of the gateway's URL."""
        return f"ws://127.0.0.1:{self.port}{path}"

    def silence(self) -> None:
        self._silent.set()

    def _accept(self) -> None:
        try:
            downstream, _ = self._listener.accept()
        except OSError:
            return  # closed before a client came
        finally:
            self._listener.close()
        upstream = socket.create_connection(self.upstream)
        with self._lock:
            self._sockets += [downstream, upstream]
        threading.Thread(target=self._pump, args=(downstream, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, downstream), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                if not self.silent:  # a silent host does not learn that the other side closed
                    self._shutdown(target)
                return
            if self.silent:
                continue
            try:
                target.sendall(data)
            except OSError:
                return

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Reset both connections (SO_LINGER 0): nothing waits for a close handshake."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()
            except OSError:
                pass
        with contextlib.suppress(OSError):
            self._listener.close()


def relay_for(url: str) -> tuple[Relay, str]:
    """A relay in front of a ws://127.0.0.1:<port>/<path> URL; (the relay, the URL to open instead)."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    relay = Relay(host, int(port))
    return relay, relay.url("/" + path)
