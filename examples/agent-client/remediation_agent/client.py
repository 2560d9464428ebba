"""The agent's side of the client contract (docs/client-contract.md), on asyncio.

`AgentClient(url_source, config).run()` keeps one connection open until `stop()`:
- every `heartbeat_interval` (±10 %) it sends `{"action": "<heartbeat route key>"}` as a data frame:
  API Gateway answers it from a MOCK integration (no Lambda, no reply); it keeps the connection out of
  the idle timeout and tells the presence checker the host is alive (GetConnection's LastActiveAt).
  WebSocket ping frames would do neither, so the library's own keepalive pings stay off unless asked;
- `renew_after` (1 h 55 min) after a connection opened it opens the next one and only then closes the
  old one with 1000 (make-before-break: the agent never has zero connections, presence sees no gap);
- when the connection closes without being asked to, it reconnects: at once after 1001 (API Gateway's
  idle timeout or 2-hour limit, a deployment), else after a full-jitter exponential backoff (0.5 s
  base, 30 s cap), reset once a connection stayed up `backoff_reset_after` seconds; every reconnect
  attempt reports `downMs`, the milliseconds since the lost connection closed (a monotonic duration: no
  clock skew), so presence announces an outage longer than its grace even when API Gateway's
  `$disconnect` for the lost connection comes late or never;
- `stop()` closes the connection with 1000 and returns.
Every step is one JSON log line (logs.py); `links` keeps what happened to each connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, List, Optional, Set, Union

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from remediation_agent.logs import LOGGER
from remediation_agent.policy import DEFAULT_RENEW_AFTER, Backoff, jittered, renewal_delay
from remediation_agent.urls import UrlSource

NORMAL_CLOSURE, GOING_AWAY, ABNORMAL_CLOSURE = 1000, 1001, 1006
DOWN_MS = "downMs"  # the reconnect report's query parameter (docs/client-contract.md)
Message = Union[str, bytes]
OnMessage = Callable[[Message], Optional[Awaitable[None]]]


@dataclass(frozen=True)
class ClientConfig:
    heartbeat_interval: float = 30.0  # seconds; presence.heartbeat.interval_seconds
    heartbeat_jitter: float = 0.10  # fraction of the interval, each way
    heartbeat_route_key: Optional[str] = "heartbeat"  # None: no heartbeats (the idle timeout applies)
    route_selection_field: str = "action"  # the API's route selection expression: $request.body.action
    renew_after: Optional[float] = DEFAULT_RENEW_AFTER  # seconds after opening; None: never renew
    renew_jitter: float = 60.0  # renew up to this many seconds earlier (spreads a fleet)
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    backoff_reset_after: float = 60.0  # a connection up this long resets the backoff
    open_timeout: float = 30.0  # the handshake, `$connect` integration included (API Gateway: 29 s)
    close_timeout: float = 5.0  # how long a close waits for the server's close frame
    ws_ping_interval: Optional[float] = None  # websockets keepalive pings: off (see the README)
    user_agent: str = "remediation-agent-client/1.0"

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0 or not 0 <= self.heartbeat_jitter < 1:
            raise ValueError("heartbeat_interval must be > 0 and heartbeat_jitter in [0, 1)")
        if self.renew_after is not None and self.renew_after <= 0:
            raise ValueError("renew_after must be > 0 (or None: never renew)")


@dataclass
class LinkRecord:
    """What the client knows about one of its connections (the server's connectionId it is not told)."""

    number: int
    purpose: str  # "connect" (the first), "reconnect", "renewal"
    opened_at: float  # epoch seconds, when the handshake completed
    opened_mono: float
    handshake_seconds: float
    closed_at: Optional[float] = None
    close_code: Optional[int] = None
    close_reason: str = ""
    closed_by: Optional[str] = None  # "client" (renewal, stop), "server" (a close frame), "network" (1006)
    closed_mono: Optional[float] = None
    heartbeats: int = 0
    messages: int = 0

    @property
    def uptime(self) -> Optional[float]:
        return None if self.closed_at is None else self.closed_at - self.opened_at


class _Link:
    def __init__(self, record: LinkRecord, ws: ClientConnection) -> None:
        self.record = record
        self.ws = ws
        self.closing_by_client = False
        self.reader: Optional[asyncio.Task[None]] = None
        self.heart: Optional[asyncio.Task[None]] = None


class AgentClient:
    def __init__(
        self,
        url_source: Union[UrlSource, Callable[[], str]],
        config: Optional[ClientConfig] = None,
        *,
        name: str = "agent",
        on_message: Optional[OnMessage] = None,
        rng: Optional[random.Random] = None,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        self.url_source = url_source
        self._reports = _takes_extra(url_source)  # a zero-argument source (before 1.1) gets no downMs
        self.config = config or ClientConfig()
        self.name = name
        self.on_message = on_message
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.log = logger or logging.getLogger(LOGGER)
        self.links: List[LinkRecord] = []
        self.current: Optional[_Link] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._connected: Optional[asyncio.Event] = None
        self._closers: Set[asyncio.Task[None]] = set()

    # --- public -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to close the connection with 1000 and return (thread-safe; a no-op once it returned)."""
        loop, stop = self.loop, self._stop
        if loop is None or stop is None:
            return
        # RuntimeError: the loop is closed, run() has returned and there is nothing left to stop.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    async def wait_connected(self) -> None:
        while self._connected is None:
            await asyncio.sleep(0.01)
        await self._connected.wait()

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop, self._connected = asyncio.Event(), asyncio.Event()
        config = self.config
        backoff = Backoff(config.backoff_base, config.backoff_cap, self.rng)
        immediate, going_away_retry_used, purpose = True, False, "connect"
        down_since: Optional[float] = None  # monotonic: when the connection lost last closed
        try:
            while not self._stop.is_set():
                if not immediate:
                    delay = backoff.next_delay()
                    self._emit(logging.INFO, "reconnect scheduled", delaySeconds=round(delay, 3), retry=backoff.retries)
                    if await self._stopped_within(delay):
                        break
                immediate = False
                link = await self._open(purpose, down_since)
                purpose = "reconnect"
                if link is None:
                    continue
                chain_started = link.record.opened_mono
                last = await self._hold(link)
                if last is None:
                    break
                down_since = last.closed_mono
                if time.monotonic() - chain_started >= config.backoff_reset_after:
                    backoff.reset()
                    going_away_retry_used = False
                if last.close_code == GOING_AWAY and not going_away_retry_used:
                    # API Gateway's idle timeout or 2-hour limit: come back before presence's grace ends.
                    immediate, going_away_retry_used = True, True
                    self._emit(logging.INFO, "reconnecting at once after 1001", link=last.number)
        finally:
            await self._shutdown()
        self._emit(logging.INFO, "stopped", links=len(self.links))

    # --- one connection -------------------------------------------------------------------------------

    async def _open(self, purpose: str, down_since: Optional[float] = None) -> Optional[_Link]:
        config = self.config
        extra = {}
        if down_since is not None:  # a reconnect: how long this agent has had no connection (contract)
            extra[DOWN_MS] = str(max(0, int((time.monotonic() - down_since) * 1000)))
        try:
            # Signing may refresh credentials: off the loop.
            source: Callable[..., str] = self.url_source
            url = await asyncio.to_thread(source, extra) if self._reports else await asyncio.to_thread(source)
        except Exception as exc:  # noqa: BLE001 - reported, then retried with backoff like any failed attempt
            self._emit(logging.ERROR, "cannot build the connection URL", purpose=purpose, error=repr(exc))
            return None
        target = _redacted(url)
        started = time.monotonic()
        try:
            ws = await connect(
                url,
                user_agent_header=config.user_agent,
                open_timeout=config.open_timeout,
                close_timeout=config.close_timeout,
                ping_interval=config.ws_ping_interval,
                ping_timeout=config.ws_ping_interval,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            why = "signature, credentials or IAM policy refused" if status == 403 else "handshake refused"
            self._emit(logging.ERROR, "connect refused", purpose=purpose, url=target, httpStatus=status, why=why)
            return None
        except (OSError, asyncio.TimeoutError, WebSocketException) as exc:
            self._emit(logging.WARNING, "connect failed", purpose=purpose, url=target, error=repr(exc))
            return None
        now = time.monotonic()
        record = LinkRecord(len(self.links) + 1, purpose, time.time(), now, now - started)
        self.links.append(record)
        link = _Link(record, ws)
        link.reader = asyncio.ensure_future(self._read(link))
        link.heart = asyncio.ensure_future(self._beat(link))
        self._emit(
            logging.INFO,
            "connected",
            link=record.number,
            purpose=purpose,
            url=target,
            handshakeMs=round(record.handshake_seconds * 1000, 1),
        )
        return link

    async def _read(self, link: _Link) -> None:
        try:
            async for message in link.ws:
                link.record.messages += 1
                await self._deliver(link, message)
        except ConnectionClosed:
            pass
        finally:
            if link.heart is not None:
                link.heart.cancel()
        record = link.record
        record.closed_at, record.closed_mono = time.time(), time.monotonic()
        record.close_code = link.ws.close_code if link.ws.close_code is not None else ABNORMAL_CLOSURE
        record.close_reason = link.ws.close_reason or ""
        record.closed_by = (
            "client" if link.closing_by_client else "network" if record.close_code == ABNORMAL_CLOSURE else "server"
        )
        level = logging.INFO if record.closed_by == "client" or record.close_code == GOING_AWAY else logging.WARNING
        self._emit(
            level,
            "connection closed",
            link=record.number,
            closeCode=record.close_code,
            closeReason=record.close_reason,
            closedBy=record.closed_by,
            uptimeSeconds=round(record.uptime or 0.0, 3),
            heartbeats=record.heartbeats,
        )

    async def _deliver(self, link: _Link, message: Message) -> None:
        if self.on_message is None:
            self._emit(logging.DEBUG, "message received", link=link.record.number, size=len(message))
            return
        try:
            result = self.on_message(message)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - the application's handler must not take the connection down
            self._emit(logging.ERROR, "message handler failed", link=link.record.number, error=repr(exc))

    async def _beat(self, link: _Link) -> None:
        config = self.config
        if not config.heartbeat_route_key:
            return
        body = json.dumps({config.route_selection_field: config.heartbeat_route_key}, separators=(",", ":"))
        while True:
            await asyncio.sleep(jittered(config.heartbeat_interval, config.heartbeat_jitter, self.rng))
            try:
                await link.ws.send(body)
            except ConnectionClosed:
                return
            link.record.heartbeats += 1
            self._emit(logging.DEBUG, "heartbeat sent", link=link.record.number, n=link.record.heartbeats)

    async def _close(self, link: _Link, reason: str) -> None:
        link.closing_by_client = True
        await link.ws.close(NORMAL_CLOSURE, reason)
        if link.reader is not None:
            await link.reader

    # --- a chain of connections, renewed before API Gateway's 2-hour limit ----------------------------

    async def _hold(self, link: _Link) -> Optional[LinkRecord]:
        """Keep `link` (and its successors) until one closes unasked (its record) or stop() (None)."""
        assert self._stop is not None  # noqa: S101 - set by run()
        assert self._connected is not None  # noqa: S101 - set by run()
        current = link
        self.current = current
        self._connected.set()
        renew_at = self._renewal_deadline(current)
        while True:
            wait: Set[asyncio.Future[Any]] = {current.reader, asyncio.ensure_future(self._stop.wait())}  # type: ignore[arg-type]
            if renew_at is not None:
                wait.add(asyncio.ensure_future(asyncio.sleep(max(0.0, renew_at - time.monotonic()))))
            await asyncio.wait(wait, return_when=asyncio.FIRST_COMPLETED)
            for future in wait:
                if future is not current.reader:
                    future.cancel()
            if self._stop.is_set():
                return None
            assert current.reader is not None  # noqa: S101 - started by _open
            if current.reader.done():
                self._connected.clear()
                self.current = None
                return current.record
            successor = await self._renew(current)
            if successor is None:
                continue  # stopped, or the old connection closed meanwhile: handled at the top
            old, current = current, successor
            self.current = current
            renew_at = self._renewal_deadline(current)
            closer = asyncio.ensure_future(self._retire(old, current))
            self._closers.add(closer)
            closer.add_done_callback(self._closers.discard)

    def _renewal_deadline(self, link: _Link) -> Optional[float]:
        config = self.config
        if config.renew_after is None:
            return None
        return link.record.opened_mono + renewal_delay(config.renew_after, config.renew_jitter, self.rng)

    async def _renew(self, current: _Link) -> Optional[_Link]:
        """Open the successor of `current` while it is still up; retry with backoff until it closes."""
        assert self._stop is not None  # noqa: S101 - set by run()
        assert current.reader is not None  # noqa: S101 - started by _open
        backoff = Backoff(self.config.backoff_base, self.config.backoff_cap, self.rng)
        self._emit(
            logging.INFO,
            "renewing: opening the next connection before the 2-hour limit",
            link=current.record.number,
            ageSeconds=round(time.monotonic() - current.record.opened_mono, 3),
        )
        while not self._stop.is_set() and not current.reader.done():
            successor = await self._open("renewal")
            if successor is not None:
                return successor
            pause: Set[asyncio.Future[Any]] = {
                current.reader,
                asyncio.ensure_future(self._stop.wait()),
                asyncio.ensure_future(asyncio.sleep(backoff.next_delay())),
            }
            await asyncio.wait(pause, return_when=asyncio.FIRST_COMPLETED)
            for future in pause:
                if future is not current.reader:
                    future.cancel()
        return None

    async def _retire(self, old: _Link, new: _Link) -> None:
        """Close the renewed connection with 1000 once its successor is open."""
        await self._close(old, "renewed")
        closed = old.record.closed_at or time.time()
        self._emit(
            logging.INFO,
            "renewed",
            old=old.record.number,
            new=new.record.number,
            overlapMs=round((closed - new.record.opened_at) * 1000, 1),
        )

    # --- stopping -----------------------------------------------------------------------------------

    async def _stopped_within(self, seconds: float) -> bool:
        assert self._stop is not None  # noqa: S101 - set by run()
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _shutdown(self) -> None:
        if self.current is not None and self.current.record.closed_at is None:
            self._emit(logging.INFO, "stopping: closing with 1000", link=self.current.record.number)
            await self._close(self.current, "client stopping")
        self.current = None
        if self._connected is not None:
            self._connected.clear()
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    def _emit(self, level: int, message: str, **fields: Any) -> None:
        fields = {"agent": self.name, **fields}
        self.log.log(level, message, extra={"fields": fields})


def _takes_extra(source: Any) -> bool:
    """Whether `source` accepts the attempt's extra query parameters (one positional argument)."""
    try:
        parameters = inspect.signature(source).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): assume the current protocol
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _redacted(url: str) -> str:
    """The URL without its query (a presigned URL's query is a credential for its lifetime)."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(query="", fragment="").geturl()
