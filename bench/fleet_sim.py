"""The fleet simulation's machinery: the module's functions in-process behind the local gateway, their
event sources, and a fleet of real WebSocket agents (bench/fleet.py runs the scenarios).

- DynamoDB (connections table, presence table and its stream): a moto server (scripts/moto_launch.py,
  a separate process), reached over HTTP by the functions' own botocore clients.
- The four functions (`$connect`, `$disconnect`, the presence checker, the announcer) run the package's
  real route code (`connect.handle`, `disconnect.handle`, `checker.handle`, `announce.handle`) in this
  process, each with its own Runtime (its own clients, as separate Lambda functions have), invoked by
  the local gateway (scripts/ws_gateway.py: its `invoke` hook), by the queue's and the stream's
  pollers and by the reconciler's clock.
- SQS (the presence queue): an in-memory delay queue (DelaySeconds honoured, visibility timeout, the
  event source mapping's batch of 10 and delete on success); EventBridge: a sink that stamps each entry
  with its arrival time. The @connections API is the gateway's own (GetConnection's lastActiveAt,
  DeleteConnection), over HTTP.
- Agents: asyncio WebSocket clients (the agent client contract: heartbeat every interval +-10 %,
  reconnect with exponential backoff and full jitter, reconnect at once on 1001) that can stop cleanly,
  crash (TCP cut: 1006), fall silent (stop sending and reading: a silent host), blip, or lose their
  `$disconnect`. The gateway refuses handshakes over a connection-rate limit with 429.
Every request the functions make is counted by a botocore hook (service, operation).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import math
import os
import random
import threading
import time
import uuid
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from bench.fleet_truth import Event, Truth

REGION = "eu-west-1"
ACCOUNT = "123456789012"
CONNECTIONS_TABLE = "fleet-connections"
PRESENCE_TABLE = "fleet-presence"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/fleet-presence"
EMULATOR_KEY = "testing"  # the emulator accepts any keys
LANES = 4  # the announcer mapping's parallelization factor (1..10; per-agent order is kept)
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/fleet-agents"


class Settings:
    """The recommended settings in real seconds, and the simulation's compressed copies."""

    def __init__(self, scale: int = 5, agents: int = 1000) -> None:
        self.scale = scale
        self.agents = agents
        self.real = {
            "heartbeat_interval": 30,
            "heartbeat_timeout": 75,
            "grace": 20,
            "reconcile": 60,
            "idle_timeout": 600,
            "max_lifetime": 7200,
            "close_timeout": 10,
            "connect_rate_100k": 500,  # API Gateway's new connections per second (account, region)
            "concurrency_100k": 1000,  # Lambda's default concurrent executions (account, region)
            "backoff_base": 0.5,
            "backoff_cap": 30,
            "visibility_timeout": 60,
            "stream_window": 1,
        }
        for name in ("heartbeat_interval", "heartbeat_timeout", "grace"):
            if self.real[name] % scale:
                raise ValueError(f"{name} {self.real[name]} s is not a whole number of seconds at 1/{scale}")

    def sim(self, name: str) -> float:
        """A duration in simulated (wall) seconds."""
        return self.real[name] / self.scale

    @property
    def connect_rate(self) -> float:
        """New connections per wall second: API Gateway's 500/s for 100,000 agents, scaled to this fleet
        (the storm lasts as long, in real-time-equivalent seconds, as 100,000 agents' would) and to time."""
        return self.real["connect_rate_100k"] * self.agents / 100_000 * self.scale

    @property
    def concurrency(self) -> int:
        """Concurrent `$connect` + `$disconnect` invocations before Lambda throttles: the account's default
        1,000 for 100,000 agents, scaled to this fleet (not to time: an invocation here takes ~10x longer in
        wall time than on Lambda, in simulated time ~50x, so this harness throttles far more than AWS would)."""
        return max(1, round(self.real["concurrency_100k"] * self.agents / 100_000))


