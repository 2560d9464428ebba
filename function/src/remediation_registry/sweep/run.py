"""One scheduled sweep run: the Sweeper, its concurrent scan of the pass's segments, and handle()."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, cast

from botocore.exceptions import BotoCoreError, ClientError

from ..config import Settings
from ..contract import MAX_CONNECTION_SECONDS
from ..management import ERROR, GONE, Prober
from ..store import Connection, ConnectionStore, for_log
from ..telemetry import MetricGroup, Telemetry
from .position import PassState, PositionClient, PositionStore
from .report import SweepReport, emit
from .store import PAGE_SIZE, Page, SweepStore
from .store import expired as is_expired

if TYPE_CHECKING:
    from ..runtime import Runtime

MIN_RESERVE_MS = 3000
MAX_SCAN_THREADS = 16  # segments scanned at once in one run

# With presence: (an agent connection the run removed, why, now in epoch seconds) -> the presence
# outcome ("offline" when it was the agent's last: T4). Raises the store's errors.
Tracker = Callable[[Connection, str, float], str]


class Sweeper:
    def __init__(
        self,
        store: ConnectionStore,
        settings: Settings,
        telemetry: Telemetry,
        prober: Optional[Prober] = None,
        presence: Optional[Tracker] = None,
    ) -> None:
        if not isinstance(store, SweepStore):
            store = SweepStore(store.client, store.table_name, store.ttl_attribute, store.sleep)
        self.store: SweepStore = store
        self.settings = settings
        self.telemetry = telemetry
        self.prober = prober
        self.presence = presence
        self.max_age = MAX_CONNECTION_SECONDS + settings.grace_seconds

    def run(self, now: float, remaining_ms: Callable[[], int]) -> SweepReport:
        report = SweepReport()
        reserve_ms = max(MIN_RESERVE_MS, remaining_ms() // 10)
        # The sweeper's client is botocore's DynamoDB client, which has GetItem and PutItem too.
        positions = PositionStore(cast(PositionClient, self.store.client), self.store.table_name)
        segments = self.settings.scan_segments
        try:
            loaded = positions.load(segments, now)
            state, version, report.position = loaded.state, loaded.version, loaded.origin
            can_save = True
        except (ClientError, BotoCoreError) as exc:
            # Without the saved position this run scans from the start and saves nothing: at worst it
            # repeats what the current pass already read.
            self.telemetry.log("ERROR", "scan position not read", {"error": type(exc).__name__})
            state, version, report.position, can_save = PassState(1, segments, now), None, "unavailable", False

        _Scan(self, state, report, now, lambda: remaining_ms() < reserve_ms).run(self.settings.max_items_per_run)

        state.runs += 1
        for label, count in report.active.items():
            state.active[label] = state.active.get(label, 0) + count
        report.complete = state.complete
        report.pass_progress = state.progress()
        finished = state
        if state.complete:
            state = state.next_pass(now)
        saved = False
        try:
            saved = can_save and positions.save(state, version)
            if can_save and not saved:
                self.telemetry.log(
                    "WARNING",
                    "scan position kept: an overlapping run saved first",
                    {"pass": report.pass_progress},
                )
        except (ClientError, BotoCoreError) as exc:
            # The next run repeats this run's part of the pass: nothing is lost but time.
            report.position = "not saved"
            self.telemetry.log("ERROR", "scan position not saved", {"error": type(exc).__name__})
        pass_active = finished.active if report.complete and saved else None
        emit(self.telemetry, report, self.prober is not None, pass_active)
        return report

    def _classify(
        self, page: List[Connection], now: float
    ) -> Tuple[List[Connection], List[Connection], List[Connection]]:
        """Split a page into (expired, to probe, live)."""
        expired: List[Connection] = []
        to_probe: List[Connection] = []
        live: List[Connection] = []
        min_age = self.settings.probe_min_age_seconds
        for connection in page:
            if is_expired(connection, now, self.max_age):
                expired.append(connection)
            elif self.prober is not None and (
                connection.connected_at_ms is None or now - connection.connected_at_ms / 1000.0 >= min_age
            ):
                to_probe.append(connection)
            else:
                live.append(connection)
        return expired, to_probe, live

    def _sweep_page(self, page: List[Connection], now: float, report: SweepReport) -> List[Tuple[Connection, str]]:
        expired, to_probe, live = self._classify(page, now)
        removed: List[Tuple[Connection, str]] = []
        if expired:
            by_id = {connection.connection_id: connection for connection in expired}
            result = self.store.batch_delete(by_id)
            report.expired += len(result.deleted)
            report.unprocessed += len(result.unprocessed)
            removed.extend((by_id[cid], "expired") for cid in result.deleted)
        if to_probe and self.prober is not None:
            removed.extend(self._probe(self.prober, to_probe, live, report))
        for connection in live:
            label = connection.client_label
            report.active[label] = report.active.get(label, 0) + 1
        for connection, reason in removed:
            self.telemetry.log(
                "INFO",
                "stale connection removed",
                {
                    "connectionId": for_log(connection.connection_id),
                    "reason": reason,
                    "abnormal": True,
                    **connection.to_log(),
                },
            )
        return removed

    def _probe(
        self, prober: Prober, to_probe: List[Connection], live: List[Connection], report: SweepReport
    ) -> List[Tuple[Connection, str]]:
        """Remove the connections API Gateway reports gone; keep (and count as live) everything else."""
        report.probed += len(to_probe)
        outcomes = prober.probe_all([connection.connection_id for connection in to_probe])
        removed: List[Tuple[Connection, str]] = []
        errors: Dict[str, int] = {}
        for connection, (status, error) in zip(to_probe, outcomes):
            if status == GONE:
                if self.store.delete_if_unchanged(connection) is None:
                    report.raced += 1  # the `$disconnect` handler (or another sweep) got there first
                else:
                    report.gone += 1
                    removed.append((connection, "gone"))
                continue
            if status == ERROR:
                report.probe_errors += 1
                errors[error or "unknown"] = errors.get(error or "unknown", 0) + 1
            live.append(connection)  # alive, or unknown after an error: keep it
        if errors:
            self.telemetry.log("WARNING", "connection probes failed; items kept", {"errors": errors})
        return removed

    def _track(self, removed: List[Tuple[Connection, str]], now: float, report: SweepReport) -> None:
        """Presence T4 for the agent connections this run removed; a failure is logged, the sweep goes on
        (the connection's probe chain or the reconciler repairs presence)."""
        if self.presence is None:
            return
        for connection, reason in removed:
            if not connection.is_agent or connection.agent_id is None:
                continue
            try:
                outcome = self.presence(connection, reason, now)
            except (ClientError, BotoCoreError) as exc:
                report.presence_errors += 1
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
                fields = {
                    "agentId": for_log(connection.agent_id),
                    "connectionId": for_log(connection.connection_id),
                    "step": reason,
                    "errorCode": code or type(exc).__name__,
                }
                metric = MetricGroup({}, [("PresenceErrors", "Count", 1)])
                self.telemetry.log("ERROR", "agent presence not recorded", fields, [metric])
                continue
            if outcome == "offline":
                report.agents_offline[reason] += 1


class _Scan:
    """One run's share of a pass: the unfinished segments, by up to MAX_SCAN_THREADS workers that split
    the item budget (a worker that runs out hands its segment back; one that runs out of segments hands
    its budget over), so a run examines its whole budget unless the pass ends or time runs out."""

    def __init__(
        self, sweeper: Sweeper, state: PassState, report: SweepReport, now: float, late: Callable[[], bool]
    ) -> None:
        self.sweeper = sweeper
        self.state = state
        self.report = report
        self.now = now
        self.late = late
        self.lock = threading.Lock()
        self.queue = state.pending()
        self.spare = 0

    def take(self, page: Page, segment: int) -> None:
        """Sweep one page and move the segment's cursor past it (under the lock)."""
        state, report, sweeper = self.state, self.report, self.sweeper
        report.scanned += page.scanned
        report.examined += len(page.connections)
        state.examined += len(page.connections)
        removed = sweeper._sweep_page(page.connections, self.now, report)
        sweeper._track(removed, self.now, report)
        if page.next_key is None:
            state.cursors.pop(segment, None)
            state.done.add(segment)
        else:
            state.cursors[segment] = page.next_key

    def run(self, budget: int) -> None:
        workers = max(1, min(MAX_SCAN_THREADS, len(self.queue)))
        shares = [budget // workers + (1 if n < budget % workers else 0) for n in range(workers)]
        if workers == 1:
            self.worker(shares[0])
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(self.worker, shares))
        if self.report.stopped_by is None and not self.state.complete:
            self.report.stopped_by = "item budget"

    def claim(self, left: int) -> Optional[int]:
        with self.lock:
            if self.queue and self.report.stopped_by is None:
                return self.queue.pop(0)
            self.spare += left
            return None

    def worker(self, allowance: int) -> None:
        """Sweep segments from the queue until this worker's share of the item budget is spent."""
        left = [allowance]
        store, segments = self.sweeper.store, self.state.segments
        while left[0] > 0:
            segment = self.claim(left[0])
            if segment is None:
                return
            cursor = self.state.cursors.get(segment)
            for page in store.scan_segment(segment, segments, lambda: min(PAGE_SIZE, left[0]), cursor):
                left[0] -= page.scanned
                with self.lock:
                    self.take(page, segment)
                    if page.next_key is None:
                        break
                    if left[0] <= 0:
                        left[0], self.spare = self.spare, 0
                    if left[0] <= 0:
                        self.queue.insert(0, segment)  # a worker with budget left may continue it
                        return
                    if self.late():
                        self.report.stopped_by = "time budget"
                        return


def handle(rt: Runtime, context: Any, request_id: Optional[str]) -> Dict[str, Any]:
    """The scheduled run for handlers.sweep (here, so that only the sweeper compiles it)."""
    rt.telemetry.request_id = request_id
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        started = time.monotonic()

        def remaining() -> int:  # outside Lambda (tests, demo): a 60-second budget
            return int(60000 - (time.monotonic() - started) * 1000)

    endpoint = rt.settings.probe_endpoint
    prober = rt.management(endpoint, rt.settings.probe_concurrency) if endpoint else None
    sweeper = Sweeper(rt.store, rt.settings, rt.telemetry, prober, tracker(rt) if rt.settings.presence else None)
    report = sweeper.run(time.time(), remaining)
    return report.as_dict()


def tracker(rt: Runtime) -> Tracker:
    """The sweeper's presence hook: T4 for each agent connection a run removes (presence on only)."""
    from ..presence import hooks  # noqa: PLC0415 - presence only

    def removed(connection: Connection, reason: str, now: float) -> str:
        now_ms, connected_at = int(now * 1000), connection.connected_at_ms
        # The last moment the connection is known to have lived: its 2-hour limit (expired), its start (gone).
        known = connected_at
        if known is not None and reason == "expired":
            known += MAX_CONNECTION_SECONDS * 1000
        since = now_ms if known is None else min(known, now_ms)
        detail = {"connectedAt": connected_at}
        return hooks.dead(rt, str(connection.agent_id), connection.connection_id, reason, since, detail).kind

    return removed
