"""The announcer (`<name>-events`, handlers.announce): the presence table's stream -> EventBridge.

For each stream record, in order: a transition (NewImage.sequence above OldImage's, or a new item) is
published as ONE event, unless the item's `announced` mark says an earlier attempt already did
(GetItem, strongly consistent); then the mark is raised to the sequence (conditional: it only grows).
The mark, not the event source mapping's batch item failures (which hashicorp/aws 3.39 cannot declare),
makes a retried batch publish nothing twice; only a crash between PutEvents and the mark can repeat an
event (with the same eventId, `<agentId>/<sequence>`). PutEvents answers 200 with failed entries: each
entry is checked and retried (3 attempts, jittered); an event that still fails raises at the end of
the batch, after the other agents' records (an agent's later records wait for its failed one), so the
mapping retries the batch (bisecting) and the records already published are skipped by their mark.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Set

from botocore.exceptions import BotoCoreError, ClientError

from . import config
from .presence.item import (
    ABNORMAL_REASONS,
    AGENT_ID,
    ANNOUNCED,
    CONNECTIONS,
    EVENT,
    ONLINE,
    REASON,
    SEQUENCE,
    SINCE,
    STATE,
    UPDATED_AT,
    integer,
)
from .presence.valid import problem
from .store import for_log
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .runtime import Runtime

DETAIL_TYPES = {ONLINE: "Remediation Agent Online", "offline": "Remediation Agent Offline"}
ATTEMPTS = 3
MARK_CONDITION = "attribute_exists(#agent) AND (attribute_not_exists(#announced) OR #announced < :seq)"
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# The event detail's fields kept in `event` (and in pending.event), in the order of the detail.
EVENT_FIELDS = (
    "connectionId",
    "disconnectStatusCode",
    "disconnectReason",
    "connectedAt",
    "durationSeconds",
    "abnormal",
    "apiId",
    "stage",
    "detectedAt",
)


def plain(value: Any) -> Any:
    """A DynamoDB attribute value (wire format) as plain JSON data."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    [(kind, data)] = value.items()
    if kind == "N":
        return number_text(data)
    if kind == "M" and isinstance(data, dict):
        return {name: plain(member) for name, member in data.items()}
    if kind == "L" and isinstance(data, list):
        return [plain(member) for member in data]
    return None if kind == "NULL" else data


def number_text(text: Any) -> Optional[float]:
    """An N value's text as an int (or a float when it has a fraction); None when it is not a number."""
    try:
        return int(text) if str(text).lstrip("-").isdigit() else float(text)
    except (TypeError, ValueError, OverflowError):
        return None


class NotPublished(RuntimeError):
    """An event still failed after ATTEMPTS PutEvents calls (the batch is retried by the mapping)."""


def _code(error: Exception) -> str:
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    return str(code or type(error).__name__)