# --- request counting ------------------------------------------------------------------------------


class Requests:
    """(service, operation) -> count, thread-safe; plus Scan's items (for read units)."""

    def __init__(self) -> None:
        self.counts: Counter[Tuple[str, str]] = Counter()
        self.scanned = 0
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, n: int = 1) -> None:
        with self._lock:
            self.counts[(service, operation)] += n

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            found = {f"{service}.{operation}": n for (service, operation), n in self.counts.items()}
            found["dynamodb.ScannedItems"] = self.scanned
        return found

    def hook(self, emitter: Any) -> None:
        def before(model: Any, **_: Any) -> None:
            self.add(model.service_model.endpoint_prefix, model.name)

        def after_scan(parsed: Any, **_: Any) -> None:
            with self._lock:
                self.scanned += int(parsed.get("ScannedCount", 0)) if isinstance(parsed, dict) else 0

        emitter.register("before-call", before)
        emitter.register("after-call.dynamodb.Scan", after_scan)


class NullStream:
    """The functions' log lines, counted and dropped (their content is checked by the unit tests)."""

    def __init__(self) -> None:
        self.lines = 0
        self.bytes = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        self.bytes += len(text)
        return len(text)

    def flush(self) -> None:
        return None


# --- SQS and EventBridge stand-ins -----------------------------------------------------------------


class DelayQueue:
    """The presence queue: SendMessage with DelaySeconds (in simulated seconds), batches of up to 10
    for the event source mapping, a visibility timeout, DeleteMessageBatch."""

    def __init__(self, requests: Requests, visibility: float) -> None:
        self.requests = requests
        self.visibility = visibility
        self._due: List[Tuple[float, int, str]] = []
        self._inflight: Dict[str, Tuple[float, int, str]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def send_message(self, **kwargs: Any) -> Dict[str, Any]:
        self.requests.add("sqs", "SendMessage")
        delay = float(kwargs.get("DelaySeconds", 0))
        with self._lock:
            number = next(self._ids)
            heapq.heappush(self._due, (time.monotonic() + delay, number, kwargs["MessageBody"]))
        return {"MessageId": str(number)}

    def delete_message_batch(self, **kwargs: Any) -> Dict[str, Any]:
        self.requests.add("sqs", "DeleteMessageBatch")
        with self._lock:
            for entry in kwargs["Entries"]:
                self._inflight.pop(entry["ReceiptHandle"], None)
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]], "Failed": []}

    def receive(self, limit: int = 10) -> List[Dict[str, Any]]:
        now = time.monotonic()
        records: List[Dict[str, Any]] = []
        with self._lock:
            for receipt, (until, number, body) in list(self._inflight.items()):
                if until <= now:  # the visibility timeout passed: visible again
                    del self._inflight[receipt]
                    heapq.heappush(self._due, (now, number, body))
            while self._due and self._due[0][0] <= now and len(records) < limit:
                _, number, body = heapq.heappop(self._due)
                receipt = f"{number}-{uuid.uuid4().hex[:8]}"
                self._inflight[receipt] = (now + self.visibility, number, body)
                records.append({"messageId": str(number), "receiptHandle": receipt, "body": body})
        if records:
            self.requests.add("sqs", "ReceiveMessage")
        return records

    def remove(self, records: List[Dict[str, Any]]) -> None:
        """What the mapping deletes after a successful invocation."""
        self.requests.add("sqs", "DeleteMessageBatch")
        with self._lock:
            for record in records:
                self._inflight.pop(record["receiptHandle"], None)

    def graces(self) -> int:
        """Grace messages not yet handled (delayed, due or in flight): windows still open."""
        with self._lock:
            bodies = [body for _, _, body in self._due] + [body for _, _, body in self._inflight.values()]
        return sum('"kind":"grace"' in body for body in bodies)

    def depth(self, late: float = 0.0) -> Tuple[int, int]:
        """(messages due for more than `late` seconds, delayed messages)."""
        now = time.monotonic()
        with self._lock:
            due = sum(1 for at, _, _ in self._due if at <= now - late)
            return due, len(self._due) - due


