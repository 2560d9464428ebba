"""Run an AgentClient on an event loop of its own, in a daemon thread: for programs that are not
asyncio (and for the repository's demo and tests, which drive several agents at once)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Optional, TypeVar

from remediation_agent.client import AgentClient

T = TypeVar("T")


class BackgroundAgent:
    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self.error: Optional[BaseException] = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=f"agent-{client.name}", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.client.run())
        except BaseException as exc:  # noqa: BLE001 - kept for the caller: the thread has nobody else to tell
            self.error = exc
        finally:
            self._loop.close()

    def start(self) -> BackgroundAgent:
        self._thread.start()
        return self

    def call(self, function: Callable[[AgentClient], T], timeout: float = 10) -> T:
        """Run `function(client)` on the client's loop (its state is not thread-safe) and return its result."""

        async def run() -> T:
            return function(self.client)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def wait_connected(self, timeout: float = 30) -> None:
        """Block until the client has an open connection; TimeoutError otherwise."""
        future = asyncio.run_coroutine_threadsafe(self.client.wait_connected(), self._loop)
        try:
            future.result(timeout)
        except Exception as exc:
            future.cancel()
            raise TimeoutError(f"{self.client.name}: not connected within {timeout} s") from exc

    def stop(self, timeout: float = 30) -> None:
        """Close with 1000 and wait for run() to return."""
        if self._thread.is_alive():
            self.client.stop()
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.client.name}: still running {timeout} s after stop()")
        if self.error is not None:
            raise self.error

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> BackgroundAgent:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
