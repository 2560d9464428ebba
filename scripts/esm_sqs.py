"""Lambda's SQS poller for one event source mapping (a standard queue), against the moto server.

As Lambda does (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html and
services-sqs-errorhandling.html):
- long-polls the queue (ReceiveMessage with WaitTimeSeconds; 1 s here instead of Lambda's 20 s so that
  `stop()` is prompt) with the queue's own visibility timeout; messages sent with DelaySeconds are not
  received before their delay has passed (moto honours both: tests/dataplane/test_esm_sqs.py);
- gathers up to BatchSize messages, for at most MaximumBatchingWindowInSeconds (0: one receive);
- invokes the function synchronously with the SQS event: Records[] of messageId, receiptHandle, body,
  attributes (ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp),
  messageAttributes, md5OfBody, eventSource "aws:sqs", eventSourceARN, awsRegion;
- success: deletes the batch. With FunctionResponseTypes ReportBatchItemFailures, a partial batch
  response deletes only the messages not listed (scripts/esm.item_failures reads it as Lambda does);
  without it, Lambda ignores the response. Function error (or an invalid partial response): deletes
  nothing; the messages come back once their visibility timeout has passed;
- the queue's redrive policy: moto moves a message to the dead-letter queue when it is received again
  after maxReceiveCount receives (what SQS does), so nothing is added here.
Simplification: one batch at a time per mapping (Lambda starts with five concurrent pollers).
"""

from __future__ import annotations

import base64
import time
from typing import Any, Dict, List

from scripts.esm import Delivery, Invoke, Mapping, Poller, item_failures
from scripts.offline import client

POLL_WAIT_SECONDS = 1
MAX_RECEIVE = 10  # ReceiveMessage's maximum


def queue_url(sqs: Any, queue_arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> its URL."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _message_attribute(value: Dict[str, Any]) -> Dict[str, Any]:
    """ReceiveMessage's MessageAttributeValue -> the shape of the Lambda event (lower camel case)."""
    shaped: Dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return shaped


def sqs_record(message: Dict[str, Any], queue_arn: str, region: str) -> Dict[str, Any]:
    """One received message as a record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller(Poller):
    def __init__(self, mapping: Mapping, invoke: Invoke, endpoint: str) -> None:
        super().__init__(mapping, invoke, endpoint)
        self.sqs = client("sqs", endpoint, mapping.region)
        self.url = queue_url(self.sqs, mapping.source_arn)

    def _receive(self, count: int, wait: int) -> List[Dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=min(MAX_RECEIVE, count),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: List[Dict[str, Any]] = response.get("Messages", [])
        return messages

    def poll_once(self) -> bool:
        batch = self._receive(self.mapping.batch_size, POLL_WAIT_SECONDS)
        if not batch:
            return False
        window_ends = time.monotonic() + self.mapping.batching_window
        while len(batch) < self.mapping.batch_size and time.monotonic() < window_ends and not self.stopping:
            more = self._receive(self.mapping.batch_size - len(batch), 0)
            # A message whose visibility timeout ran out while the window was open comes again: keep one
            # copy, with its newest receipt handle (only that one can delete it).
            seen = {message["MessageId"] for message in more}
            batch = [message for message in batch if message["MessageId"] not in seen] + more
            if not more:
                time.sleep(0.05)
        self._deliver(batch)
        return True

    def _deliver(self, batch: List[Dict[str, Any]]) -> None:
        records = [sqs_record(message, self.mapping.source_arn, self.mapping.region) for message in batch]
        event: Dict[str, Any] = {"Records": records}
        invocation = self.invoke(self.mapping.function_name, event)
        ids = [record["messageId"] for record in records]
        if getattr(invocation, "error", None):
            failed, outcome = ids, "error"
        elif self.mapping.reports_item_failures:
            listed = item_failures(getattr(invocation, "payload", None), ids)
            failed, outcome = (ids, "error") if listed is None else (listed, "partial" if listed else "ok")
        else:
            failed, outcome = [], "ok"
        self.record(Delivery(self.mapping.uuid, self.mapping.function_name, event, invocation, outcome, failed))
        done = [record for record in records if record["messageId"] not in failed]
        for start in range(0, len(done), MAX_RECEIVE):
            entries = [
                {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                for index, record in enumerate(done[start : start + MAX_RECEIVE])
            ]
            # A message the function deleted itself is already gone: SQS (and moto) accept that.
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)

    def pending(self, delayed: bool) -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        if delayed:
            names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)["Attributes"]
        return any(int(attributes.get(name, 0)) for name in names)