class EventsSink:
    """EventBridge PutEvents: every entry accepted and kept with its arrival time (wall seconds)."""

    def __init__(self, requests: Requests) -> None:
        self.requests = requests
        self.events: List[Event] = []
        self.details: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_events(self, **kwargs: Any) -> Dict[str, Any]:
        self.requests.add("events", "PutEvents")
        self.requests.add("events", "Entries", len(kwargs["Entries"]))
        now = time.time()
        with self._lock:
            for entry in kwargs["Entries"]:
                detail = json.loads(entry["Detail"])
                self.details.append(detail)
                self.events.append(
                    Event(
                        detail["agentId"],
                        detail["state"],
                        int(detail["sequence"]),
                        int(detail["since"]) / 1000,
                        str(detail.get("reason")),
                        now,
                    )
                )
        return {"FailedEntryCount": 0, "Entries": [{"EventId": uuid.uuid4().hex} for _ in kwargs["Entries"]]}


# --- the functions ---------------------------------------------------------------------------------


class Functions:
    """The four functions, each with its own Runtime, invoked in-process; invocations counted."""

    NAMES = ("connect", "disconnect", "presence", "events")

    def __init__(self, endpoint: str, settings: Settings, requests: Requests, queue: DelayQueue, sink: EventsSink):
        from remediation_registry import config
        from remediation_registry.runtime import Runtime

        self.env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "CONNECTIONS_TABLE": CONNECTIONS_TABLE,
            "CONNECTION_GRACE_SECONDS": "300",
            "PRESENCE_TABLE": PRESENCE_TABLE,
            "PRESENCE_QUEUE_URL": QUEUE_URL,
            "PRESENCE_GRACE_SECONDS": str(int(settings.sim("grace"))),
            "HEARTBEAT_TIMEOUT_SECONDS": str(int(settings.sim("heartbeat_timeout"))),
            "HEARTBEAT_INTERVAL_SECONDS": str(int(settings.sim("heartbeat_interval"))),
            "EVENT_BUS": BUS,
            "EVENT_SOURCE": "remediation.websocket",
            "CONNECT_IDENTITY_SOURCE": "query_string_insecure",
            "LOG_LEVEL": "INFO",
        }
        os.environ.update(self.env)
        self.settings = settings
        self.requests = requests
        self.queue = queue
        self.sink = sink
        self.logs = NullStream()
        self.invocations: Counter[str] = Counter()
        self.seconds: Dict[str, float] = {}  # wall time inside the functions, for the GB-s estimate
        self.errors: Counter[str] = Counter()
        self.agent_of: Dict[str, str] = {}  # connectionId -> agentId (from `$connect` events)
        self.connection_of: Dict[str, str] = {}  # agentId -> its latest connectionId
        self.inflight = 0  # gateway invocations (`$connect`, `$disconnect`) running now
        self.throttled: Counter[str] = Counter()  # invocations refused over the concurrency limit
        self.waiting: Callable[[], int] = lambda: 0  # gateway invocations queued for a thread (fleet_gateway)
        self._lock = threading.Lock()
        self.runtimes: Dict[str, Any] = {}
        for name in self.NAMES:
            rt = Runtime(config.load())
            requests.hook(cast(Any, rt.dynamodb).meta.events)
            requests.hook(rt._session)  # the @connections client, created on first use
            rt._clients["sqs"] = queue
            rt._clients["events"] = sink
            rt.telemetry.stream = cast(Any, self.logs)
            self.runtimes[name] = rt
        self.probe_endpoint = ""

    def set_probe_endpoint(self, endpoint: str) -> None:
        from remediation_registry import config

        self.probe_endpoint = endpoint
        os.environ["PRESENCE_PROBE_ENDPOINT"] = endpoint
        rt = self.runtimes["presence"]
        rt.settings = config.load()
        if rt.settings.presence is None or rt.settings.presence.probe_endpoint != endpoint:
            raise RuntimeError("the checker's settings did not take PRESENCE_PROBE_ENDPOINT")

    def call(self, name: str, event: Dict[str, Any]) -> Any:
        """One invocation, as Lambda would: the route's handle() with this function's Runtime."""
        self.requests.add("lambda", "Invoke")
        started = time.perf_counter()
        try:
            return self._call(name, event)
        finally:
            with self._lock:
                self.invocations[name] += 1
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def _call(self, name: str, event: Dict[str, Any]) -> Any:
        rt = self.runtimes[name]
        if name == "connect":
            from remediation_registry.connect import handle

            query = event.get("queryStringParameters") or {}
            cid = event["requestContext"]["connectionId"]
            with self._lock:
                self.agent_of[cid] = str(query.get("agentId"))
                self.connection_of[str(query.get("agentId"))] = cid
            return handle(rt, event, None)
        if name == "disconnect":
            from remediation_registry.disconnect import handle as disconnect

            return disconnect(rt, event, None)
        if name == "presence":
            from remediation_registry.checker import handle as check

            context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)
            return check(rt, event, context, None)
        from remediation_registry.announce import handle as announce

        return announce(rt, event, None)

    def invoke(self, name: str, event: Dict[str, Any]) -> Any:
        """The gateway's `invoke`: an object with .payload and .error (as lambda_rie.Invocation). Over the
        concurrency limit, Lambda throttles a synchronous invoke at once (no queue): API Gateway then
        refuses the handshake (500) or loses the `$disconnect` (best-effort)."""
        with self._lock:
            if self.inflight >= self.settings.concurrency:
                self.throttled[name] += 1
                return SimpleNamespace(payload=None, error="TooManyRequestsException: Rate Exceeded.")
            self.inflight += 1
        try:
            return SimpleNamespace(payload=self.call(name, event), error=None)
        except Exception as exc:
            with self._lock:
                self.errors[name] += 1
            return SimpleNamespace(payload=None, error=repr(exc))
        finally:
            with self._lock:
                self.inflight -= 1


