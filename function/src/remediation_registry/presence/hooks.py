"""Presence for `$connect`, the sweeper and the checker (track.py has `$disconnect`'s):

connected      `$connect`: the connection's first probe message, then T1; None = refuse the handshake
dead           the sweeper and the checker: T4 (raises: the caller decides)
lost           the checker, a connection found gone a grace ago and still listed: T2 and its grace window,
               as its lost `$disconnect` would have (raises)
grace_expired  the checker: T3 (raises)
probe_delay    when a connection's next liveness probe is due
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, cast

from botocore.exceptions import BotoCoreError, ClientError

from ..store import for_log
from ..telemetry import MetricGroup
from .item import PROBE_KIND, encode_message
from .store import Outcome
from .track import _ERRORS, Presence, _failure, delay_seconds, of, schedule_grace
from .transitions import Contended, Transitions

if TYPE_CHECKING:
    from ..runtime import Runtime

FAILURES = (ClientError, BotoCoreError, Contended)


def presence(rt: Runtime) -> Presence:
    """The container's Presence, with all transitions."""
    found = of(rt, Transitions)
    if not isinstance(found.store, Transitions):  # one process serving `$disconnect` too (tests, a local run)
        found.store = Transitions(rt.dynamodb, found.settings.table_name, found.store.clock)
    return found


def store(found: Presence) -> Transitions:
    return cast(Transitions, found.store)


def report(found: Presence, agent_id: str, connection_id: Optional[str], outcome: Outcome) -> None:
    """The log lines (and metrics) of an outcome: an invalid item, a reconnect within grace, a transition."""
    if outcome.expired is not None:  # T1 closed a window whose grace was over before it went online
        report(found, agent_id, None, outcome.expired)
    log, fields = found.telemetry.log, {"agentId": for_log(agent_id), "connectionId": connection_id}
    if outcome.invalid is not None:
        found_item = {**fields, "attribute": outcome.invalid, "repairedTo": outcome.state}
        metric = MetricGroup({}, [("InvalidPresenceItems", "Count", 1)])
        log("ERROR", "presence item invalid", found_item, [metric])
    if outcome.reconnect:
        metric = MetricGroup({}, [("ReconnectsWithinGrace", "Count", 1)])
        log("INFO", "agent reconnected within grace", fields, [metric])
    found.report(agent_id, connection_id, outcome)


def probe_delay(found: Presence, now: int, last_active: Optional[int]) -> int:
    """DelaySeconds of a connection's next probe: just past its heartbeat timeout, or the probe interval."""
    timeout = found.settings.heartbeat_timeout_seconds
    if not timeout:
        return delay_seconds(found.settings.probe_interval_seconds)
    return delay_seconds(((now if last_active is None else last_active) + 1000 * (timeout + 1) - now) / 1000)


def connected(
    rt: Runtime,
    agent_id: str,
    connection_id: str,
    connected_at: int,
    api_id: Optional[str],
    stage: Optional[str],
    down_ms: Optional[int] = None,
) -> Optional[str]:
    """`$connect`, after the connection item was written: the first probe, then T1 (with the client's `downMs`
    report, if any). The outcome, or None when either failed (the caller refuses the handshake; the
    connection item is left to the sweeper)."""
    found = presence(rt)
    now = found.clock()
    step = "probe"
    try:
        body = encode_message(
            PROBE_KIND, agent_id, connectionId=connection_id, connectedAt=connected_at, lastSeenAt=now
        )
        found.send(body, probe_delay(found, now, None))
        step = "online"
        detail = {"connectionId": connection_id, "connectedAt": connected_at, "apiId": api_id, "stage": stage}
        grace_ms = found.settings.grace_seconds * 1000
        detail = {**detail, "detectedAt": now}
        outcome = store(found).connected(agent_id, connection_id, connected_at, detail, grace_ms, down_ms)
    except FAILURES as exc:
        fields = {**_failure(agent_id, connection_id, exc), "step": step, "result": "refused"}
        rt.telemetry.log("ERROR", "agent presence not recorded", fields, _ERRORS)
        return None
    report(found, agent_id, connection_id, outcome)
    return outcome.kind


def dead(
    rt: Runtime,
    agent_id: str,
    connection_id: str,
    reason: str,
    since: int,
    detail: Mapping[str, Any],
    preempt: bool = False,
) -> Outcome:
    """T4 for a connection known dead (sweeper: expired, gone; checker: gone, heartbeat_timeout). Raises
    the store's errors: the sweeper logs them, the checker retries the message."""
    found = presence(rt)
    fields = {"abnormal": True, **detail, "connectionId": connection_id, "detectedAt": found.clock()}
    outcome = store(found).dead(agent_id, connection_id, reason, since, fields, preempt)
    report(found, agent_id, connection_id, outcome)
    return outcome


def lost(
    rt: Runtime, agent_id: str, connection_id: str, reason: str, since: int, detail: Mapping[str, Any], gone_at: int
) -> Outcome:
    """T2 for a connection @connections has not known since `gone_at` while presence still lists it: its
    `$disconnect` was lost. Like that `$disconnect`, the last connection opens a grace window, from `gone_at`
    (`since`, last seen alive, is no close time), resolved by T3 with this reason. Raises the store's and
    SQS's errors (the probe message is retried; a window whose grace message was never sent is resolved by
    the reconciler)."""
    found = presence(rt)
    now = found.clock()
    fields = {"abnormal": True, **detail, "connectionId": connection_id, "detectedAt": now}
    grace_ms = found.settings.grace_seconds * 1000
    outcome = store(found).closed(agent_id, connection_id, reason, since, fields, grace_ms, start=gone_at)
    schedule_grace(found, agent_id, outcome)
    report(found, agent_id, connection_id, outcome)
    return outcome


def grace_expired(rt: Runtime, agent_id: str, token: str) -> Outcome:
    """T3, for the checker's grace message (raises the store's errors: the message is retried)."""
    found = presence(rt)
    outcome = store(found).grace_expired(agent_id, token)
    report(found, agent_id, None, outcome)
    return outcome
