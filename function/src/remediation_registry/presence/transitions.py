"""The transitions other than `$disconnect`'s (store.py has T2 and the requests):

  T1 connected      $connect: join an online agent (b), else the online transition (a); b, a, b at most;
                    a grace window over by API Gateway's timestamps is closed first (T3), not joined;
                    so are the listed connections of an agent whose client reports it had none for
                    longer than the grace (T5: their `$disconnect` is late or lost)
  T3 grace_expired  the checker, on the grace message: offline if the window it names is still open
  T4 dead           the checker (gone, heartbeat_timeout), the sweeper (expired, gone): remove the
                    connection; offline at once if it was the agent's last
and the repair of an invalid item: one conditional PutItem, only if it is still the item that was read
(never a silent overwrite); its sequence still grows (design spec section 7). The reconciler also uses
offline_if_empty and repair.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Tuple

from .item import (
    AGENT_ID,
    ANNOUNCED,
    CONNECTED,
    CONNECTION_LOST,
    CONNECTIONS,
    EVENT,
    FORMAT,
    FORMAT_VERSION,
    GONE,
    OFFLINE,
    ONLINE,
    PENDING,
    REASON,
    RECONCILED,
    SEQUENCE,
    SINCE,
    STATE,
    TOKEN,
    UPDATED_AT,
    integer,
    to_map,
)
from .store import (
    CONNS_ARE_A_SET,
    GO_OFFLINE,
    JOINED,
    NO_WINDOW,
    NOT_ONLINE,
    PENDING_ALREADY,
    REPAIRED,
    SEQ_IS_NUMBER,
    STILL_ONLINE,
    SUPERSEDED,
    UNKNOWN,
    WENT_OFFLINE,
    WENT_ONLINE,
    Outcome,
    PresenceStore,
)
from .valid import kind, problem


class View(NamedTuple):
    """A valid presence item, read: what the checker, the reconciler and the repair look at."""

    state: str
    sequence: int
    connections: FrozenSet[str]
    pending: Optional[Dict[str, Any]]  # the pending map's members (wire format)
    since: Optional[int]
    updated_at: Optional[int]


def view(item: Mapping[str, Any]) -> View:
    """Read an item problem() accepted."""
    pending = item.get(PENDING)
    return View(
        state=str(item[STATE]["S"]),
        sequence=integer(item, SEQUENCE) or 0,
        connections=frozenset(item.get(CONNECTIONS, {}).get("SS", ())),
        pending=dict(pending["M"]) if isinstance(pending, dict) else None,
        since=integer(item, SINCE),
        updated_at=integer(item, UPDATED_AT),
    )


GO_ONLINE = (
    "SET #state = :online, #seq = if_not_exists(#seq, :zero) + :one, #since = :at, #reason = :connected,"
    " #event = :detail, #updated = :now, #format = :format ADD #conns :cid REMOVE #pending"
)
GRACE_OVER = (
    "SET #state = :offline, #seq = #seq + :one, #since = #pending.#since, #reason = #pending.#reason,"
    " #event = #pending.#event, #updated = :now REMOVE #pending"
)
WINDOW_STILL_OPEN = (
    "#pending.#token = :token AND attribute_not_exists(#conns) AND #state = :online AND attribute_type(#seq, :N)"
    " AND attribute_type(#pending.#since, :N) AND attribute_type(#pending.#reason, :S)"
    " AND attribute_type(#pending.#event, :M)"
)


def over(item: Mapping[str, Any], opened: int, reported: bool = False) -> Optional[str]:
    """The token of the item's grace window if its close (API Gateway's stamp) came before `opened`. A
    window the checker opened for a connection found gone has no such stamp: over only when the client
    `reported` an outage longer than the grace (T5), else never."""
    pending = item.get(PENDING, {}).get("M") if isinstance(item.get(PENDING), dict) else None
    if not isinstance(pending, dict) or problem(item) is not None:
        return None
    if pending[REASON].get("S") == GONE:
        return str(pending[TOKEN]["S"]) if reported else None
    since = integer(pending, SINCE)
    return str(pending[TOKEN]["S"]) if since is not None and since < opened else None


class Contended(RuntimeError):
    """T1 lost its conditional writes three times in a row (the item changed under every attempt)."""


PENDING_IS_A_MAP = "(attribute_not_exists(#pending) OR attribute_type(#pending, :M))"


class Transitions(PresenceStore):
    NAMES: ClassVar[Mapping[str, str]] = {**PresenceStore.NAMES, "#format": FORMAT, "#token": TOKEN}
    CONSTANTS: ClassVar[Mapping[str, Any]] = {
        **PresenceStore.CONSTANTS,
        ":connected": {"S": CONNECTED},
        ":zero": {"N": "0"},
        ":format": {"N": str(FORMAT_VERSION)},
        ":S": {"S": "S"},
        ":M": {"S": "M"},
    }

    # -- T1 --------------------------------------------------------------------------------------------
    def connected(
        self,
        agent_id: str,
        connection_id: str,
        connected_at: int,
        detail: Mapping[str, Any],
        grace_ms: Optional[int] = None,
        down_ms: Optional[int] = None,
    ) -> Outcome:
        """T1: b (join an online agent: the common case, one write), else a (the online transition), else b.

        With `grace_ms`, an open window whose close API Gateway stamped more than grace_ms before this
        connection's connectedAt is not joined: the agent WAS offline longer than the grace, however late the
        functions ran. T1 first makes that window's offline transition (T3's write, so once), then goes online.

        `down_ms`: how long the agent's client says it had no connection when it opened this one (`downMs`
        on the `$connect` URL). Longer than the grace while presence still lists connections and no window
        is open (their `$disconnect` is late or was lost, so nothing stamped the close): T5 first, then a.
        """
        values = {":cid": {"SS": [connection_id]}, ":at": {"N": str(connected_at)}, ":detail": to_map(detail)}
        join = f"#state = :online AND {CONNS_ARE_A_SET} AND {PENDING_IS_A_MAP}"
        # T5: the client reports it had no connection for longer than the grace: it joins neither listed
        # connections nor a window without a close stamp (gone).
        long_down = down_ms is not None and grace_ms is not None and down_ms > grace_ms
        lost_at = connected_at - int(down_ms or 0) if long_down else None  # None once T5 was tried
        if grace_ms is not None:
            values.update({":opened": {"N": str(connected_at - grace_ms)}, ":gone": {"S": GONE}})
            stamped = "#pending.#reason <> :gone AND " if long_down else "#pending.#reason = :gone OR "
            join += f" AND (attribute_not_exists(#pending) OR {stamped}#pending.#since >= :opened)"
        expired: Optional[Outcome] = None
        for attempt in range(3 if lost_at is None else 5):  # T5 tried once: b, a, b, a, b at most
            if attempt % 2 == 0:
                claim = " AND attribute_not_exists(#conns)" if lost_at is not None else ""
                done, item = self._update(
                    agent_id, "ADD #conns :cid SET #updated = :now REMOVE #pending", join + claim, values, "UPDATED_OLD"
                )
                if done is not None:
                    return Outcome(JOINED, reconnect=PENDING in done, expired=expired)
                if item is None or item.get(STATE) in (None, {"S": OFFLINE}):
                    continue  # not online: the transition (a)
                token = over(item, connected_at - grace_ms, long_down) if grace_ms is not None else None
                if token is not None and expired is None:
                    expired = self.grace_expired(agent_id, token)  # T3 now; then the transition (a)
                    continue
                if lost_at is not None and problem(item) is None:
                    lost = self.reported_lost(agent_id, item, lost_at, detail)
                    lost_at = None  # made (then a), else not to be made (then b): once
                    expired = lost if lost.kind == WENT_OFFLINE else expired
                    continue
            else:
                done, item = self._update(
                    agent_id,
                    GO_ONLINE,
                    "(attribute_not_exists(#state) OR #state = :offline) AND (attribute_not_exists(#seq) OR "
                    + SEQ_IS_NUMBER
                    + ") AND "
                    + CONNS_ARE_A_SET,
                    values,
                    "ALL_NEW",
                )
                if done is not None:
                    return Outcome(WENT_ONLINE, integer(done, SEQUENCE), since=connected_at, expired=expired)
                if item is not None and item.get(STATE) == {"S": ONLINE} and problem(item) is None:
                    continue  # someone else brought it online: join (b)
            if item is not None and problem(item) is not None:
                return self._repair(agent_id, item, add=connection_id, since=connected_at, detail=detail)
        raise Contended(f"presence of {agent_id[:64]!r} changed under three conditional writes")

    # -- T5 --------------------------------------------------------------------------------------------
    def reported_lost(self, agent_id: str, item: Mapping[str, Any], lost_at: int, detail: Mapping[str, Any]) -> Outcome:
        """T5: the agent's client reports its connections were lost at `lost_at` (connectedAt - downMs) and it
        is back only now, more than the grace later (the caller checked); presence, as read in `item`,
        still lists them with no window open: none of their `$disconnect`s has come. The offline transition
        (reason connection_lost, since lost_at) removing them, once: only if the item is still as read. A
        report from before the agent's current online period began names no connection presence lists
        (another process of the agent, or a wrong clock): NOT_ONLINE, nothing written, the caller joins.
        Their `$disconnect`s, when they come, find the connections gone (T2: nothing more)."""
        found = view(item)
        if found.state != ONLINE or found.pending is not None or not found.connections:
            return Outcome(SUPERSEDED)
        if found.since is None or lost_at < found.since:
            return Outcome(NOT_ONLINE)
        only = next(iter(found.connections)) if len(found.connections) == 1 else None
        fields = {**detail, "connectionId": only, "connectedAt": None, "abnormal": True}
        fields["disconnectReason"] = "reported by the agent's client on reconnect (downMs)"
        values = {
            ":seen": {"N": str(found.sequence)},
            ":conns": item[CONNECTIONS],
            ":since": {"N": str(lost_at)},
            ":reason": {"S": CONNECTION_LOST},
            ":detail": to_map(fields),
        }
        done, _ = self._update(
            agent_id,
            f"{GO_OFFLINE}, #updated = :now REMOVE #conns",
            "#state = :online AND #seq = :seen AND #conns = :conns AND attribute_not_exists(#pending)",
            values,
            "ALL_NEW",
        )
        if done is None:
            return Outcome(SUPERSEDED)
        event = {"connectionId": only}
        return Outcome(WENT_OFFLINE, integer(done, SEQUENCE), CONNECTION_LOST, lost_at, event=event)

    # -- T3 --------------------------------------------------------------------------------------------
    def grace_expired(self, agent_id: str, token: str) -> Outcome:
        """T3: the offline transition, if the window `token` names is still open and no connection came."""
        done, item = self._update(agent_id, GRACE_OVER, WINDOW_STILL_OPEN, {":token": {"S": token}}, "ALL_NEW")
        if done is not None:
            closed = done.get(EVENT, {}).get("M", {})
            event = {"connectionId": closed.get("connectionId", {}).get("S")}
            event["disconnectStatusCode"] = integer(closed, "disconnectStatusCode")
            reason, since = done[REASON].get("S"), integer(done, SINCE)
            return Outcome(WENT_OFFLINE, integer(done, SEQUENCE), reason, since, event=event)
        if item is not None and problem(item) is not None:
            return self._repair(agent_id, item)
        return Outcome(SUPERSEDED)

    # -- T4 --------------------------------------------------------------------------------------------
    def dead(
        self,
        agent_id: str,
        connection_id: str,
        reason: str,
        since: int,
        detail: Mapping[str, Any],
        preempt: bool = False,
    ) -> Outcome:
        """T4: remove a connection known dead (a); offline at once if the agent has no other one (b).

        An open grace window is overtaken only when this connection was still a member (or `preempt`:
        the checker closed it itself, so the `$disconnect` that opened the window was its own doing).
        """
        old, item = self._update(
            agent_id,
            "DELETE #conns :cid SET #updated = :now",
            "attribute_exists(#agent) AND " + CONNS_ARE_A_SET,
            {":cid": {"SS": [connection_id]}},
            "ALL_OLD",
        )
        if old is not None and problem(old) is not None:
            item = self._current(agent_id)  # the write went through: repair the item as it is now
        if old is None or problem(old) is not None:
            return self._unexpected(agent_id, item, remove=connection_id, since=since, detail=detail)
        found = view(old)
        member = connection_id in found.connections
        if found.state != ONLINE or found.connections - {connection_id}:
            return Outcome(NOT_ONLINE if found.state != ONLINE else STILL_ONLINE)
        if found.pending is not None and not (member or preempt):
            return Outcome(PENDING_ALREADY)
        return self._offline(agent_id, reason, since, detail)

    def offline_if_empty(
        self, agent_id: str, reason: str, since: int, detail: Mapping[str, Any], expected_updated_at: Optional[int]
    ) -> Outcome:
        """The reconciler's T4 b: offline an agent found online without connections or window (as read)."""
        if expected_updated_at is None:
            return self._offline(agent_id, reason, since, detail, f"{NO_WINDOW} AND attribute_not_exists(#updated)")
        seen = {":seen": {"N": str(expected_updated_at)}}
        return self._offline(agent_id, reason, since, detail, f"{NO_WINDOW} AND #updated = :seen", **seen)

    def repair(self, agent_id: str, item: Mapping[str, Any]) -> Outcome:
        """Repair an item the reconciler found invalid (as _repair: conditional on it being unchanged)."""
        return self._repair(agent_id, dict(item))

    def _current(self, agent_id: str) -> Optional[Dict[str, Any]]:
        """The item as it is now, through a write that cannot succeed (its condition never holds): the
        functions that repair may write presence items, not read them (least privilege; one write unit)."""
        return self._update(
            agent_id, "SET #updated = :now", "attribute_not_exists(#agent) AND attribute_exists(#agent)", {}, "NONE"
        )[1]

    def _unexpected(self, agent_id: str, item: Optional[Dict[str, Any]], **repair: Any) -> Outcome:
        """A failed condition's item: none (UNKNOWN), invalid (repaired), or another write won (SUPERSEDED)."""
        if item is None:
            return Outcome(UNKNOWN)
        if problem(item) is not None:
            return self._repair(agent_id, item, **repair)
        return Outcome(SUPERSEDED)

    def _repair(
        self,
        agent_id: str,
        old: Dict[str, Any],
        add: Optional[str] = None,
        remove: Optional[str] = None,
        since: Optional[int] = None,
        detail: Optional[Mapping[str, Any]] = None,
    ) -> Outcome:
        """Replace an invalid item with a fresh one, if it is still the item read (design spec section 7).

        Online if a live connection remains (the valid members of the old set, minus `remove`, plus
        `add`), else offline with reason "reconciled"; sequence = max(old + 1, now) so it still only
        grows; the announcer's mark is kept. Never a made-up past: since is what this call knows.
        """
        bad = problem(old)
        members = set(old[CONNECTIONS]["SS"]) if kind(old, CONNECTIONS) == "SS" else set()
        members.discard(remove or "")
        members.update([add] if add else [])
        now = self.clock()
        sequence = max((integer(old, SEQUENCE) or 0) + 1, now)
        fields = dict(detail or {})
        item: Dict[str, Any] = {
            AGENT_ID: {"S": agent_id},
            SEQUENCE: {"N": str(sequence)},
            SINCE: {"N": str(since if since is not None else now)},
            UPDATED_AT: {"N": str(now)},
            FORMAT: {"N": str(FORMAT_VERSION)},
        }
        if members:
            item.update({STATE: {"S": ONLINE}, REASON: {"S": CONNECTED}, CONNECTIONS: {"SS": sorted(members)}})
        else:
            fields.update(abnormal=True, detectedAt=now)
            item.update({STATE: {"S": OFFLINE}, REASON: {"S": RECONCILED}})
        item[EVENT] = to_map(fields)
        if integer(old, ANNOUNCED) is not None:
            item[ANNOUNCED] = old[ANNOUNCED]
        condition, names, values = unchanged(old)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return Outcome(SUPERSEDED, invalid=bad)
        state = ONLINE if members else OFFLINE
        reason = None if members else RECONCILED
        return Outcome(REPAIRED, sequence, reason, int(item[SINCE]["N"]), invalid=bad, state=state)


# The attributes a repair requires unchanged since they were read (with agentId: never a silent overwrite).
_COMPARED = (STATE, SEQUENCE, CONNECTIONS, PENDING, UPDATED_AT, SINCE, REASON, EVENT, FORMAT, ANNOUNCED)


def unchanged(old: Mapping[str, Any]) -> Tuple[str, Dict[str, str], Dict[str, Any]]:
    """A condition that holds only while the item is still `old` (as far as presence attributes go)."""
    parts: List[str] = ["attribute_exists(#agent)"]
    names = {"#agent": AGENT_ID}
    values: Dict[str, Any] = {}
    for number, name in enumerate(_COMPARED):
        names[f"#r{number}"] = name
        found = kind(old, name)
        if found is None:
            parts.append(f"attribute_not_exists(#r{number})")
        elif found in ("S", "N", "B", "SS", "NS", "BS"):
            parts.append(f"#r{number} = :r{number}")
            values[f":r{number}"] = old[name]
        else:
            parts.append(f"attribute_type(#r{number}, :t{number})")
            values[f":t{number}"] = {"S": found}
    return " AND ".join(parts), names, values
