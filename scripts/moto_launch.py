"""`moto_server` with the corrections the local stand-ins need (run as `python scripts/moto_launch.py -H .. -p ..`).

moto plays AWS's control planes here; the data planes that moto would otherwise play itself are played by
the stand-ins in scripts/ instead. Six corrections, each checked by tests/dataplane/test_moto_launch.py:

1. Event source mappings stay control-plane records only. moto links a mapping to its queue or table
   and, on every SendMessage / every write, invokes the function itself in Docker. Without a Docker
   daemon (offline runs have none) that invocation fails, with side effects that break an emulation:
   - SQS: each SendMessage makes moto *receive* up to BatchSize visible messages (their
     ApproximateReceiveCount grows, so the redrive policy moves them to the DLQ early) and then make
     them visible again;
   - DynamoDB: after each write moto treats the error text as a result and *empties the stream's
     shard*, so GetRecords never sees a record of a table that has a mapping.
   Here the link is removed right after CreateEventSourceMapping: List/Get/Update/Delete still answer
   as before, and scripts/esm_sqs.py / scripts/esm_streams.py poll as Lambda's pollers do.
2. DynamoDB Streams: "If you perform a PutItem or UpdateItem operation that does not change any data in
   an item, DynamoDB Streams does not write a stream record for that operation."
   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html). moto writes a MODIFY
   record with OldImage == NewImage: dropped here.
3. DynamoDB Streams: an UpdateItem that creates an item is one INSERT in DynamoDB. moto first stores the
   bare key and then applies the update, writing two INSERT records (the first with only the key as
   NewImage). The bare-key record is not written here, so the stream holds one INSERT. (Replacing it in
   place afterwards, as an earlier version did, lost the INSERT whenever a GetRecords read the bare one
   in between: its sequence number was already behind the reader.)
4. API Gateway v2 GetRouteResponses (the list of a route's responses, which tells a two-way route from a
   one-way one) answers HTTP 500 in moto: it stores route responses but has no handler for the list.
   Added here from moto's own models.
5. SQS GetQueueAttributes RedrivePolicy: AWS answers compact JSON
   (`{"deadLetterTargetArn":"arn:...","maxReceiveCount":10}`, as in the AWS CLI reference's
   get-queue-attributes example); moto re-serialises it with Python's ", " / ": " separators.
   hashicorp/aws 3.39.0 (the offline stand-in provider) stores the answer as is and compares it with its
   compact normalisation of the configuration: every plan after an apply would propose a whitespace-only
   change to a queue with a dead-letter queue (the presence queue; hashicorp/aws >= 5 compares JSON).

6. DynamoDB writes to one item are atomic: a conditional write is evaluated and applied as one step, and
   "each stream record appears exactly once in the stream". moto's server runs requests on threads and
   its backend evaluates a condition, then applies the update, unlocked: two concurrent conditional
   UpdateItems on one item could both succeed, and a stream record could be computed from an image
   another thread was changing. The item operations run under one lock here.

Nothing else changes; any other argument goes to moto's own `moto_server` entry point.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, List, Optional


def _unlink_event_source_mappings() -> None:
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415 - moto is imported only in the server process
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    original: Callable[..., Any] = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: Any) -> Any:
        esm = original(self, spec)
        holders: List[Any] = list(sqs_backends[self.account_id][self.region_name].queues.values())
        holders += list(dynamodb_backends[self.account_id][self.region_name].tables.values())
        for holder in holders:
            links = getattr(holder, "lambda_event_source_mappings", {})
            for key in [key for key, value in links.items() if value is esm]:
                del links[key]
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def _faithful_stream_records() -> None:
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import StreamShard  # noqa: PLC0415

    original: Callable[..., Any] = StreamShard.add
    creating = threading.local()  # set while an UpdateItem runs: its bare-key INSERT is not a record

    def add(self: Any, old: Optional[Any], new: Optional[Any]) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return  # correction 2: a write that changes nothing writes no record
        if getattr(creating, "bare_key", False) and old is None and new is not None:
            creating.bare_key = False
            if set(new.to_json()["Attributes"]) <= set(self.table.attribute_keys):
                return  # correction 3: the bare key UpdateItem stores first; its final image is the INSERT
        original(self, old, new)

    update: Callable[..., Any] = DynamoDBBackend.update_item

    def update_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        creating.bare_key = True
        try:
            return update(self, *args, **kwargs)
        finally:
            creating.bare_key = False

    StreamShard.add = add  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


# The DynamoDB backend's item operations correction 6 runs under one lock.
ITEM_OPERATIONS = ("put_item", "update_item", "delete_item", "get_item", "batch_write_item", "transact_write_items")


def _atomic_item_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    lock = threading.RLock()  # correction 6

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return run

    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def _get_route_responses() -> None:
    import json  # noqa: PLC0415

    from moto.apigatewayv2.responses import ApiGatewayV2Response  # noqa: PLC0415

    if hasattr(ApiGatewayV2Response, "get_route_responses"):
        return  # moto has it now

    def get_route_responses(self: Any) -> Any:
        parts = self.path.split("/")  # /v2/apis/<api>/routes/<route>/routeresponses
        route = self.apigatewayv2_backend.get_route(parts[-4], parts[-2])
        return 200, {}, json.dumps({"items": [response.to_json() for response in route.route_responses.values()]})

    ApiGatewayV2Response.get_route_responses = get_route_responses  # type: ignore[attr-defined]


def _compact_redrive_policy() -> None:
    import json  # noqa: PLC0415

    from moto.sqs.models import Queue  # noqa: PLC0415

    attributes: Any = Queue.attributes

    def compact(self: Any) -> Any:
        result = attributes.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = property(compact)  # type: ignore[assignment,method-assign]


def main(argv: List[str]) -> int:
    _unlink_event_source_mappings()
    _faithful_stream_records()
    _atomic_item_writes()
    _get_route_responses()
    _compact_redrive_policy()
    from moto.server import main as moto_main  # noqa: PLC0415

    moto_main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