def detail(new: Mapping[str, Any], old: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The event detail of a transition, from the stream record's images (docs/presence.md)."""
    agent_id, state = str(new[AGENT_ID]["S"]), str(new[STATE]["S"])
    sequence, reason = integer(new, SEQUENCE), str(new[REASON]["S"])
    stored = plain(new.get(EVENT))
    fields = stored if isinstance(stored, dict) else {}
    result: Dict[str, Any] = {
        "agentId": agent_id,
        "state": state,
        "reason": reason,
        "since": integer(new, SINCE),
        "sequence": sequence,
        "eventId": f"{agent_id}/{sequence}",
        "connections": len(new.get(CONNECTIONS, {}).get("SS", ())),
    }
    result.update((name, fields.get(name)) for name in EVENT_FIELDS)
    result["abnormal"] = reason in ABNORMAL_REASONS
    if result["detectedAt"] is None:  # a grace window's end: detected when the transition was written
        result["detectedAt"] = integer(new, UPDATED_AT)
    previous = None
    if old and problem(old) is None:
        previous = {"state": old[STATE]["S"], "since": integer(old, SINCE), "sequence": integer(old, SEQUENCE)}
    result["previous"] = previous
    return result


def transition(record: Any) -> Optional[Dict[str, Any]]:
    """The record's NewImage if it is a transition (its sequence grew), else None."""
    images = record.get("dynamodb") if isinstance(record, dict) else None
    new = images.get("NewImage") if isinstance(images, dict) else None
    if not isinstance(new, dict) or integer(new, SEQUENCE) is None:
        return None
    old = images.get("OldImage") if isinstance(images, dict) else None
    before = integer(old, SEQUENCE) if isinstance(old, dict) else None
    return new if before is None or before < int(new[SEQUENCE]["N"]) else None


class Announcer:
    def __init__(self, rt: Runtime, bus: str, source: str, table: str, sleep: Callable[[float], None] = time.sleep):
        self.rt = rt
        self.events: Any = rt.client("events")
        self.dynamodb: Any = rt.dynamodb
        self.bus = bus
        self.source = source
        self.table = table
        self.sleep = sleep

    def announced(self, agent_id: str) -> int:
        """The item's mark: the highest sequence already published (0: none; the item gone: no more events)."""
        item = self.dynamodb.get_item(
            TableName=self.table,
            Key={AGENT_ID: {"S": agent_id}},
            ConsistentRead=True,
            ProjectionExpression="#announced",
            ExpressionAttributeNames={"#announced": ANNOUNCED},
        ).get("Item")
        return integer(item, ANNOUNCED) or 0 if item else 0

    def publish(self, event: Dict[str, Any]) -> str:
        """PutEvents of ONE entry, checking the entry itself (200 with FailedEntryCount); the EventId."""
        entry = {
            "Source": self.source,
            "DetailType": DETAIL_TYPES[event["state"]],
            "Detail": _encode(event),
            "EventBusName": self.bus,
        }
        error = "unknown"
        for attempt in range(ATTEMPTS):
            if attempt:
                self.sleep(random.uniform(0.05, 0.2 * 2**attempt))
            try:
                answer = self.events.put_events(Entries=[entry])
            except (ClientError, BotoCoreError) as exc:
                error = _code(exc)
                continue
            results = answer.get("Entries") or [{}]
            if not answer.get("FailedEntryCount") and results[0].get("EventId"):
                return str(results[0]["EventId"])
            error = str(results[0].get("ErrorCode") or "FailedEntry")
        raise NotPublished(error)

    def mark(self, agent_id: str, sequence: int) -> bool:
        """Raise the `announced` mark to `sequence`; False when it already was as high (or the item is gone)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={AGENT_ID: {"S": agent_id}},
                UpdateExpression="SET #announced = :seq",
                ConditionExpression=MARK_CONDITION,
                ExpressionAttributeNames={"#announced": ANNOUNCED, "#agent": AGENT_ID},
                ExpressionAttributeValues={":seq": {"N": str(sequence)}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True


def handle(rt: Runtime, event: Any, request_id: Optional[str]) -> Dict[str, Any]:
    """One stream batch; raises (after the rest of the batch) when an event could not be published."""
    telemetry = rt.telemetry
    telemetry.request_id = request_id
    settings = rt.settings
    bus = config.required(settings.event_bus, "EVENT_BUS", "the announcer publishes agent events to that bus")
    presence = settings.presence
    table = config.required(presence.table_name if presence else None, "PRESENCE_TABLE", "the announcer marks it")
    announcer = Announcer(rt, bus, settings.event_source, table)
    records = event.get("Records") if isinstance(event, dict) else None
    counts = {"records": 0, "published": 0, "alreadyPublished": 0, "failed": 0, "deferred": 0, "invalid": 0}
    blocked: Set[str] = set()  # agents with a failed event in this batch: their later records wait
    for record in records if isinstance(records, list) else []:
        counts["records"] += 1
        new = transition(record)
        if new is None:
            continue
        if problem(new) is not None or AGENT_ID not in new:
            counts["invalid"] += 1
            fields = {"attribute": problem(new), "eventID": record.get("eventID")}
            metric = MetricGroup({}, [("InvalidPresenceItems", "Count", 1)])
            telemetry.log("WARNING", "presence record not announced: invalid item", fields, [metric])
            continue
        agent_id, sequence = str(new[AGENT_ID]["S"]), int(new[SEQUENCE]["N"])
        if agent_id in blocked:
            counts["deferred"] += 1
            continue
        try:
            if announcer.announced(agent_id) >= sequence:
                counts["alreadyPublished"] += 1
                continue
            body = detail(new, record["dynamodb"].get("OldImage"))
            event_id = announcer.publish(body)
        except (NotPublished, ClientError, BotoCoreError) as exc:
            blocked.add(agent_id)
            counts["failed"] += 1
            code = str(exc) if isinstance(exc, NotPublished) else _code(exc)
            fields = {"agentId": for_log(agent_id), "sequence": sequence, "errorCode": code}
            telemetry.log("ERROR", "agent event not published", fields)
            continue
        counts["published"] += 1
        fields = {"agentId": for_log(agent_id), "sequence": sequence, "state": body["state"], "reason": body["reason"]}
        try:
            announcer.mark(agent_id, sequence)
        except (ClientError, BotoCoreError) as exc:
            # Published: a retry of this batch (for another reason) would publish it again, same eventId.
            fields["markError"] = type(exc).__name__
        telemetry.log("INFO", "agent event published", {**fields, "eventId": body["eventId"], "busEventId": event_id})
    metrics = [
        MetricGroup(
            {}, [("EventsPublished", "Count", counts["published"]), ("EventsFailed", "Count", counts["failed"])]
        )
    ]
    telemetry.log("ERROR" if counts["failed"] else "INFO", "agent events batch", counts, metrics)
    if counts["failed"]:
        raise NotPublished(f"{counts['failed']} agent event(s) not published; the batch is retried")
    return counts
