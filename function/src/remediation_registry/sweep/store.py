"""The connections table's sweeper-only operations: paged parallel Scan, batched and conditional deletes.

Kept off the `$disconnect` handler's import and compile (ConnectionStore in store.py is what every
function shares).
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional

from ..contract import AGENT_ID, CLIENT_TYPE, CONNECTED_AT, CONNECTION_ID, POSITION_KEY
from ..store import Connection, ConnectionStore

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_ATTEMPTS = 6
PAGE_SIZE = 10_000  # items per Scan request at most; DynamoDB also ends a page at 1 MB (~6,900 items)


def _exact_number(item: Mapping[str, Any], name: str, parsed: Optional[int]) -> Optional[str]:
    """The number's text as stored when the integer read from it is not the same value ("1.5", 20+ digits)."""
    value = item.get(name)
    if parsed is None or not isinstance(value, dict) or not isinstance(value.get("N"), str):
        return None
    text = str(value["N"])
    return None if text == str(parsed) else text


def read(item: Mapping[str, Any], ttl_attribute: str) -> Connection:
    """A scanned item as a Connection, with connectedAt exactly as stored for the conditional delete."""
    connection = Connection.from_item(item, ttl_attribute)
    exact = _exact_number(item, CONNECTED_AT, connection.connected_at_ms)
    return connection._replace(connected_at_exact=exact) if exact else connection


def expired(connection: Connection, now: float, max_age_seconds: int) -> bool:
    """Past its TTL, or older than API Gateway's connection limit plus grace.

    DynamoDB deletes TTL-expired items only within days and still returns them in reads, so callers
    must treat an expired item as gone.
    """
    if connection.expires_at is not None and connection.expires_at <= now:
        return True
    return connection.connected_at_ms is not None and connection.connected_at_ms / 1000.0 + max_age_seconds <= now


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
            items = [read(item, self.ttl_attribute) for item in raw]
            connections = [item for item in items if item.connection_id and item.connection_id != POSITION_KEY]
            yield Page(connections, last_key, int(response.get("ScannedCount", len(raw))))
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key
