"""The presence transitions (docs/presence.md) over the low-level client.

Every transition online <-> offline is ONE conditional UpdateItem: whoever's write succeeds made it,
and the table's stream carries it once (the announcer publishes it). Every write names its attributes
through ExpressionAttributeNames, guards the types it relies on (so an invalid item fails the condition
instead of the update) and asks for the item on a failed condition (ReturnValuesOnConditionCheckFailure:
no read, no extra request).

This module holds what `$disconnect` needs (its zip stays under 16 KiB): the requests, and
  T2 closed         $disconnect: the last connection closes -> a grace window opens (pending), or with
                    grace 0 the offline transition itself; another connection left -> nothing more
The other transitions (T1, T3, T4) and the repair of an invalid item (one conditional PutItem, only if it
is still the item that was read; its sequence still grows) are in transitions.py, the validation in
valid.py: on an invalid item, `$disconnect`'s writes fail their condition and change nothing, and the
reconciler repairs it.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Callable, ClassVar, Dict, Mapping, NamedTuple, Optional, Tuple

from .item import (
    AGENT_ID,
    CONNECTIONS,
    DEADLINE,
    EVENT,
    OFFLINE,
    ONLINE,
    PENDING,
    REASON,
    SEQUENCE,
    SINCE,
    STATE,
    TOKEN,
    UPDATED_AT,
    integer,
    to_map,
)

# Outcomes (Outcome.kind).
WENT_ONLINE = "online"  # T1 a: the transition to online
JOINED = "joined"  # T1 b: one more connection of an online agent (reconnect=True: inside its grace window)
GRACE = "grace"  # T2: the last connection closed, a grace window opened (token, deadline)
WENT_OFFLINE = "offline"  # T2 (grace 0), T3, T4: the transition to offline
STILL_ONLINE = "still_online"  # another connection of the agent is live
PENDING_ALREADY = "pending"  # a grace window was already open
NOT_ONLINE = "not_online"  # the agent was offline already
UNKNOWN = "unknown"  # no presence item (e.g. connected before presence was enabled)
SUPERSEDED = "superseded"  # a condition failed: another write decided first
REPAIRED = "repaired"  # the item was invalid and was replaced (state, sequence)

_PLACEHOLDER = re.compile(r"[#:][A-Za-z]+")

SEQ_IS_NUMBER = "attribute_type(#seq, :N)"
CONNS_ARE_A_SET = "(attribute_not_exists(#conns) OR attribute_type(#conns, :SS))"
# T2 a: this connection is the online agent's last, and no window is open yet.
LAST_CONNECTION = (
    "#state = :online AND attribute_type(#conns, :SS) AND size(#conns) = :one AND contains(#conns, :cidS)"
    " AND attribute_not_exists(#pending)"
)
NO_WINDOW = " AND attribute_not_exists(#pending)"
GO_OFFLINE = "SET #state = :offline, #seq = #seq + :one, #since = :since, #reason = :reason, #event = :detail"


class Outcome(NamedTuple):
    kind: str
    sequence: Optional[int] = None  # a transition's (or a repair's) sequence
    reason: Optional[str] = None  # an offline transition's reason
    since: Optional[int] = None
    reconnect: bool = False  # JOINED inside an open grace window
    token: Optional[str] = None  # GRACE: the window's token and deadline (epoch ms)
    deadline: Optional[int] = None
    invalid: Optional[str] = None  # REPAIRED (or SUPERSEDED before repairing): the attribute at fault
    state: Optional[str] = None  # REPAIRED: the state written
    event: Optional[Dict[str, Any]] = None  # T3: connectionId, disconnectStatusCode of the close it announces
    expired: Any = None  # T1: the Outcome of the grace window T1 found over before it went online


def now_ms() -> int:
    return int(time.time() * 1000)


class PresenceStore:
    # The attribute names and constant values requests may use (each request sends those it uses).
    NAMES: ClassVar[Mapping[str, str]] = {
        "#agent": AGENT_ID,
        "#state": STATE,
        "#seq": SEQUENCE,
        "#since": SINCE,
        "#reason": REASON,
        "#conns": CONNECTIONS,
        "#pending": PENDING,
        "#event": EVENT,
        "#updated": UPDATED_AT,
    }
    CONSTANTS: ClassVar[Mapping[str, Any]] = {
        ":online": {"S": ONLINE},
        ":offline": {"S": OFFLINE},
        ":one": {"N": "1"},
        ":N": {"S": "N"},
        ":SS": {"S": "SS"},
    }

    def __init__(self, client: Any, table_name: str, clock: Optional[Callable[[], int]] = None) -> None:
        self.client = client
        self.table_name = table_name
        self.clock = clock or (lambda: now_ms())  # noqa: PLW0108 - the module's clock, looked up at each call

    # -- T2 --------------------------------------------------------------------------------------------
    def closed(
        self,
        agent_id: str,
        connection_id: str,
        reason: str,
        since: int,
        detail: Mapping[str, Any],
        grace_ms: int,
        start: Optional[int] = None,
    ) -> Outcome:
        """T2: a (the last connection: a window opens, or with grace 0 the offline transition), else b.

        The window ends `grace_ms` after `start` (default: `since`, the close as API Gateway stamped it), not
        after this call: a `$disconnect` handled late does not stretch the grace (never past now + grace)."""
        values: Dict[str, Any] = {
            ":cid": {"SS": [connection_id]},
            ":cidS": {"S": connection_id},
            ":since": {"N": str(since)},
            ":reason": {"S": reason},
            ":detail": to_map(detail),
        }
        window = self._window(values, reason, since, grace_ms, since if start is None else start)
        if grace_ms > 0:
            done, item = self._update(
                agent_id, "DELETE #conns :cid SET #pending = :pending, #updated = :now", LAST_CONNECTION, values, "NONE"
            )
            if done is not None:
                return window
        else:
            done, item = self._update(
                agent_id,
                f"DELETE #conns :cid {GO_OFFLINE}, #updated = :now",
                f"{LAST_CONNECTION} AND {SEQ_IS_NUMBER}",
                values,
                "ALL_NEW",
            )
            if done is not None:
                return Outcome(WENT_OFFLINE, integer(done, SEQUENCE), reason, since)
        repair = {"remove": connection_id, "since": since, "detail": detail}
        if item is None:
            return Outcome(UNKNOWN)
        done, item = self._update(
            agent_id,
            "DELETE #conns :cid SET #updated = :now",
            "attribute_exists(#agent) AND " + CONNS_ARE_A_SET,
            values,
            "ALL_NEW",
        )
        if done is None:
            return self._unexpected(agent_id, item, **repair)
        return self._after_close(agent_id, done, values, window, grace_ms, reason, since, detail)

    def _window(self, values: Dict[str, Any], reason: str, since: int, grace_ms: int, start: int) -> Outcome:
        """The grace window T2 opens: its pending map goes into `values`."""
        token, deadline = os.urandom(8).hex(), min(start, self.clock()) + grace_ms
        values[":pending"] = {
            "M": {
                TOKEN: {"S": token},
                DEADLINE: {"N": str(deadline)},
                REASON: {"S": reason},
                SINCE: {"N": str(since)},
                EVENT: values[":detail"],
            }
        }
        return Outcome(GRACE, reason=reason, since=since, token=token, deadline=deadline)

    def _after_close(
        self,
        agent_id: str,
        item: Dict[str, Any],
        values: Dict[str, Any],
        window: Outcome,
        grace_ms: int,
        reason: str,
        since: int,
        detail: Mapping[str, Any],
    ) -> Outcome:
        """T2 b's new image: open the window if a concurrent close removed the agent's other connection."""
        if item.get(STATE) != {"S": ONLINE}:
            return Outcome(NOT_ONLINE)
        if CONNECTIONS in item or PENDING in item:
            return Outcome(STILL_ONLINE if CONNECTIONS in item else PENDING_ALREADY)
        if grace_ms == 0:
            return self._offline(agent_id, reason, since, detail, NO_WINDOW)
        done, _ = self._update(
            agent_id,
            "SET #pending = :pending, #updated = :now",
            "#state = :online AND attribute_not_exists(#conns) AND attribute_not_exists(#pending)",
            values,
            "NONE",
        )
        return window if done is not None else Outcome(SUPERSEDED)

    def _offline(
        self, agent_id: str, reason: str, since: int, detail: Mapping[str, Any], condition: str = "", **values: Any
    ) -> Outcome:
        """T4 b: offline, if online with no connection (and `condition`: more of what must still hold)."""
        condition = f"#state = :online AND attribute_not_exists(#conns) AND {SEQ_IS_NUMBER}{condition}"
        values.update({":since": {"N": str(since)}, ":reason": {"S": reason}, ":detail": to_map(detail)})
        done, item = self._update(
            agent_id, f"{GO_OFFLINE}, #updated = :now REMOVE #pending", condition, values, "ALL_NEW"
        )
        if done is not None:
            return Outcome(WENT_OFFLINE, integer(done, SEQUENCE), reason, since)
        return self._unexpected(agent_id, item, since=since, detail=detail)

    # -- requests --------------------------------------------------------------------------------------
    def _update(
        self, agent_id: str, update: str, condition: str, values: Mapping[str, Any], returns: str
    ) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
        """(the attributes ReturnValues asked for, None) or, when the condition failed, (None, the item as it
        was: None if absent)."""
        used = set(_PLACEHOLDER.findall(f"{update} {condition}"))
        given = {**self.CONSTANTS, ":now": {"N": str(self.clock())}, **values}
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={AGENT_ID: {"S": agent_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={name: value for name, value in self.NAMES.items() if name in used},
                ExpressionAttributeValues={name: value for name, value in given.items() if name in used},
                ReturnValues=returns,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item")
            return None, dict(item) if item else None
        return dict(response.get("Attributes") or {}), None

    def _unexpected(self, agent_id: str, item: Optional[Dict[str, Any]], **repair: Any) -> Outcome:
        """A failed condition's item: none (UNKNOWN), or another write won (SUPERSEDED; with the attribute at
        fault when the item is invalid: `$disconnect` leaves the repair to the reconciler, Transitions repairs)."""
        return Outcome(UNKNOWN) if item is None else Outcome(SUPERSEDED)