def emulator_client(service: str, endpoint: str) -> Any:
    from botocore.session import get_session

    return get_session().create_client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=EMULATOR_KEY,
        aws_secret_access_key=EMULATOR_KEY,
    )


def create_tables(endpoint: str) -> str:
    """The connections table and the presence table (stream NEW_AND_OLD_IMAGES); the stream's ARN."""
    ddb = emulator_client("dynamodb", endpoint)
    ddb.create_table(
        TableName=CONNECTIONS_TABLE,
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName=PRESENCE_TABLE,
        KeySchema=[{"AttributeName": "agentId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "agentId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(ddb.describe_table(TableName=PRESENCE_TABLE)["Table"]["LatestStreamArn"])


# --- event sources ---------------------------------------------------------------------------------


class Sources:
    """The checker's SQS mapping (batch 10, up to `concurrency` batches at once), the announcer's stream
    mapping (batch 100, window 1 s real, one batch in flight: per-agent order), the reconciler's clock."""

    def __init__(
        self, functions: Functions, endpoint: str, stream_arn: str, settings: Settings, concurrency: int = 4
    ) -> None:
        self.functions = functions
        self.settings = settings
        self.streams = emulator_client("dynamodbstreams", endpoint)
        self.stream_arn = stream_arn
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="checker")
        self.slots = threading.Semaphore(concurrency)
        self.busy = 0
        self.failures: Counter[str] = Counter()
        self.stream_backlog = 0
        self.stream_caught_up = False  # the last GetRecords returned nothing (and everything before is done)
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()
        self.ticks = 0
        self.seen: Optional[List[Tuple[str, str, Any, Any]]] = [] if os.environ.get("FLEET_DEBUG") else None

    def start(self) -> None:
        for target in (self._sqs, self._stream, self._clock):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self.pool.shutdown(wait=True)

    def _sqs(self) -> None:
        queue = self.functions.queue
        while not self._stop.is_set():
            if not self.slots.acquire(timeout=0.1):
                continue
            records = queue.receive(10)
            if not records:
                self.slots.release()
                self._stop.wait(0.02)
                continue
            with self._lock:
                self.busy += 1
            self.pool.submit(self._check, records)

    def _check(self, records: List[Dict[str, Any]]) -> None:
        try:
            self.functions.call("presence", {"Records": records})
            self.functions.queue.remove(records)
        except Exception as exc:  # the checker deleted what it handled; the rest comes back
            self.failures[type(exc).__name__] += 1
        finally:
            with self._lock:
                self.busy -= 1
            self.slots.release()

    def _stream(self) -> None:
        """Lambda's stream poller with a parallelization factor of LANES: a record goes to the lane of its
        key (agentId), each lane invokes the announcer with batches of up to 100 of its records in stream
        order, the lanes run at once; the next GetRecords after every lane is done."""
        shard = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
        iterator = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        window = self.settings.sim("stream_window")
        lanes = ThreadPoolExecutor(LANES, thread_name_prefix="announcer")
        while not self._stop.is_set():
            answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = answer["NextShardIterator"]
            by_lane: Dict[int, List[Dict[str, Any]]] = {}
            for record in answer["Records"]:
                images = dict(record["dynamodb"])
                images.pop("ApproximateCreationDateTime", None)
                key = str(images.get("Keys", {}).get("agentId", {}).get("S", ""))
                by_lane.setdefault(zlib.crc32(key.encode()) % LANES, []).append(
                    {
                        "eventID": record["eventID"],
                        "eventName": record["eventName"],
                        "eventSource": "aws:dynamodb",
                        "awsRegion": REGION,
                        "dynamodb": images,
                        "eventSourceARN": self.stream_arn,
                    }
                )
            self.stream_backlog = len(answer["Records"])
            if self.seen is not None:
                self.seen.extend(_seen(record) for record in answer["Records"])
            list(lanes.map(self._lane, by_lane.values()))
            self.stream_backlog = 0
            # Caught up only on an empty read: a read in flight (slow under load) may still bring records.
            self.stream_caught_up = not answer["Records"]
            if not answer["Records"]:
                self._stop.wait(window)
        lanes.shutdown(wait=True)

    def _lane(self, pending: List[Dict[str, Any]]) -> None:
        window = self.settings.sim("stream_window")
        while pending and not self._stop.is_set():
            batch = pending[:100]
            try:
                self.functions.call("events", {"Records": batch})
            except Exception as exc:  # the mapping retries the batch (the announcer's marks skip repeats)
                self.failures[f"announce {type(exc).__name__}"] += 1
                self._stop.wait(window)
                continue
            del pending[:100]

    def _clock(self) -> None:
        period = self.settings.sim("reconcile")
        while not self._stop.wait(period):
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": REGION,
                "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/fleet-presence-reconcile"],
                "detail": {},
            }
            try:
                self.functions.call("presence", event)
                self.ticks += 1
            except Exception as exc:
                self.failures[f"reconcile {type(exc).__name__}"] += 1

    def idle(self) -> bool:
        """Caught up: no `$connect` / `$disconnect` running or queued in the gateway, no grace message
        pending, no queue message due for more than half a second, the stream read to its end (probes fall
        due all the time in a live fleet: the queue itself is never empty)."""
        functions = self.functions
        if functions.inflight or functions.waiting() or functions.queue.graces():
            return False
        due, _ = functions.queue.depth(0.5)
        return due == 0 and self.stream_backlog == 0 and self.stream_caught_up


