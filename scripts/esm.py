"""Lambda event source mappings, played locally for what Terraform applied on the moto server.

`load_mappings` reads the mappings back from the emulated Lambda API (ListEventSourceMappings), so the
local wiring is exactly what was applied: source ARN, function, batch size, batching window, response
types, retries, bisection, on-failure destination. moto keeps them as control-plane records only
(scripts/moto_launch.py explains why); the pollers play Lambda's data plane:
- scripts/esm_sqs.py: an SQS queue -> function (Lambda's SQS poller);
- scripts/esm_streams.py: a DynamoDB stream -> function (Lambda's stream poller).
Each poller runs in a background thread (`start` / `stop`), records every invocation in `deliveries`
and offers `drain()`: wait until its source is idle. `Pollers` does the same for all of a stack's.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from scripts.offline import REGION, client

Invoke = Callable[[str, Dict[str, Any]], Any]  # returns an object with .payload and .error (lambda_rie.Invocation)
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class Mapping(NamedTuple):
    """One event source mapping as the Lambda API describes it."""

    uuid: str
    function_arn: str
    source_arn: str
    batch_size: int
    batching_window: int  # MaximumBatchingWindowInSeconds, 0 when absent
    enabled: bool
    starting_position: Optional[str]  # streams: TRIM_HORIZON | LATEST
    response_types: Tuple[str, ...]  # FunctionResponseTypes
    bisect: bool  # BisectBatchOnFunctionError (streams)
    max_retries: int  # MaximumRetryAttempts (streams), -1 = until the record expires
    on_failure: Optional[str]  # DestinationConfig.OnFailure.Destination (streams)
    created: float  # LastModified, epoch seconds
    region: str

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]

    @property
    def service(self) -> str:
        return self.source_arn.split(":")[2]

    @property
    def reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.response_types

    @classmethod
    def from_api(cls, item: Dict[str, Any], region: str) -> Mapping:
        modified = item.get("LastModified")
        created = modified.timestamp() if isinstance(modified, datetime) else float(modified or time.time())
        destination = (item.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
        return cls(
            uuid=item["UUID"],
            function_arn=item["FunctionArn"],
            source_arn=item["EventSourceArn"],
            batch_size=int(item.get("BatchSize") or 10),
            batching_window=int(item.get("MaximumBatchingWindowInSeconds") or 0),
            enabled=item.get("State", "Enabled") in ("Enabled", "Enabling", "Creating", "Updating"),
            starting_position=item.get("StartingPosition"),
            response_types=tuple(item.get("FunctionResponseTypes") or ()),
            bisect=bool(item.get("BisectBatchOnFunctionError")),
            max_retries=int(item["MaximumRetryAttempts"]) if item.get("MaximumRetryAttempts") is not None else -1,
            on_failure=destination or None,
            created=created,
            region=region,
        )


def load_mappings(endpoint: str, region: str = REGION) -> List[Mapping]:
    """Every event source mapping of the region (ListEventSourceMappings, all pages)."""
    lam = client("lambda", endpoint, region)
    found: List[Mapping] = []
    kwargs: Dict[str, Any] = {}
    while True:
        page = lam.list_event_source_mappings(**kwargs)
        found += [Mapping.from_api(item, region) for item in page.get("EventSourceMappings", [])]
        if not page.get("NextMarker"):
            return found
        kwargs["Marker"] = page["NextMarker"]


class Delivery(NamedTuple):
    """One invocation a poller made, and what it made of the answer."""

    mapping: str  # the mapping's UUID
    function_name: str
    event: Dict[str, Any]
    invocation: Any
    outcome: str  # "ok" | "partial" (some items failed) | "error" (function error or invalid response)
    failed: List[str]  # itemIdentifiers that failed (all of the batch for "error")


def item_failures(payload: Any, identifiers: Sequence[str]) -> Optional[List[str]]:
    """A partial batch response, read as Lambda does: the failed identifiers, or None = the whole batch failed.

    "Lambda treats a batch as a complete success if your function returns: an empty batchItemFailures
    list, a null batchItemFailures list, an empty EventResponse, a null EventResponse. Lambda treats a
    batch as a complete failure if your function returns: an invalid JSON response, an empty string
    itemIdentifier, a null itemIdentifier, an itemIdentifier with a bad key name, an itemIdentifier
    value with a message ID that doesn't exist."
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html; the stream pages say
    the same with sequence numbers.) Assumed: a JSON value that is not an object (a string, a number)
    is an invalid response.
    """
    if payload is None or payload == {}:
        return []
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return []
    if not isinstance(failures, list):
        return None
    failed: List[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in identifiers:
            return None
        failed.append(identifier)
    return failed


class Poller:
    """A background poller for one mapping. Subclasses implement `poll_once` and `pending`."""

    def __init__(self, mapping: Mapping, invoke: Invoke, endpoint: str) -> None:
        self.mapping = mapping
        self.invoke = invoke
        self.endpoint = endpoint
        self.deliveries: List[Delivery] = []
        self.errors: List[BaseException] = []  # unexpected errors of the loop (it keeps running)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()  # set: no polls (a test holding this source's work back)
        self._polling = False  # a poll is running
        self._cycle = 0  # cycles started
        self._idle_cycle = -1  # the last cycle that found nothing to do
        self._thread: Optional[threading.Thread] = None

    # --- subclass interface -----------------------------------------------------------------------

    def poll_once(self) -> bool:
        """One poll: read the source, invoke if there is anything. True if it did any work."""
        raise NotImplementedError

    def pending(self, delayed: bool) -> bool:
        """Does the source still hold work (for drain)? `delayed`: count messages not yet visible."""
        raise NotImplementedError

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Poller:
        self._thread = threading.Thread(target=self._run, name=f"esm-{self.mapping.function_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No polls inside the block (it starts once a poll already running has finished); the work waits in
        the source."""
        self._paused.set()
        deadline = time.monotonic() + 60
        while self._polling and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            yield
        finally:
            self._paused.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._polling = not self._paused.is_set()
            if not self._polling:
                self._stop.wait(0.05)
                continue
            with self._lock:
                self._cycle += 1
                cycle = self._cycle
            try:
                worked = self.poll_once()
            except Exception as exc:  # the poller survives a failing source, as Lambda's does
                self.errors.append(exc)
                worked = False
                self._stop.wait(0.5)
            finally:
                self._polling = False
            if not worked:
                with self._lock:
                    self._idle_cycle = cycle

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def drain(self, timeout: float = 30, delayed: bool = True) -> None:
        """Wait until a poll started after this call found nothing and the source holds no work.

        delayed=False ignores SQS messages whose DelaySeconds has not passed (a probe chain is never
        empty). Raises TimeoutError after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            since = self._cycle
        while time.monotonic() < deadline:
            with self._lock:
                idle = self._idle_cycle > since
            if idle and not self.pending(delayed):
                return
            if idle:  # work arrived (or is in flight): wait for a later idle cycle
                with self._lock:
                    since = self._cycle
            time.sleep(0.05)
        raise TimeoutError(f"{self.mapping.function_name} <- {self.mapping.source_arn}: not idle within {timeout} s")


class Pollers:
    """All pollers of a stack: start, stop, drain them together; every delivery of every poller."""

    def __init__(self, pollers: Sequence[Poller]) -> None:
        self.pollers = list(pollers)

    def start(self) -> Pollers:
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop()

    def for_function(self, function_name: str) -> List[Poller]:
        return [poller for poller in self.pollers if poller.mapping.function_name == function_name]

    @property
    def deliveries(self) -> List[Delivery]:
        return [delivery for poller in self.pollers for delivery in list(poller.deliveries)]

    def drain(self, timeout: float = 60, delayed: bool = True) -> None:
        """Drain every poller, again until one whole pass invoked nothing (an invocation can feed another
        source: the checker writes the presence table whose stream feeds the announcer)."""
        deadline = time.monotonic() + timeout
        while True:
            before = len(self.deliveries)
            for poller in self.pollers:
                poller.drain(max(0.1, deadline - time.monotonic()), delayed)
            if len(self.deliveries) == before:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"event sources still busy after {timeout} s")
