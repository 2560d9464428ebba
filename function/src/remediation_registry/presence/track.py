"""Presence as the routes keep it: the transitions' outcomes become log lines and metrics.

  Presence  per container: the store, the queue, report() of an outcome
  closed    `$disconnect`: T2 (+ the grace message); never raises: the connection is already gone
The other routes' calls (`$connect`, the sweeper, the checker) are in hooks.py.

Log lines: `agent online` (INFO, metric AgentWentOnline), `agent offline` (WARNING, AgentWentOffline by
Reason), `agent presence not recorded` / `grace check not scheduled` (ERROR, PresenceErrors); hooks.py
adds `agent reconnected within grace` (INFO, ReconnectsWithinGrace) and `presence item invalid` (ERROR,
InvalidPresenceItems), which `$disconnect` never writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Type

from botocore.exceptions import BotoCoreError, ClientError

from .. import config
from ..store import for_log
from ..telemetry import MetricGroup
from .item import ABNORMAL_REASONS, CONNECTED, GRACE_KIND, OFFLINE, ONLINE, close_reason, encode_message
from .store import GRACE, REPAIRED, SUPERSEDED, Outcome, PresenceStore

if TYPE_CHECKING:
    from ..events import DisconnectEvent
    from ..runtime import Runtime

_ERRORS = [MetricGroup({}, [("PresenceErrors", "Count", 1)])]


class Presence:
    """Per container (Runtime.presence): the presence store, the queue (on first use) and the logs."""

    def __init__(self, rt: Runtime, settings: config.PresenceSettings, store: Type[PresenceStore]) -> None:
        self.rt = rt
        self.settings = settings
        self.telemetry = rt.telemetry
        self.store = store(rt.dynamodb, settings.table_name)

    def clock(self) -> int:
        """Now, in epoch ms (the store's clock: what its writes stamp)."""
        return self.store.clock()

    @property
    def queue_url(self) -> str:
        return config.required(self.settings.queue_url, "PRESENCE_QUEUE_URL", "presence sends grace and probe messages")

    def send(self, body: str, delay_seconds: int) -> None:
        """SendMessage to the presence queue (the runtime's SQS client, created on first use)."""
        self.rt.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay_seconds)

    def report(
        self, agent_id: str, connection_id: Optional[str], outcome: Outcome, fields: Optional[Mapping[str, Any]] = None
    ) -> None:
        """The transition's log line (and metric) of a presence write's outcome (hooks.report adds the others)."""
        base: Dict[str, Any] = {"agentId": for_log(agent_id), "connectionId": connection_id}
        base.update(outcome.event or {}, **(fields or {}))
        log = self.telemetry.log
        state = outcome.state if outcome.kind == REPAIRED else outcome.kind
        if state in (ONLINE, OFFLINE):
            reason, online = str(outcome.reason or CONNECTED), state == ONLINE
            base.update(sequence=outcome.sequence, since=outcome.since, reason=reason)
            base["abnormal"] = reason in ABNORMAL_REASONS
            metric = MetricGroup({} if online else {"Reason": reason}, [(f"AgentWent{state.title()}", "Count", 1)])
            log("INFO" if online else "WARNING", f"agent {state}", base, [metric])
        elif state == SUPERSEDED:
            log("DEBUG", "presence transition superseded", base)


def of(rt: Runtime, store: Type[PresenceStore] = PresenceStore) -> Presence:
    """The container's Presence (presence must be on: rt.settings.presence set); `$disconnect` needs only the
    PresenceStore, the other routes its subclass (hooks.py)."""
    found = rt.presence
    if found is None:
        settings = rt.settings.presence
        if settings is None:
            raise config.ConfigError("PRESENCE_TABLE is not set")
        found = rt.presence = Presence(rt, settings, store)
    return found


def closed(rt: Runtime, agent_id: str, event: DisconnectEvent, duration: Optional[float]) -> str:
    """`$disconnect`, after DeleteItem returned an agent's item: T2, and the grace message if a window opened.
    Never raises: the connection is gone whatever presence does (the reconciler repairs what fails here)."""
    connection_id = event.connection_id
    try:
        presence = of(rt)
        now = presence.clock()
        reason = close_reason(event.status_code)
        since = event.request_time_ms if event.request_time_ms is not None else now
        detail = {
            "connectionId": connection_id,
            "disconnectStatusCode": event.status_code,
            "disconnectReason": event.reason,
            "connectedAt": event.connected_at_ms,
            "durationSeconds": duration,
            "abnormal": reason in ABNORMAL_REASONS,
            "apiId": event.api_id,
            "stage": event.stage,
        }  # no detectedAt: the transition's own write time is (the announcer reads updatedAt)
        grace = presence.settings.grace_seconds
        outcome = presence.store.closed(agent_id, connection_id, reason, since, detail, grace * 1000)
    except (ClientError, BotoCoreError, config.ConfigError) as exc:
        rt.telemetry.log("ERROR", "agent presence not recorded", _failure(agent_id, connection_id, exc), _ERRORS)
        return "error"
    try:
        schedule_grace(presence, agent_id, outcome)
    except (ClientError, BotoCoreError, config.ConfigError) as exc:
        rt.telemetry.log("ERROR", "grace check not scheduled", _failure(agent_id, connection_id, exc), _ERRORS)
        return "grace_not_scheduled"
    presence.report(agent_id, connection_id, outcome, {"disconnectStatusCode": event.status_code})
    return outcome.kind


def schedule_grace(presence: Presence, agent_id: str, outcome: Outcome) -> None:
    """The grace message of the window T2 opened, if it opened one, due at its deadline (raises SQS's errors)."""
    if outcome.kind == GRACE:
        deadline = int(outcome.deadline or 0)
        body = encode_message(GRACE_KIND, agent_id, token=outcome.token, deadline=deadline)
        presence.send(body, delay_seconds((deadline - presence.clock()) / 1000))


def delay_seconds(seconds: float) -> int:
    """DelaySeconds for a message due in `seconds`: whole seconds, at least 1, at most SQS's 900."""
    return max(1, min(900, int(-(-seconds // 1))))


def _failure(agent_id: str, connection_id: str, error: Exception) -> Dict[str, Any]:
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else type(error).__name__
    return {"agentId": for_log(agent_id), "connectionId": connection_id, "errorCode": code, "error": str(error)[:512]}
