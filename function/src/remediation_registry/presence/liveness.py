"""The checker's handling of one presence message: a grace window's end, or one liveness probe.

  grace  arrived early (more than 1 s before its deadline, by this function's clock): sent again with
         the remaining delay; else T3 (offline if the window is still open)
  probe  older than API Gateway's 2-hour limit + grace: T4 expired (if still a member), no probe;
         GetConnection GoneException (if still a member): the `$disconnect` was lost or is still on its
         way; it carries the close's stamp and reason, so it gets `grace_seconds` to arrive: the same
         probe again, with goneAt, delayed by the grace ("gone_wait"); that one, if the connection is
         still a member (no `$disconnect` came), makes T2 with reason gone and a window from goneAt
         (an agent reconnected meanwhile has another connection: nothing more);
         alive but silent past the heartbeat timeout: DeleteConnection -> T4 heartbeat_timeout;
         alive: the next probe message, sent before this one is acknowledged
Throttling and other errors raise: the message is not acknowledged and SQS delivers it again.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional

from .. import contract
from ..management import ERROR, GONE
from . import hooks
from .item import (
    CONNECTIONS,
    EXPIRED,
    GRACE_KIND,
    HEARTBEAT_TIMEOUT,
    MESSAGE_VERSION,
    PROBE_KIND,
    encode_message,
)
from .item import GONE as GONE_REASON
from .track import delay_seconds
from .valid import kind

if TYPE_CHECKING:
    from ..management import Prober
    from ..runtime import Runtime
    from .track import Presence

EARLY_MS = 1000  # a grace message this early is sent again (clocks of two functions; SQS's delay decides)


class Message(NamedTuple):
    kind: str
    agent_id: str
    token: Optional[str] = None  # grace
    deadline: Optional[int] = None  # grace: epoch ms
    connection_id: Optional[str] = None  # probe
    connected_at: Optional[int] = None  # probe: epoch ms
    last_seen_at: Optional[int] = None  # probe: epoch ms, the last moment the connection was known alive
    gone_at: Optional[int] = None  # probe: epoch ms, when GetConnection first answered GoneException


def parse(body: Any) -> Message:
    """A message body, or ValueError saying what is wrong with it (the checker drops such a message)."""
    try:
        data = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    if data.get("v") != MESSAGE_VERSION:
        raise ValueError(f"unknown version {str(data.get('v'))[:16]!r}")
    found = data.get("kind")
    if found == GRACE_KIND:
        return Message(GRACE_KIND, _text(data, "agentId"), token=_text(data, "token"), deadline=_ms(data, "deadline"))
    if found == PROBE_KIND:
        return Message(
            PROBE_KIND,
            _text(data, "agentId"),
            connection_id=_text(data, "connectionId"),
            connected_at=_ms(data, "connectedAt"),
            last_seen_at=_ms(data, "lastSeenAt"),
            gone_at=_ms(data, "goneAt") if "goneAt" in data else None,
        )
    raise ValueError(f"unknown kind {str(found)[:16]!r}")


def _text(data: Dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is missing or not a string")
    return value


def _ms(data: Dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**16:
        raise ValueError(f"{name} is missing or not epoch milliseconds")
    return value


class ProbeFailed(RuntimeError):
    """@connections answered with an error other than GoneException (throttled, forbidden, unreachable)."""


class Liveness:
    def __init__(self, rt: Runtime, presence: Presence, prober: Prober) -> None:
        self.rt = rt
        self.presence = presence
        self.prober = prober
        self.probes = 0

    def handle(self, message: Message) -> str:
        """What became of the message: "resent", a transition outcome, "alive", "ended"..."""
        if message.kind == GRACE_KIND:
            return self.grace(message)
        return self.probe(message)

    def grace(self, message: Message) -> str:
        agent_id, token, deadline = message.agent_id, str(message.token), int(message.deadline or 0)
        now = self.presence.clock()
        if now < deadline - EARLY_MS:
            self.presence.send(
                encode_message(GRACE_KIND, agent_id, token=token, deadline=deadline),
                delay_seconds((deadline - now) / 1000),
            )
            return "resent"
        return hooks.grace_expired(self.rt, agent_id, token).kind

    def probe(self, message: Message) -> str:
        agent_id, connection_id = message.agent_id, str(message.connection_id)
        connected_at = int(message.connected_at or 0)
        now = self.presence.clock()
        limit = contract.MAX_CONNECTION_SECONDS * 1000
        if now >= connected_at + limit + self.rt.settings.grace_seconds * 1000:
            detail = {"connectedAt": connected_at, "durationSeconds": limit / 1000}
            return self._dead_if_member(agent_id, connection_id, EXPIRED, connected_at + limit, detail)
        if message.gone_at is not None:  # found gone a grace ago: did its `$disconnect` come meanwhile?
            return self._gone(message, now)
        self.probes += 1
        found = self.prober.inspect(connection_id)
        if found.status == GONE:
            return self._gone(message, now)
        if found.status == ERROR:
            raise ProbeFailed(f"GetConnection failed: {found.error}")
        timeout = self.presence.settings.heartbeat_timeout_seconds
        last_active = found.last_active_ms
        if timeout and last_active is not None and now - last_active > timeout * 1000:
            error = self.prober.close(connection_id)
            if error is not None:
                raise ProbeFailed(f"DeleteConnection failed: {error}")
            self._remove_connection(connection_id)
            duration = round(max(0, now - connected_at) / 1000, 3)
            detail = {"connectedAt": connected_at, "durationSeconds": duration}
            hooks.dead(self.rt, agent_id, connection_id, HEARTBEAT_TIMEOUT, last_active, detail, preempt=True)
            return HEARTBEAT_TIMEOUT
        body = encode_message(
            PROBE_KIND, agent_id, connectionId=connection_id, connectedAt=connected_at, lastSeenAt=now
        )
        self.presence.send(body, hooks.probe_delay(self.presence, now, last_active))
        return "alive"

    def _gone(self, message: Message, now: int) -> str:
        """A connection @connections no longer knows: its registry item removed if presence no longer lists
        it (`$connect`'s T5 removed it from presence while its `$disconnect` was lost); found now, the probe
        again after the grace (its `$disconnect`, with the close's stamp, may be on its way); found a grace
        ago and still listed: T2 (lost), the registry item removed."""
        agent_id, connection_id = message.agent_id, str(message.connection_id)
        if not self._member(agent_id, connection_id):
            self._remove_connection(connection_id)
            return "ended"
        fields = {
            "connectionId": connection_id,
            "connectedAt": message.connected_at,
            "lastSeenAt": message.last_seen_at,
        }
        if message.gone_at is None:
            body = encode_message(PROBE_KIND, agent_id, **fields, goneAt=now)
            self.presence.send(body, delay_seconds(self.presence.settings.grace_seconds))
            return "gone_wait"
        self._remove_connection(connection_id)
        since, detail = int(message.last_seen_at or 0), {"connectedAt": message.connected_at}
        return hooks.lost(self.rt, agent_id, connection_id, GONE_REASON, since, detail, message.gone_at).kind

    def _dead_if_member(
        self, agent_id: str, connection_id: str, reason: str, since: int, detail: Dict[str, Any]
    ) -> str:
        """T4 if the agent's presence still lists the connection; else the chain just ends (its `$disconnect`
        was handled, or the connection never made it online)."""
        if not self._member(agent_id, connection_id):
            return "ended"
        self._remove_connection(connection_id)
        hooks.dead(self.rt, agent_id, connection_id, reason, since, detail)
        return reason

    def _member(self, agent_id: str, connection_id: str) -> bool:
        client: Any = self.rt.dynamodb
        item: Optional[Dict[str, Any]] = client.get_item(
            TableName=self.presence.settings.table_name,
            Key={"agentId": {"S": agent_id}},
            ConsistentRead=True,
            ProjectionExpression="#conns",
            ExpressionAttributeNames={"#conns": CONNECTIONS},
        ).get("Item")
        if not item or CONNECTIONS not in item:
            return False
        # A set of another type: T4 repairs the item (store.py), so treat it as listing the connection.
        return kind(item, CONNECTIONS) != "SS" or connection_id in item[CONNECTIONS]["SS"]

    def _remove_connection(self, connection_id: str) -> None:
        """Delete the connection's registry item, if it is still there (a later `$disconnect` finds nothing)."""
        client: Any = self.rt.dynamodb
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.delete_item(
                TableName=self.rt.settings.table_name,
                Key={contract.CONNECTION_ID: {"S": connection_id}},
                ConditionExpression="attribute_exists(#id)",
                ExpressionAttributeNames={"#id": contract.CONNECTION_ID},
            )
