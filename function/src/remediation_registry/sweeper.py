"""Abnormal-termination cleanup: API Gateway delivers `$disconnect` only best-effort.

Each scheduled run continues a pass over the whole table from the position the previous run saved
(one reserved item, written conditionally: see "The scan position" below) and removes:
  expired  items past their TTL or older than the 2-hour connection limit plus grace, with
           BatchWriteItem (25 per request, UnprocessedItems retried with backoff);
  gone     younger items for which @connections GetConnection answers GoneException (optional probe),
           with a conditional DeleteItem so a concurrent change is never clobbered.
Work is bounded by an item budget and by the Lambda's remaining time; a pass of N items therefore
takes ceil(N / budget) runs whatever the table size, and the next run starts the next pass. With
scan_segments > 1 the segments of a pass are scanned concurrently (sharing the run's budget), which
shortens a run, not a pass. ActiveConnections is published when a pass completes, from its counts.
Deletes are idempotent, so runs may overlap with each other and with the `$disconnect` handler.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Protocol,
    Set,
    Tuple,
    cast,
)

from botocore.exceptions import BotoCoreError, ClientError

from .agents import OfflineNotice, OfflinePublisher, has_live_connection
from .config import Settings
from .contract import (
    AGENT_ID,
    CLIENT_TYPE,
    CLIENT_TYPES,
    CONNECTED_AT,
    CONNECTION_ID,
    MAX_CONNECTION_SECONDS,
    POSITION_KEY,
)
from .management import ERROR, GONE, Prober
from .store import Connection, ConnectionStore, for_log
from .telemetry import MetricGroup, Telemetry

if TYPE_CHECKING:
    from .runtime import Runtime

MIN_RESERVE_MS = 3000
MAX_SCAN_THREADS = 16  # segments scanned at once in one run


BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_ATTEMPTS = 6
PAGE_SIZE = 10_000  # items per Scan request at most; DynamoDB also ends a page at 1 MB (~6,900 items)


class Page(NamedTuple):
    connections: List[Connection]
    next_key: Optional[Dict[str, Any]]  # the Scan's LastEvaluatedKey; None: the segment is finished
    scanned: int  # items read (what Limit counts), the position item included


class BatchResult(NamedTuple):
    deleted: List[str]
    unprocessed: List[str]


class SweepStore(ConnectionStore):
    """The table's sweeper-only operations (kept off the `$disconnect` handler's import and compile)."""

    def delete_if_unchanged(self, connection: Connection) -> Optional[Connection]:
        """Delete an item only if it still exists as read (same connectedAt, as stored); None when it changed."""
        condition = "attribute_exists(connectionId)"
        values: Dict[str, Any] = {}
        names: Dict[str, str] = {}
        if connection.connected_at_ms is not None:
            condition += " AND #connectedAt = :connectedAt"
            names["#connectedAt"] = CONNECTED_AT
            values[":connectedAt"] = {"N": connection.connected_at_exact or str(connection.connected_at_ms)}
        kwargs: Dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(connection.connection_id),
            "ConditionExpression": condition,
            "ReturnValues": "ALL_OLD",
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
            kwargs["ExpressionAttributeValues"] = values
        try:
            response = self.client.delete_item(**kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return Connection.from_item(response.get("Attributes") or {}, self.ttl_attribute)

    def batch_delete(self, connection_ids: Iterable[str]) -> BatchResult:
        """Delete in BatchWriteItem requests of 25, retrying UnprocessedItems with jittered backoff."""
        deleted: List[str] = []
        unprocessed: List[str] = []
        ids = list(dict.fromkeys(connection_ids))  # a batch may not name one key twice
        for start in range(0, len(ids), BATCH_SIZE):
            pending = ids[start : start + BATCH_SIZE]
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    self.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
                response = self.client.batch_write_item(
                    RequestItems={self.table_name: [{"DeleteRequest": {"Key": self._key(cid)}} for cid in pending]}
                )
                left = {
                    request["DeleteRequest"]["Key"][CONNECTION_ID]["S"]
                    for request in (response.get("UnprocessedItems") or {}).get(self.table_name, [])
                }
                deleted.extend(cid for cid in pending if cid not in left)
                pending = [cid for cid in pending if cid in left]
                if not pending:
                    break
            unprocessed.extend(pending)
        return BatchResult(deleted, unprocessed)

    def scan_segment(
        self,
        segment: int,
        total_segments: int,
        page_size: Callable[[], int] = lambda: PAGE_SIZE,
        start_key: Optional[Dict[str, Any]] = None,
    ) -> Iterator[Page]:
        """Yield the pages of one parallel-scan segment from `start_key` on, projecting only the contract.

        page_size is asked before each request, so a caller with an item budget never overshoots it;
        a page's next_key (None on the segment's last page) is where a later scan may continue. The
        sweeper's reserved position item is not a connection and never appears in a page.
        """
        names = {
            "#id": CONNECTION_ID,
            "#type": CLIENT_TYPE,
            "#agent": AGENT_ID,
            "#at": CONNECTED_AT,
            "#ttl": self.ttl_attribute,
        }
        kwargs: Dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        if total_segments > 1:
            kwargs["Segment"] = segment
            kwargs["TotalSegments"] = total_segments
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        while True:
            kwargs["Limit"] = max(1, page_size())
            response = self.client.scan(**kwargs)
            last_key = response.get("LastEvaluatedKey") or None
            raw = response.get("Items", [])
            items = [Connection.from_item(item, self.ttl_attribute) for item in raw]
            connections = [item for item in items if item.connection_id and item.connection_id != POSITION_KEY]
            yield Page(connections, last_key, int(response.get("ScannedCount", len(raw))))
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key


# ---- The scan position ---------------------------------------------------------------------------
# The sweeper's scan position, kept between runs in one reserved item of the connections table.
#
# Why there: the sweeper already reads that table, so the position costs one strongly consistent
# GetItem and one conditional PutItem per run (about 1.5 request units), needs no other resource, and the
# IAM grant is two actions on the table ARN limited by `dynamodb:LeadingKeys` to POSITION_KEY. No API
# Gateway connection id can equal POSITION_KEY (ids are base64 text, without "~" or "/"), the item has
# no agentId (so it is not in the agent index) and no TTL attribute (so it never expires); the table
# reads of the package skip it (SweepStore.scan_segment).
#
# Every write is conditional on the version read at the start of the run: of two overlapping runs only
# the first to finish saves its progress; the other's work is not lost (deletes happened) but its
# position is discarded. A missing, unreadable or stale position (another segment count, another format)
# starts a new pass: the worst a lost position costs is re-reading what the current pass already read.

FORMAT = 1


class PositionClient(Protocol):
    exceptions: Any

    def get_item(self, **kwargs: Any) -> Dict[str, Any]: ...

    def put_item(self, **kwargs: Any) -> Dict[str, Any]: ...


class PassState:
    """How far the current pass over the table is: per-segment cursors and what it has counted."""

    def __init__(
        self, number: int, segments: int, started_at: float, last_pass: Optional[Dict[str, Any]] = None
    ) -> None:
        self.number = number
        self.segments = segments
        self.started_at = started_at
        self.last_pass = last_pass  # the previous complete pass: number, items, runs, seconds
        # segment -> the Scan's LastEvaluatedKey where the next run continues (absent: from the start)
        self.cursors: Dict[int, Dict[str, Any]] = {}
        self.done: Set[int] = set()
        self.examined = 0
        self.runs = 0
        self.active: Dict[str, int] = {}

    @property
    def complete(self) -> bool:
        return len(self.done) == self.segments

    def pending(self) -> List[int]:
        return [segment for segment in range(self.segments) if segment not in self.done]

    def next_pass(self, now: float) -> PassState:
        seconds = round(max(0.0, now - self.started_at))
        return PassState(
            self.number + 1,
            self.segments,
            now,
            {"number": self.number, "items": self.examined, "runs": self.runs, "seconds": seconds},
        )

    def progress(self) -> Dict[str, Any]:
        """What the log says about the pass."""
        shown = {"number": self.number, "segmentsDone": f"{len(self.done)}/{self.segments}"}
        shown.update(examined=self.examined, runs=self.runs, complete=self.complete)
        if self.last_pass:
            shown["previousPass"] = self.last_pass
        return shown

    def to_text(self) -> str:
        data = dict(vars(self), format=FORMAT, done=sorted(self.done))
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> PassState:
        """Parse a saved state; ValueError (or KeyError/TypeError) when it is not one this code wrote."""
        data = json.loads(text)
        if data["format"] != FORMAT:
            raise ValueError("format")
        state = cls(int(data["number"]), int(data["segments"]), float(data["started_at"]), data["last_pass"])
        state.cursors = {int(segment): dict(key) for segment, key in data["cursors"].items()}
        state.done = {int(segment) for segment in data["done"]}
        state.examined, state.runs = int(data["examined"]), int(data["runs"])
        state.active = {str(label): int(count) for label, count in data["active"].items()}
        if not all(0 <= segment < state.segments for segment in [*state.cursors, *state.done]):
            raise ValueError("segment")
        return state


class Loaded(NamedTuple):
    state: PassState
    version: Optional[str]  # the saved version exactly as stored: the save is conditional on it
    origin: str  # "continued" | "none saved" | "unreadable" | "segments changed"


class PositionStore:
    def __init__(self, client: PositionClient, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def load(self, segments: int, now: float) -> Loaded:
        """The saved pass, or a new one. Raises the client's errors (the caller decides what to do)."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key={CONNECTION_ID: {"S": POSITION_KEY}},
            ConsistentRead=True,
            ProjectionExpression="#version, #state",
            ExpressionAttributeNames={"#version": "version", "#state": "state"},
        )
        item = response.get("Item")
        if not item:
            return Loaded(PassState(1, segments, now), None, "none saved")
        version = item.get("version", {}).get("N")
        try:
            state = PassState.from_text(item["state"]["S"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return Loaded(PassState(1, segments, now), version, "unreadable")
        if state.segments != segments:
            return Loaded(PassState(state.number + 1, segments, now), version, "segments changed")
        return Loaded(state, version, "continued")

    def save(self, state: PassState, version: Optional[str]) -> bool:
        """Write the position if nobody else did since `version` was read; False when someone did."""
        try:
            following = int(float(version)) + 1 if version is not None else 1
        except (ValueError, OverflowError):
            following = 1
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    CONNECTION_ID: {"S": POSITION_KEY},
                    "version": {"N": str(following)},
                    "state": {"S": state.to_text()},
                },
                # No version yet (no item, or one without a usable version) or still the one read.
                ConditionExpression="attribute_not_exists(#version) OR NOT attribute_type(#version, :number) "
                "OR #version = :version",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":version": {"N": version or "0"}, ":number": {"S": "N"}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class SweepReport:
    def __init__(self) -> None:
        self.examined = 0
        self.scanned = 0
        self.expired = 0
        self.gone = 0
        self.probed = 0
        self.probe_errors = 0
        self.raced = 0
        self.unprocessed = 0
        self.agents_offline: Dict[str, int] = {"expired": 0, "gone": 0}
        self.events_failed = 0
        self.complete = False  # this run finished a pass
        self.active: Dict[str, int] = {}  # live connections this run saw
        self.stopped_by: Optional[str] = None
        self.position = "none saved"
        self.pass_progress: Dict[str, Any] = {}

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
            "complete": self.complete,
            "pass": dict(self.pass_progress),
            "position": self.position,
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
        if not isinstance(store, SweepStore):
            store = SweepStore(store.client, store.table_name, store.ttl_attribute, store.sleep)
        self.store: SweepStore = store
        self.settings = settings
        self.telemetry = telemetry
        self.prober = prober
        self.publisher = publisher
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
        self._emit(report, finished.active if report.complete and saved else None)
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
                    "ERROR", "agent status check failed", {"agentId": for_log(agent_id), "error": type(exc).__name__}
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
                {
                    "agentId": for_log(agent_id),
                    "connectionId": for_log(connection.connection_id),
                    "reason": reason,
                    "abnormal": True,
                },
            )
        if notices and self.publisher is not None:
            failed, error = self.publisher.deliver(notices)
            if error:
                self.telemetry.log("ERROR", "offline events not sent", {"error": error})
            if failed:
                report.events_failed += len(failed)
                self.telemetry.log(
                    "ERROR", "offline events not delivered", {"agentIds": [for_log(agent) for agent in failed[:50]]}
                )

    def _emit(self, report: SweepReport, pass_active: Optional[Dict[str, int]]) -> None:
        telemetry = self.telemetry
        summary: List[MetricGroup] = []
        if self.prober is not None:
            summary.append(MetricGroup({}, [("ProbeErrors", "Count", report.probe_errors)]))
        # A run that stops at its budget is normal now (the next run continues): WARNING only when the
        # position could not be kept.
        level = "WARNING" if report.position in ("unavailable", "not saved") else "INFO"
        telemetry.log(level, "sweep finished", report.as_dict(), summary)
        reasons = ("expired", "gone") if self.prober is not None else ("expired",)
        for reason in reasons:
            metrics = [("StaleConnectionsRemoved", "Count", float(getattr(report, reason)))]
            if self.settings.agent_index:
                metrics.append(("AgentsOffline", "Count", float(report.agents_offline[reason])))
            telemetry.log("DEBUG", "sweep metrics", {"reason": reason}, [MetricGroup({"Reason": reason}, metrics)])
        if pass_active is not None:
            # Only a complete pass knows the totals (live items seen over the pass); a part would mislead.
            labels = set(CLIENT_TYPES) | set(pass_active)
            for label in sorted(labels):
                telemetry.log(
                    "DEBUG",
                    "active connections",
                    {"clientType": label, "pass": report.pass_progress["number"]},
                    [MetricGroup({"ClientType": label}, [("ActiveConnections", "Count", pass_active.get(label, 0))])],
                )


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
        self.removed_ids: Set[str] = set()
        self.announced: Set[str] = set()

    def take(self, page: Page, segment: int) -> None:
        """Sweep one page and move the segment's cursor past it (under the lock)."""
        state, report, sweeper = self.state, self.report, self.sweeper
        report.scanned += page.scanned
        report.examined += len(page.connections)
        state.examined += len(page.connections)
        removed = sweeper._sweep_page(page.connections, self.now, report)
        self.removed_ids.update(connection.connection_id for connection, _ in removed)
        sweeper._announce(removed, self.removed_ids, self.announced, self.now, report)
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

    sweeper = Sweeper(rt.store, rt.settings, rt.telemetry, rt.prober, rt.publisher)
    report = sweeper.run(time.time(), remaining)
    return report.as_dict()
