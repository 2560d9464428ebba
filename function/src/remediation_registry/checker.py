"""The presence checker (`<name>-presence`, handlers.presence): an SQS batch, or the reconciler's tick.

Told apart by the event's shape: `Records` of SQS messages (grace windows, liveness probes: see
presence/liveness.py), or EventBridge's "Scheduled Event" (presence/reconcile.py).

The queue's event source mapping cannot report batch item failures (hashicorp/aws 3.39, the offline
stand-in, has no function_response_types): a batch in which a message failed deletes the messages it
processed itself (DeleteMessageBatch) and then raises, so that only the failed ones come back after the
visibility timeout (a batch without failure is deleted by the mapping, as for any successful batch).
A malformed message is logged (`invalid presence message`), counted and acknowledged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import config
from .presence import hooks, reconcile, track
from .presence.liveness import Liveness, Message, ProbeFailed, parse
from .telemetry import MetricGroup

if TYPE_CHECKING:
    from .runtime import Runtime

DELETE_BATCH = 10  # DeleteMessageBatch's limit


class BatchIncomplete(RuntimeError):
    """Some messages of the batch failed: raised after the others were deleted, so that SQS redelivers them."""


def handle(rt: Runtime, event: Any, context: Any, request_id: Optional[str]) -> Dict[str, Any]:
    rt.telemetry.request_id = request_id
    presence = hooks.presence(rt)
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return _batch(rt, presence, event["Records"])
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return reconcile.tick(presence, remaining if callable(remaining) else lambda: 60_000)
    shown = sorted(event)[:8] if isinstance(event, dict) else type(event).__name__
    rt.telemetry.log(
        "WARNING",
        "invalid presence event ignored",
        {"error": f"neither SQS records nor a scheduled event: {shown}"},
        [MetricGroup({}, [("InvalidPresenceMessages", "Count", 1)])],
    )
    return {"ignored": True}


def _batch(rt: Runtime, presence: track.Presence, records: List[Any]) -> Dict[str, Any]:
    why = "the presence checker calls the stage's @connections endpoint (GetConnection, DeleteConnection)"
    endpoint = config.required(presence.settings.probe_endpoint, "PRESENCE_PROBE_ENDPOINT", why)
    liveness = Liveness(rt, presence, rt.management(endpoint))
    telemetry = rt.telemetry
    results: Dict[str, int] = {}
    done: List[Tuple[str, str]] = []  # (messageId, receiptHandle) of the messages handled
    failed: List[str] = []
    probe_errors = 0
    for each in records:
        record: Dict[str, Any] = each if isinstance(each, dict) else {}
        message_id, receipt = str(record.get("messageId", "")), str(record.get("receiptHandle", ""))
        try:
            message = parse(record.get("body"))
        except ValueError as exc:
            fields = {"messageId": message_id, "error": str(exc)}
            metric = MetricGroup({}, [("InvalidPresenceMessages", "Count", 1)])
            telemetry.log("WARNING", "invalid presence message", fields, [metric])
            done.append((message_id, receipt))
            continue
        try:
            result = liveness.handle(message)
        except (*hooks.FAILURES, ProbeFailed) as exc:
            probe_errors += isinstance(exc, ProbeFailed)
            failed.append(message_id)
            _log_failure(rt, message_id, message, exc)
            continue
        results[result] = results.get(result, 0) + 1
        done.append((message_id, receipt))
    if failed:
        _acknowledge(rt, presence, done)
    summary = {"messages": len(records), "results": results, "failed": len(failed), "probes": liveness.probes}
    metrics = [MetricGroup({}, [("LivenessProbes", "Count", liveness.probes), ("ProbeErrors", "Count", probe_errors)])]
    telemetry.log("WARNING" if failed else "INFO", "presence messages processed", summary, metrics)
    if failed:
        raise BatchIncomplete(f"{len(failed)} of {len(records)} presence messages failed: {failed[:10]}")
    return summary


def _log_failure(rt: Runtime, message_id: str, message: Message, error: Exception) -> None:
    code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
    fields = {
        "messageId": message_id,
        "kind": message.kind,
        "agentId": message.agent_id[:256],
        "connectionId": message.connection_id,
        "errorCode": code,
        "error": str(error)[:512],
    }
    metrics = [] if isinstance(error, ProbeFailed) else [MetricGroup({}, [("PresenceErrors", "Count", 1)])]
    rt.telemetry.log("ERROR", "presence message failed", fields, metrics)


def _acknowledge(rt: Runtime, presence: track.Presence, done: List[Tuple[str, str]]) -> None:
    """DeleteMessageBatch of the handled messages (a message not deleted comes back: handling is idempotent)."""
    handled = [(message_id, receipt) for message_id, receipt in done if receipt]
    for start in range(0, len(handled), DELETE_BATCH):
        chunk = handled[start : start + DELETE_BATCH]
        entries = [{"Id": str(n), "ReceiptHandle": receipt} for n, (_, receipt) in enumerate(chunk)]
        error = None
        try:
            answer = presence.rt.client("sqs").delete_message_batch(QueueUrl=presence.queue_url, Entries=entries)
            failed = [chunk[int(entry["Id"])][0] for entry in answer.get("Failed", [])]
        except hooks.FAILURES as exc:
            failed, error = [message_id for message_id, _ in chunk], type(exc).__name__
        if failed:
            fields = {"messageIds": failed, "error": error}
            rt.telemetry.log("WARNING", "presence messages not acknowledged", fields)