def _seen(record: Dict[str, Any]) -> Tuple[str, str, Any, Any]:
    """(agentId, eventName, old sequence, new sequence) of a stream record (FLEET_DEBUG)."""
    images = record["dynamodb"]
    agent = images.get("Keys", {}).get("agentId", {}).get("S", "")
    old, new = (images.get(name, {}).get("sequence", {}).get("N") for name in ("OldImage", "NewImage"))
    return agent, record["eventName"], old, new


# --- the gateway ---------------------------------------------------------------------------------


def fleet_gateway(functions: Functions, settings: Settings) -> Any:
    """scripts/ws_gateway.Gateway in front of the in-process functions, with a `heartbeat` MOCK route
    (one-way) and API Gateway's new-connection rate limit (429 over it), scaled."""
    from scripts.ws_events import Route, Routes
    from scripts.ws_gateway import Gateway
    from scripts.ws_mock import MockIntegration

    class FleetGateway(Gateway):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.rate = settings.connect_rate
            self.tokens = self.rate
            self.refilled = time.monotonic()
            self.throttled = 0
            self.rate_lock = threading.Lock()

        def start(self) -> Any:
            # Enough threads that a `$connect` / `$disconnect` never waits for one (Lambda does not queue a
            # synchronous invoke): Functions.invoke throttles over the concurrency limit instead.
            executor = ThreadPoolExecutor(64, thread_name_prefix="gateway-invoke")
            self._loop.set_default_executor(executor)
            functions.waiting = executor._work_queue.qsize  # what settle() waits for too
            return super().start()

        def _admit(self) -> bool:
            with self.rate_lock:
                now = time.monotonic()
                self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.refilled) * self.rate)
                self.refilled = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return True
                self.throttled += 1
                return False

        async def _handshake(self, ws: Any, request: Any) -> Any:
            if not self._admit():
                return ws.respond(429, "Too Many Requests\n")
            return await super()._handshake(ws, request)

        def expire(self, connection_id: str) -> bool:
            """Close a connection as the gateway's watchdog does at the idle timeout or the 2-hour limit:
            1001 "Going away" (the same two steps as Gateway._watch)."""
            live = self._get(connection_id)
            if live is None or live.closing is not None:
                return False
            self._close(live, 1001, "Going away")
            asyncio.run_coroutine_threadsafe(live.ws.close(1001, "Going away"), self._loop)
            return True

    heartbeat = MockIntegration({"$default": json.dumps({"statusCode": 200})}, "\\$default", [])
    routes = Routes(
        api_id="fleet00001",
        selection_expression="$request.body.action",
        routes={
            "$connect": Route("$connect", "connect", None),
            "$disconnect": Route("$disconnect", "disconnect", None),
            "heartbeat": Route("heartbeat", None, None, mock=heartbeat),
        },
        authorizers={},
        account=ACCOUNT,
    )
    return FleetGateway(
        routes,
        "live",
        functions.invoke,
        idle_timeout=settings.sim("idle_timeout"),
        max_lifetime=settings.sim("max_lifetime"),
        close_timeout=settings.sim("close_timeout"),
    )


