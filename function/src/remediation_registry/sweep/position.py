"""The sweeper's pass over the table and its scan position, saved between runs."""

from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple, Optional, Protocol, Set

from ..contract import CONNECTION_ID, POSITION_KEY

# The sweeper's scan position, kept between runs in one reserved item of the connections table.
#
# Why there: the sweeper already reads that table, so the position costs one strongly consistent
# GetItem and one conditional PutItem per run (about 1.5 request units), needs no other resource, and the
# IAM grant is two actions on the table ARN limited by `dynamodb:LeadingKeys` to POSITION_KEY. No API
# Gateway connection id can equal POSITION_KEY (ids are base64 text, without "~" or "/"), the item has
# no agentId (so it is not in the agent index) and no TTL attribute (so it never expires); the table
# reads of the package skip it (SweepStore.scan_segment).
#
# Every write is conditional on the version read at the start of the run: of two overlapping runs only
# the first to finish saves its progress; the other's work is not lost (deletes happened) but its
# position is discarded. A missing, unreadable or stale position (another segment count, another format)
# starts a new pass: the worst a lost position costs is re-reading what the current pass already read.

FORMAT = 1


class PositionClient(Protocol):
    exceptions: Any

    def get_item(self, **kwargs: Any) -> Dict[str, Any]: ...

    def put_item(self, **kwargs: Any) -> Dict[str, Any]: ...


class PassState:
    """How far the current pass over the table is: per-segment cursors and what it has counted."""

    def __init__(
        self, number: int, segments: int, started_at: float, last_pass: Optional[Dict[str, Any]] = None
    ) -> None:
        self.number = number
        self.segments = segments
        self.started_at = started_at
        self.last_pass = last_pass  # the previous complete pass: number, items, runs, seconds
        # segment -> the Scan's LastEvaluatedKey where the next run continues (absent: from the start)
        self.cursors: Dict[int, Dict[str, Any]] = {}
        self.done: Set[int] = set()
        self.examined = 0
        self.runs = 0
        self.active: Dict[str, int] = {}

    @property
    def complete(self) -> bool:
        return len(self.done) == self.segments

    def pending(self) -> List[int]:
        return [segment for segment in range(self.segments) if segment not in self.done]

    def next_pass(self, now: float) -> PassState:
        seconds = round(max(0.0, now - self.started_at))
        return PassState(
            self.number + 1,
            self.segments,
            now,
            {"number": self.number, "items": self.examined, "runs": self.runs, "seconds": seconds},
        )

    def progress(self) -> Dict[str, Any]:
        """What the log says about the pass."""
        shown = {"number": self.number, "segmentsDone": f"{len(self.done)}/{self.segments}"}
        shown.update(examined=self.examined, runs=self.runs, complete=self.complete)
        if self.last_pass:
            shown["previousPass"] = self.last_pass
        return shown

    def to_text(self) -> str:
        data = dict(vars(self), format=FORMAT, done=sorted(self.done))
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> PassState:
        """Parse a saved state; ValueError (or KeyError/TypeError) when it is not one this code wrote."""
        data = json.loads(text)
        if data["format"] != FORMAT:
            raise ValueError("format")
        state = cls(int(data["number"]), int(data["segments"]), float(data["started_at"]), data["last_pass"])
        state.cursors = {int(segment): dict(key) for segment, key in data["cursors"].items()}
        state.done = {int(segment) for segment in data["done"]}
        state.examined, state.runs = int(data["examined"]), int(data["runs"])
        state.active = {str(label): int(count) for label, count in data["active"].items()}
        if not all(0 <= segment < state.segments for segment in [*state.cursors, *state.done]):
            raise ValueError("segment")
        return state


class Loaded(NamedTuple):
    state: PassState
    version: Optional[str]  # the saved version exactly as stored: the save is conditional on it
    origin: str  # "continued" | "none saved" | "unreadable" | "segments changed"


class PositionStore:
    def __init__(self, client: PositionClient, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def load(self, segments: int, now: float) -> Loaded:
        """The saved pass, or a new one. Raises the client's errors (the caller decides what to do)."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key={CONNECTION_ID: {"S": POSITION_KEY}},
            ConsistentRead=True,
            ProjectionExpression="#version, #state",
            ExpressionAttributeNames={"#version": "version", "#state": "state"},
        )
        item = response.get("Item")
        if not item:
            return Loaded(PassState(1, segments, now), None, "none saved")
        version = item.get("version", {}).get("N")
        try:
            state = PassState.from_text(item["state"]["S"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return Loaded(PassState(1, segments, now), version, "unreadable")
        if state.segments != segments:
            return Loaded(PassState(state.number + 1, segments, now), version, "segments changed")
        return Loaded(state, version, "continued")

    def save(self, state: PassState, version: Optional[str]) -> bool:
        """Write the position if nobody else did since `version` was read; False when someone did."""
        try:
            following = int(float(version)) + 1 if version is not None else 1
        except (ValueError, OverflowError):
            following = 1
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    CONNECTION_ID: {"S": POSITION_KEY},
                    "version": {"N": str(following)},
                    "state": {"S": state.to_text()},
                },
                # No version yet (no item, or one without a usable version) or still the one read.
                ConditionExpression="attribute_not_exists(#version) OR NOT attribute_type(#version, :number) "
                "OR #version = :version",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":version": {"N": version or "0"}, ":number": {"S": "N"}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
