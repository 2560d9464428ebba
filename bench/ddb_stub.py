"""A local stand-in for the DynamoDB (and EventBridge) JSON endpoints, for handler benchmarks.

Answers what the `$disconnect` handlers send, exactly as the services do on the wire (JSON 1.0 for
DynamoDB, JSON 1.1 for EventBridge, `x-amz-crc32` on DynamoDB replies, HTTP/1.1 keep-alive), and counts
requests by operation. Costs next to nothing, so the figures measure the handler, not the server:

  DynamoDB_20120810.DeleteItem  `{}`, or `{"Attributes": item}` when ReturnValues=ALL_OLD; the item is a
                                realistic agent connection (connectionId, clientType, agentId,
                                connectedAt ms, expiresAt s)
  DynamoDB_20120810.UpdateItem  `{}`: presence's T2 succeeds (the agent's last connection: a grace window opens)
  AmazonSQS.SendMessage         accepted (the grace message)
  AWSEvents.PutEvents           every entry accepted

With a bench/scale_table.ScaleTable given, Scan, BatchWriteItem, DeleteItem, GetItem, PutItem and
Query are answered from that table instead (the sweeper's coverage benchmark).

Stdlib only; binds 127.0.0.1 on a free port; stopped by the context manager that started it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Dict, Iterator, Optional, Tuple

from bench.scale_table import ConditionalCheckFailedException, ScaleTable

CONNECTED_AT_MS = 1795677000000  # 2026-11-26T06:30:00Z
GRACE_SECONDS = 300
MAX_CONNECTION_SECONDS = 7200
AGENT_ID = "agent-7f3c2a91"
DDB_CONTENT_TYPE = "application/x-amz-json-1.0"
EVENTS_CONTENT_TYPE = "application/x-amz-json-1.1"
SQS_CONTENT_TYPE = "application/x-amz-json-1.0"


def old_item(connection_id: str) -> Dict[str, Dict[str, str]]:
    """The item a `$connect` handler wrote for this connection (an agent's)."""
    return {
        "connectionId": {"S": connection_id},
        "clientType": {"S": "agent"},
        "agentId": {"S": AGENT_ID},
        "connectedAt": {"N": str(CONNECTED_AT_MS)},
        "expiresAt": {"N": str(CONNECTED_AT_MS // 1000 + MAX_CONNECTION_SECONDS + GRACE_SECONDS)},
    }


class Stub:
    """Request counters by operation ("DeleteItem", "Query", "PutEvents", ...), thread-safe."""

    TABLE_OPERATIONS: ClassVar[Dict[str, str]] = {
        "Scan": "scan",
        "BatchWriteItem": "batch_write_item",
        "DeleteItem": "delete_item",
        "GetItem": "get_item",
        "PutItem": "put_item",
        "Query": "query",
    }

    def __init__(self, table: Optional[ScaleTable] = None) -> None:
        self.table = table
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.return_values: Counter[str] = Counter()

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.return_values.clear()

    def snapshot(self) -> Dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def answer(self, target: str, body: Dict[str, Any]) -> Tuple[int, str, Dict[str, Any]]:
        """(status, content type, reply) for one request."""
        operation = target.rpartition(".")[2]
        with self.lock:
            self.counts[operation] += 1
            if operation == "DeleteItem":
                self.return_values[str(body.get("ReturnValues", "NONE"))] += 1
        if self.table is not None and target.startswith("DynamoDB_") and operation in self.TABLE_OPERATIONS:
            return self.from_table(operation, body)
        reply = self.reply(target, body)
        if reply is None:
            error = {"__type": "com.amazon.coral.service#UnknownOperationException", "message": target}
            return 400, DDB_CONTENT_TYPE, error
        return (200, *reply)

    @staticmethod
    def reply(target: str, body: Dict[str, Any]) -> Optional[Tuple[str, Dict[str, Any]]]:
        """(content type, reply) of a request the stub answers; None for any other."""
        if target == "DynamoDB_20120810.DeleteItem":
            connection_id = body.get("Key", {}).get("connectionId", {}).get("S", "")
            return DDB_CONTENT_TYPE, {"Attributes": old_item(connection_id)} if body.get(
                "ReturnValues"
            ) == "ALL_OLD" else {}
        if target == "DynamoDB_20120810.UpdateItem":
            return DDB_CONTENT_TYPE, {}
        if target == "AmazonSQS.SendMessage":
            digest = hashlib.md5(str(body.get("MessageBody", "")).encode(), usedforsecurity=False).hexdigest()
            return SQS_CONTENT_TYPE, {"MessageId": "00000000-0000-0000-0000-000000000001", "MD5OfMessageBody": digest}
        if target == "AWSEvents.PutEvents":
            ids = [{"EventId": f"00000000-0000-0000-0000-{n:012d}"} for n in range(len(body.get("Entries", [])))]
            return EVENTS_CONTENT_TYPE, {"FailedEntryCount": 0, "Entries": ids}
        return None

    def from_table(self, operation: str, body: Dict[str, Any]) -> Tuple[int, str, Dict[str, Any]]:
        assert self.table is not None
        try:
            return 200, DDB_CONTENT_TYPE, getattr(self.table, self.TABLE_OPERATIONS[operation])(**body)
        except ConditionalCheckFailedException as exc:
            failed = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}
            return 400, DDB_CONTENT_TYPE, {**failed, "message": str(exc)}


@contextmanager
def serve(table: Optional[ScaleTable] = None) -> Iterator[Tuple[str, Stub]]:
    """Serve on a free loopback port; yield (endpoint URL, counters)."""
    stub = Stub(table)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real endpoints: one connection per client
        disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            status, content_type, reply = stub.answer(self.headers.get("X-Amz-Target", ""), body)
            data = json.dumps(reply, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "BENCH0000000000000000000000000000000000000000000000")
            if content_type == DDB_CONTENT_TYPE:
                self.send_header("x-amz-crc32", str(zlib.crc32(data) & 0xFFFFFFFF))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stub
    finally:
        server.shutdown()
        server.server_close()
