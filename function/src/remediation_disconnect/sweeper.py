"""Abnormal-termination cleanup: API Gateway delivers `$disconnect` only best-effort.

Each scheduled run scans the table (parallel-scan segments, rotating with the schedule so that a table
too large for one run is still covered every `scan_segments` runs) and removes:
  expired  items past their TTL or older than the 2-hour connection limit plus grace, with
           BatchWriteItem (25 per request, UnprocessedItems retried with backoff);
  gone     younger items for which @connections GetConnection answers GoneException (optional probe),
           with a conditional DeleteItem so a concurrent change is never clobbered.
Work is bounded by an item budget and by the Lambda's remaining time. Deletes are idempotent, so runs
may overlap with each other and with the `$disconnect` handler.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from .agents import OfflineNotice, OfflinePublisher, has_live_connection
from .config import Settings
from .contract import CLIENT_TYPES, MAX_CONNECTION_SECONDS
from .store import PAGE_SIZE, Connection, ConnectionStore
from .telemetry import MetricGroup, Telemetry

ALIVE, GONE, ERROR = "alive", "gone", "error"
MIN_RESERVE_MS = 3000


class ManagementClient(Protocol):
    exceptions: Any

    def get_connection(self, **kwargs: Any) -> Dict[str, Any]: ...


class Prober:
    """GetConnection on the API's @connections endpoint, a few at a time."""

    def __init__(self, client: ManagementClient, concurrency: int) -> None:
        self.client = client
        self.concurrency = concurrency

    def probe(self, connection_id: str) -> Tuple[str, Optional[str]]:
        try:
            self.client.get_connection(ConnectionId=connection_id)
            return ALIVE, None
        # GoneException is a modeled error and so a ClientError subclass: it must be caught first.
        except self.client.exceptions.GoneException:
            return GONE, None
        except ClientError as exc:
            return ERROR, str(exc.response.get("Error", {}).get("Code") or "ClientError")
        except BotoCoreError as exc:
            return ERROR, type(exc).__name__

    def probe_all(self, connection_ids: List[str]) -> List[Tuple[str, Optional[str]]]:
        if len(connection_ids) <= 1 or self.concurrency == 1:
            return [self.probe(cid) for cid in connection_ids]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(connection_ids))) as pool:
            return list(pool.map(self.probe, connection_ids))


class SweepReport:
    __slots__ = (
        "active",
        "agents_offline",
        "complete",
        "events_failed",
        "examined",
        "expired",
        "gone",
        "probe_errors",
        "probed",
        "raced",
        "segments_done",
        "segments_total",
        "stopped_by",
        "unprocessed",
    )

    def __init__(self, segments_total: int) -> None:
        self.examined = 0
        self.expired = 0
        self.gone = 0
        self.probed = 0
        self.probe_errors = 0
        self.raced = 0
        self.unprocessed = 0
        self.agents_offline: Dict[str, int] = {"expired": 0, "gone": 0}
        self.events_failed = 0
        self.segments_total = segments_total
        self.segments_done = 0
        self.complete = False
        self.active: Dict[str, int] = {}
        self.stopped_by: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {
            "examined": self.examined,
            "removedExpired": self.expired,
            "removedGone": self.gone,
            "probed": self.probed,
            "probeErrors": self.probe_errors,
            "alreadyRemoved": self.raced,
            "unprocessed": self.unprocessed,
            "agentsOffline": dict(self.agents_offline),
            "eventsFailed": self.events_failed,
            "segments": f"{self.segments_done}/{self.segments_total}",
            "complete": self.complete,
            "activeConnections": dict(self.active),
            "stoppedBy": self.stopped_by,
        }


