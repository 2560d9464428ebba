"""A connections table of any size for the sweeper's coverage benchmark, generated lazily, never stored.

Slot i (0 <= i < items) is the i-th item in scan order (DynamoDB scans in the hash order of the key;
here slot order plays that part). Its attributes are a pure function of i and of `now_ms` (the runner
moves it with each run, so live items stay live), so a 10-million-item table costs two bytearrays
(deleted, seen: 20 MB) instead of gigabytes: nothing about the items is approximated, only their
storage. Every 100th item (i % 100 == 7) is stale (connected 3 hours ago); a third are agents.

Operations, answering what DynamoDB answers (DynamoDB JSON in and out), for the sweeper's requests:
  Scan           Limit, ExclusiveStartKey, Segment/TotalSegments (contiguous slot ranges), pages end at
                 Limit items or 1 MB; read units counted as DynamoDB bills them (eventually consistent:
                 0.5 per started 4 KB of items read, per page)
  BatchWriteItem DeleteRequests (1 write unit each)
  GetItem/PutItem the sweeper's position item only, PutItem's version condition evaluated
  DeleteItem     with or without the sweeper's connectedAt condition
The position item itself is kept aside and never returned by Scan (in DynamoDB it is read once per
pass: one item of budget); requests are counted by operation.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any, Dict, List, Optional

PAGE_BYTES = 1024 * 1024
STALE_EVERY, STALE_AT = 100, 7
ID_WIDTH = 9


class ConditionalCheckFailedException(Exception):
    """What botocore raises for a failed condition (the sweeper catches it by this name)."""


class Exceptions:
    ConditionalCheckFailedException = ConditionalCheckFailedException


class ScaleTable:
    def __init__(self, items: int, now_ms: int) -> None:
        self.items = items
        self.now_ms = now_ms
        self.deleted = bytearray(items)
        self.seen = bytearray(items)  # 1 once a Scan returned the slot (coverage)
        self.position: Optional[Dict[str, Any]] = None
        self.counts: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ items

    @staticmethod
    def key_of(slot: int) -> str:
        return f"c{slot:0{ID_WIDTH}d}="

    @staticmethod
    def slot_of(connection_id: str) -> int:
        return int(connection_id[1 : 1 + ID_WIDTH])

    def item(self, slot: int) -> Dict[str, Dict[str, str]]:
        stale = slot % STALE_EVERY == STALE_AT
        age_ms = 3 * 3600 * 1000 if stale else (slot * 7919) % (3600 * 1000)
        connected = self.now_ms - age_ms
        attributes = {
            "connectionId": {"S": self.key_of(slot)},
            "clientType": {"S": "agent" if slot % 3 == 0 else "dashboard"},
            "connectedAt": {"N": str(connected)},
            "expiresAt": {"N": str(connected // 1000 + 7500)},
        }
        if slot % 3 == 0:
            attributes["agentId"] = {"S": f"agent-{slot:09d}"}
        return attributes

    @staticmethod
    def size(item: Dict[str, Dict[str, str]]) -> int:
        """DynamoDB's item size: attribute names plus values (numbers approximated by their digits)."""
        return sum(len(name) + len(next(iter(value.values()))) for name, value in item.items())

    def coverage(self) -> int:
        return sum(self.seen)

    # ------------------------------------------------------------------------------------- operations

    def scan(self, **kwargs: Any) -> Dict[str, Any]:
        limit = int(kwargs.get("Limit") or 10_000)
        total = int(kwargs.get("TotalSegments") or 1)
        segment = int(kwargs.get("Segment") or 0)
        low, high = segment * self.items // total, (segment + 1) * self.items // total
        start = kwargs.get("ExclusiveStartKey")
        slot = self.slot_of(start["connectionId"]["S"]) + 1 if start else low
        found: List[Dict[str, Any]] = []
        page_bytes = 0
        while slot < high and len(found) < limit:
            if not self.deleted[slot]:
                item = self.item(slot)
                page_bytes += self.size(item)
                if page_bytes > PAGE_BYTES:
                    break
                self.seen[slot] = 1
                found.append(item)
            slot += 1
        with self.lock:
            self.counts["Scan"] += 1
            self.read_units += 0.5 * max(1, math.ceil(page_bytes / 4096))
        reply: Dict[str, Any] = {"Items": found, "Count": len(found), "ScannedCount": len(found)}
        if slot < high and found:
            reply["LastEvaluatedKey"] = {"connectionId": found[-1]["connectionId"]}
        return reply

    def batch_write_item(self, **kwargs: Any) -> Dict[str, Any]:
        for requests in kwargs["RequestItems"].values():
            for request in requests:
                self.deleted[self.slot_of(request["DeleteRequest"]["Key"]["connectionId"]["S"])] = 1
            with self.lock:
                self.write_units += len(requests)
        with self.lock:
            self.counts["BatchWriteItem"] += 1
        return {"UnprocessedItems": {}}

    def delete_item(self, **kwargs: Any) -> Dict[str, Any]:
        slot = self.slot_of(kwargs["Key"]["connectionId"]["S"])
        with self.lock:
            self.counts["DeleteItem"] += 1
            self.write_units += 1
        if self.deleted[slot]:
            if "ConditionExpression" in kwargs:
                raise ConditionalCheckFailedException("gone")
            return {}
        old = self.item(slot)
        expected = kwargs.get("ExpressionAttributeValues", {}).get(":connectedAt")
        if expected is not None and expected != old["connectedAt"]:
            raise ConditionalCheckFailedException("changed")
        self.deleted[slot] = 1
        return {"Attributes": old} if kwargs.get("ReturnValues") == "ALL_OLD" else {}

    def get_item(self, **kwargs: Any) -> Dict[str, Any]:
        with self.lock:
            self.counts["GetItem"] += 1
            self.read_units += 1  # strongly consistent, under 4 KB
            return {"Item": dict(self.position)} if self.position else {}

    def put_item(self, **kwargs: Any) -> Dict[str, Any]:
        item = kwargs["Item"]
        with self.lock:
            self.counts["PutItem"] += 1
            self.write_units += max(1, math.ceil(self.size(item) / 1024))
            stored = (self.position or {}).get("version", {}).get("N")
            expected = kwargs.get("ExpressionAttributeValues", {}).get(":version", {}).get("N")
            if stored is not None and expected is not None and float(stored) != float(expected):
                raise ConditionalCheckFailedException("version")
            self.position = dict(item)
        return {}

    def query(self, **kwargs: Any) -> Dict[str, Any]:
        with self.lock:
            self.counts["Query"] += 1
        return {"Items": [], "Count": 0}


class InProcessClient:
    """The table through the method names of botocore's DynamoDB client, without HTTP."""

    exceptions = Exceptions

    def __init__(self, table: ScaleTable) -> None:
        self.table = table
        self.scan = table.scan
        self.batch_write_item = table.batch_write_item
        self.delete_item = table.delete_item
        self.get_item = table.get_item
        self.put_item = table.put_item
        self.query = table.query