# --- agents ----------------------------------------------------------------------------------------


class Agent:
    """One agent process: a WebSocket connection, heartbeats, reconnects; scripted faults."""

    def __init__(self, fleet: Fleet, agent_id: str) -> None:
        self.fleet = fleet
        self.id = agent_id
        self.ws: Any = None
        self.alive = True  # False: the process stopped, crashed or its host died (no reconnect)
        self.connected = False
        self.tasks: List[asyncio.Task[Any]] = []
        self.attempts = 0
        self.refusals = 0
        self.down_since: Optional[float] = None  # monotonic: when its connection was lost (the contract's downMs)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        settings = self.fleet.settings
        base, cap = settings.sim("backoff_base"), settings.sim("backoff_cap")
        failures = 0
        while self.alive:
            self.attempts += 1
            report = "" if self.down_since is None else f"&downMs={int((time.monotonic() - self.down_since) * 1000)}"
            started = time.time()
            try:
                ws = await connect(
                    f"{self.fleet.url}?clientType=agent&agentId={self.id}{report}",
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    close_timeout=2,
                    user_agent_header="remediation-agent/fleet",
                )
            except Exception as exc:  # 429 over the limit, a handshake cut short under load: retry
                self.refusals += 1
                self.fleet.failures[type(exc).__name__] = self.fleet.failures.get(type(exc).__name__, 0) + 1
                failures += 1
                await asyncio.sleep(random.uniform(0, min(cap, base * 2**failures)))  # full jitter
                continue
            self.ws = ws
            self.connected, self.down_since = True, None
            self.fleet.truth.up(self.id, time.time(), started)
            self.tasks = [asyncio.ensure_future(self._heartbeats(ws)), asyncio.ensure_future(self._watch(ws))]
            return

    async def _heartbeats(self, ws: Any) -> None:
        interval = self.fleet.settings.sim("heartbeat_interval")
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            try:
                await ws.send('{"action":"heartbeat"}')
            except Exception:
                return
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))

    async def _watch(self, ws: Any) -> None:
        """The server closed the connection (1001 at the idle timeout or the 2-hour limit, 1000 after a
        DeleteConnection): reconnect, at once on 1001, else after a backoff."""
        try:
            await ws.wait_closed()
        except asyncio.CancelledError:
            return
        if ws is not self.ws or not self.alive:
            return
        self.connected, self.down_since = False, time.monotonic()
        self.fleet.truth.down(self.id, time.time())
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if ws.close_code != 1001:
            base = self.fleet.settings.sim("backoff_base")
            await asyncio.sleep(random.uniform(0, base))
        await self.connect()

    def _detach(self) -> Any:
        ws, self.ws = self.ws, None
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        if self.connected:
            self.connected, self.down_since = False, time.monotonic()
            self.fleet.truth.down(self.id, time.time())
        return ws

    async def stop(self) -> None:
        """Clean stop: close 1000, no reconnect."""
        self.alive = False
        ws = self._detach()
        if ws is not None:
            await ws.close(1000, "agent stopping")

    def crash(self, alive: bool = False) -> None:
        """The process dies (or the network drops): the TCP connection is cut, the gateway sees 1006."""
        self.alive = alive
        ws = self._detach()
        if ws is not None:
            ws.transport.abort()

    def silence(self) -> None:
        """The host dies silently: nothing is sent or read any more; the socket stays open."""
        self.alive = False
        ws = self._detach()
        if ws is not None:
            ws.transport.pause_reading()
            self.fleet.silent.append(ws)

    async def blip(self, seconds: float) -> None:
        """The network drops (1006) and the agent reconnects after `seconds`."""
        self.crash(alive=True)
        await asyncio.sleep(seconds)
        await self.connect()

    async def revive(self) -> None:
        self.alive = True
        await self.connect()


class Fleet:
    """The agents, on their own event loop thread."""

    def __init__(self, url: str, settings: Settings, truth: Truth) -> None:
        self.url = url
        self.settings = settings
        self.truth = truth
        self.agents = [Agent(self, f"agent-{n:05d}") for n in range(settings.agents)]
        self.silent: List[Any] = []
        self.failures: Dict[str, int] = {}  # failed handshake attempts by exception (InvalidStatus: 429)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="agents")
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 600) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def at_once(self, make: Callable[[Agent], Any], agents: List[Agent], timeout: float = 600) -> None:
        async def all_of() -> None:
            await asyncio.gather(*(make(agent) for agent in agents))

        self.run(all_of(), timeout)

    def call(self, action: Callable[[], None]) -> None:
        async def one() -> None:
            action()

        self.run(one())

    def connected(self) -> int:
        return sum(agent.connected for agent in self.agents)

    def close(self) -> None:
        async def shut() -> None:
            for agent in self.agents:
                agent.alive = False
                ws = agent._detach()
                if ws is not None:
                    ws.transport.abort()
            for ws in self.silent:
                ws.transport.abort()
            await asyncio.sleep(0.2)

        self.run(shut(), 60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def median(values: List[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else math.nan