class Sweeper:
    def __init__(
        self,
        store: ConnectionStore,
        settings: Settings,
        telemetry: Telemetry,
        prober: Optional[Prober] = None,
        publisher: Optional[OfflinePublisher] = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.telemetry = telemetry
        self.prober = prober
        self.publisher = publisher
        self.max_age = MAX_CONNECTION_SECONDS + settings.grace_seconds

    def run(self, now: float, remaining_ms: Callable[[], int], scheduled_at: Optional[float] = None) -> SweepReport:
        total = self.settings.scan_segments
        report = SweepReport(total)
        reserve_ms = max(MIN_RESERVE_MS, remaining_ms() // 10)

        def out_of_budget() -> Optional[str]:
            if report.examined >= self.settings.max_items_per_run:
                return "item budget"
            return "time budget" if remaining_ms() < reserve_ms else None

        # Rotate the first segment with the schedule: run n starts at segment n mod total, so a table
        # too large for one run is still covered every `total` runs.
        first = int((scheduled_at if scheduled_at is not None else now) // self.settings.rate_seconds) % total
        removed_ids: Set[str] = set()
        announced: Set[str] = set()

        def page_size() -> int:
            return min(PAGE_SIZE, self.settings.max_items_per_run - report.examined)

        for offset in range(total):
            for page, last_page in self.store.scan_segment((first + offset) % total, total, page_size):
                report.examined += len(page)
                removed = self._sweep_page(page, now, report)
                removed_ids.update(connection.connection_id for connection, _ in removed)
                self._announce(removed, removed_ids, announced, now, report)
                if not last_page:
                    report.stopped_by = out_of_budget()
                if report.stopped_by:
                    break
            if report.stopped_by:
                break
            report.segments_done += 1
            if offset + 1 < total:
                report.stopped_by = out_of_budget()
                if report.stopped_by:
                    break
        report.complete = report.segments_done == total
        self._emit(report)
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
            if connection.expired(now, self.max_age):
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
                {"connectionId": connection.connection_id, "reason": reason, "abnormal": True, **connection.to_log()},
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

    def _announce(
        self,
        removed: List[Tuple[Connection, str]],
        removed_ids: Set[str],
        announced: Set[str],
        now: float,
        report: SweepReport,
    ) -> None:
        """Offline notices for agents whose last connection this run removed (once per agent)."""
        index = self.settings.agent_index
        if not index or not removed:
            return
        notices: List[OfflineNotice] = []
        for connection, reason in removed:
            agent_id = connection.agent_id
            if not connection.is_agent or agent_id is None or agent_id in announced:
                continue
            try:
                if has_live_connection(self.store, index, agent_id, removed_ids, now, self.max_age):
                    continue
            except (ClientError, BotoCoreError) as exc:
                self.telemetry.log(
                    "ERROR", "agent status check failed", {"agentId": agent_id, "error": type(exc).__name__}
                )
                continue
            announced.add(agent_id)
            report.agents_offline[reason] += 1
            notices.append(
                OfflineNotice(
                    agent_id=agent_id,
                    connection_id=connection.connection_id,
                    reason=reason,
                    status_code=None,
                    connected_at_ms=connection.connected_at_ms,
                    duration_seconds=None,
                    abnormal=True,
                    api_id=None,
                    stage=None,
                )
            )
            self.telemetry.log(
                "WARNING",
                "agent offline",
                {"agentId": agent_id, "connectionId": connection.connection_id, "reason": reason, "abnormal": True},
            )
        if notices and self.publisher is not None:
            failed, error = self.publisher.deliver(notices)
            if error:
                self.telemetry.log("ERROR", "offline events not sent", {"error": error})
            if failed:
                report.events_failed += len(failed)
                self.telemetry.log("ERROR", "offline events not delivered", {"agentIds": failed[:50]})

    def _emit(self, report: SweepReport) -> None:
        telemetry = self.telemetry
        summary: List[MetricGroup] = []
        if self.prober is not None:
            summary.append(MetricGroup({}, [("ProbeErrors", "Count", report.probe_errors)]))
        telemetry.log("INFO" if report.complete else "WARNING", "sweep finished", report.as_dict(), summary)
        reasons = ("expired", "gone") if self.prober is not None else ("expired",)
        for reason in reasons:
            metrics = [("StaleConnectionsRemoved", "Count", float(getattr(report, reason)))]
            if self.settings.agent_index:
                metrics.append(("AgentsOffline", "Count", float(report.agents_offline[reason])))
            telemetry.log("DEBUG", "sweep metrics", {"reason": reason}, [MetricGroup({"Reason": reason}, metrics)])
        if report.complete:
            # Only a run that saw every segment knows the totals; a partial count would mislead.
            labels = set(CLIENT_TYPES) | set(report.active)
            for label in sorted(labels):
                telemetry.log(
                    "DEBUG",
                    "active connections",
                    {"clientType": label},
                    [MetricGroup({"ClientType": label}, [("ActiveConnections", "Count", report.active.get(label, 0))])],
                )
