"""Lambda's DynamoDB stream poller for one event source mapping, reading moto's dynamodbstreams.

As Lambda does (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html,
services-ddb-batchfailurereporting.html):
- reads each shard in order (GetShardIterator / GetRecords), batches of up to BatchSize records,
  gathered for at most MaximumBatchingWindowInSeconds;
- invokes the function with the DynamoDB event: Records[] of eventID, eventName, eventVersion,
  eventSource "aws:dynamodb", awsRegion, dynamodb {ApproximateCreationDateTime (epoch seconds), Keys,
  NewImage, OldImage, SequenceNumber, SizeBytes, StreamViewType}, eventSourceARN;
- checkpoints after a batch succeeds. With ReportBatchItemFailures, a partial batch response moves the
  checkpoint to just before the lowest failed SequenceNumber and the batch is retried from there. A
  function error retries the whole batch (split in two first when BisectBatchOnFunctionError), until
  MaximumRetryAttempts retries (-1: no limit); then the batch's invocation record (not the records)
  goes to the on-failure destination, condition RetryAttemptsExhausted, and the poller moves on;
- nothing new: it waits at the end of the shard.
Where the poller starts without a checkpoint: TRIM_HORIZON at the oldest record; LATEST at the first
record written after the mapping was created (its LastModified, whole seconds: moto's resolution).
Checkpoints are kept per process by mapping UUID, so a second live stack on the same applied stack
resumes instead of replaying (as one mapping would in AWS).
moto's records: scripts/moto_launch.py corrects two gaps (a no-op write writes no record; an UpdateItem
that creates an item is one INSERT); moto writes awsRegion "us-east-1" whatever the region: the
mapping's region is used. Simplifications: MaximumRecordAgeInSeconds and ParallelizationFactor are
not played (one batch at a time per shard keeps per-key order, which is what the factor preserves).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from scripts.esm import Delivery, Invoke, Mapping, Poller, item_failures
from scripts.esm_sqs import queue_url
from scripts.offline import client

CHECKPOINTS: Dict[Tuple[str, str, str], str] = {}  # (endpoint, mapping UUID, shard) -> last settled SequenceNumber


def _json_safe(value: Any) -> Any:
    """botocore decodes B / BS values to bytes: the Lambda event carries them as base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def stream_record(raw: Dict[str, Any], mapping: Mapping) -> Dict[str, Any]:
    """A GetRecords record as a record of Lambda's DynamoDB event."""
    dynamodb = _json_safe(dict(raw["dynamodb"]))
    if "ApproximateCreationDateTime" in raw["dynamodb"]:
        dynamodb["ApproximateCreationDateTime"] = int(_epoch(raw["dynamodb"]["ApproximateCreationDateTime"]))
    return {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": mapping.region,
        "dynamodb": dynamodb,
        "eventSourceARN": mapping.source_arn,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class StreamPoller(Poller):
    def __init__(self, mapping: Mapping, invoke: Invoke, endpoint: str, retry_delay: float = 0.2) -> None:
        super().__init__(mapping, invoke, endpoint)
        self.streams = client("dynamodbstreams", endpoint, mapping.region)
        self.retry_delay = retry_delay
        self.discarded: List[Dict[str, Any]] = []  # invocation records sent to the on-failure destination

    def _shards(self) -> List[str]:
        described = self.streams.describe_stream(StreamArn=self.mapping.source_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in described.get("Shards", [])]

    def _key(self, shard: str) -> Tuple[str, str, str]:
        return (self.endpoint, self.mapping.uuid, shard)

    def _read(self, shard: str, limit: int) -> List[Dict[str, Any]]:
        checkpoint = CHECKPOINTS.get(self._key(shard))
        if checkpoint is None:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.mapping.source_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        else:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.mapping.source_arn,
                ShardId=shard,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=checkpoint,
            )["ShardIterator"]
        records: List[Dict[str, Any]] = self.streams.get_records(ShardIterator=iterator, Limit=limit)["Records"]
        if checkpoint is None and self.mapping.starting_position == "LATEST":
            since = int(self.mapping.created)
            skipped = [r for r in records if _epoch(r["dynamodb"]["ApproximateCreationDateTime"]) < since]
            if skipped:  # written before the mapping existed: never delivered
                CHECKPOINTS[self._key(shard)] = skipped[-1]["dynamodb"]["SequenceNumber"]
                return self._read(shard, limit)
        return records

    def poll_once(self) -> bool:
        worked = False
        for shard in self._shards():
            batch = self._read(shard, self.mapping.batch_size)
            if not batch:
                continue
            window_ends = time.monotonic() + self.mapping.batching_window
            while len(batch) < self.mapping.batch_size and time.monotonic() < window_ends and not self.stopping:
                time.sleep(0.05)
                batch = self._read(shard, self.mapping.batch_size)
            self._settle(shard, batch)
            worked = True
        if not worked:
            # "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times per second."
            self._stop.wait(0.25)
        return worked

    def _settle(self, shard: str, batch: List[Dict[str, Any]]) -> None:
        """Invoke until the batch is processed or discarded; move the checkpoint past it."""
        pending, attempts = batch, 0
        while pending and not self.stopping:
            records = [stream_record(raw, self.mapping) for raw in pending]
            event: Dict[str, Any] = {"Records": records}
            invocation = self.invoke(self.mapping.function_name, event)
            sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
            listed: Optional[List[str]] = None  # None: the whole batch failed
            if not getattr(invocation, "error", None):
                payload = getattr(invocation, "payload", None)
                listed = item_failures(payload, sequences) if self.mapping.reports_item_failures else []
            outcome = "error" if listed is None else "partial" if listed else "ok"
            failed = sequences if listed is None else listed
            self.record(Delivery(self.mapping.uuid, self.mapping.function_name, event, invocation, outcome, failed))
            if outcome == "ok":
                CHECKPOINTS[self._key(shard)] = sequences[-1]
                return
            if outcome == "partial":
                # Checkpoint just before the lowest failed record; retry from it.
                index = sequences.index(min(failed, key=int))
                if index:
                    CHECKPOINTS[self._key(shard)] = sequences[index - 1]
                pending = pending[index:]
            if 0 <= self.mapping.max_retries <= attempts:
                self._discard(shard, pending, invocation, attempts + 1)
                CHECKPOINTS[self._key(shard)] = pending[-1]["dynamodb"]["SequenceNumber"]
                return
            attempts += 1
            if outcome == "error" and self.mapping.bisect and len(pending) > 1:
                half = len(pending) // 2
                self._settle(shard, pending[:half])
                self._settle(shard, pending[half:])
                return
            self._stop.wait(self.retry_delay)

    def _discard(self, shard: str, batch: List[Dict[str, Any]], invocation: Any, invokes: int) -> None:
        """The invocation record Lambda sends to an on-failure destination (the records are not in it)."""
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        document = {
            "requestContext": {
                "requestId": getattr(invocation, "request_id", str(uuid.uuid4())),
                "functionArn": self.mapping.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invokes,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_epoch(first["ApproximateCreationDateTime"]))[:-5] + "Z",
                "approximateArrivalOfLastRecord": _iso(_epoch(last["ApproximateCreationDateTime"]))[:-5] + "Z",
                "batchSize": len(batch),
                "streamArn": self.mapping.source_arn,
            },
        }
        self.discarded.append(document)
        destination = self.mapping.on_failure
        if destination and destination.split(":")[2] == "sqs":
            sqs = client("sqs", self.endpoint, self.mapping.region)
            sqs.send_message(QueueUrl=queue_url(sqs, destination), MessageBody=json.dumps(document))
        elif destination and destination.split(":")[2] == "sns":
            sns = client("sns", self.endpoint, self.mapping.region)
            sns.publish(TopicArn=destination, Message=json.dumps(document))

    def pending(self, delayed: bool) -> bool:
        return any(self._read(shard, 1) for shard in self._shards())
