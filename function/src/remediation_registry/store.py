"""The connections table, through the low-level DynamoDB client (no boto3 resource layer).

The item contract (attribute names, units, expiry, what counts as an agent) lives in contract.py.
"""

import json
import time
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Protocol

from .contract import AGENT_ID, CLIENT_TYPE, CLIENT_TYPES, CONNECTED_AT, CONNECTION_ID, is_agent_connection


class DynamoDBClient(Protocol):
    exceptions: Any

    def delete_item(self, **kwargs: Any) -> Dict[str, Any]: ...

    def batch_write_item(self, **kwargs: Any) -> Dict[str, Any]: ...

    def scan(self, **kwargs: Any) -> Dict[str, Any]: ...


LOG_TEXT_LENGTH = 256  # strings are bounded in logs only: identities are used exactly as stored


def _number(item: Mapping[str, Any], name: str) -> Optional[int]:
    value = item.get(name)
    if isinstance(value, dict) and "N" in value:
        try:
            return int(float(value["N"]))
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def _string(item: Mapping[str, Any], name: str) -> Optional[str]:
    value = item.get(name)
    if isinstance(value, dict) and isinstance(value.get("S"), str):
        return str(value["S"])
    return None


def for_log(value: Optional[str]) -> Optional[str]:
    """A stored string as logs show it: at most LOG_TEXT_LENGTH characters (the item keeps it whole)."""
    if value is None or len(value) <= LOG_TEXT_LENGTH:
        return value
    return value[:LOG_TEXT_LENGTH] + "..."


class Connection(NamedTuple):
    """A registry item, read tolerantly: older writers may omit every optional attribute."""

    connection_id: str
    client_type: Optional[str]
    agent_id: Optional[str]
    connected_at_ms: Optional[int]
    expires_at: Optional[int]
    # connectedAt exactly as stored when connected_at_ms is not that value (a fraction, 17+ digits):
    # conditions compare with the stored number, not with the integer read from it. Set by the sweeper's
    # reads only (sweep/store.py), the one reader that writes conditionally on it.
    connected_at_exact: Optional[str] = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any], ttl_attribute: str = "expiresAt") -> "Connection":
        return cls(
            connection_id=_string(item, CONNECTION_ID) or "",
            client_type=_string(item, CLIENT_TYPE),
            agent_id=_string(item, AGENT_ID),
            connected_at_ms=_number(item, CONNECTED_AT),
            expires_at=_number(item, ttl_attribute),
        )

    @property
    def client_label(self) -> str:
        """Metric dimension value: bounded to a handful of values whatever the writer stored."""
        if self.client_type in CLIENT_TYPES:
            return str(self.client_type)
        return "unknown" if self.client_type is None else "other"

    @property
    def is_agent(self) -> bool:
        """The contract's one rule (contract.is_agent_connection), for both sides of agent status."""
        return is_agent_connection(self.client_type, self.agent_id)

    def to_log(self) -> Dict[str, Any]:
        """The item's contract attributes for logs (never the whole item: writers may add secrets)."""
        fields: Dict[str, Any] = {}
        for key, value in (
            (CLIENT_TYPE, for_log(self.client_type)),
            (AGENT_ID, for_log(self.agent_id)),
            (CONNECTED_AT, self.connected_at_ms),
            ("expiresAt", self.expires_at),
        ):
            if value is not None:
                fields[key] = value
        return fields


def keep_attributes_unparsed(client: Any) -> None:
    """Have the client return DeleteItem's `Attributes` as DynamoDB sent them, without botocore's parse.

    botocore parses every attribute value through the 10-member AttributeValue union in Python: for
    the 5-attribute item a `$disconnect` deletes, that is 0.1 M instructions, about 3 % of a warm event
    (BENCHMARKS.md). The wire format of S and N values is exactly what botocore returns for them, and
    they are all this package reads (a B value would stay base64 text). Uses botocore's `before-parse`
    event (emitted since botocore 1.35.16): with an older botocore, or a body that is not a JSON object
    with an Attributes object, the response is parsed as usual.
    """
    client.meta.events.register("before-parse.dynamodb.DeleteItem", _attributes_unparsed)


def _attributes_unparsed(response_dict: Dict[str, Any], customized_response_dict: Dict[str, Any], **_: Any) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes) or b'"Attributes"' not in body:
        return
    document = json.loads(body)
    attributes = document.pop("Attributes", None) if isinstance(document, dict) else None
    if isinstance(attributes, dict):
        response_dict["body"] = json.dumps(document).encode() if document else b"{}"
        customized_response_dict["Attributes"] = attributes


class Deleted(NamedTuple):
    previous: Optional[Connection]
    retried: bool


class ConnectionStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        ttl_attribute: str = "expiresAt",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.ttl_attribute = ttl_attribute
        self.sleep = sleep

    @staticmethod
    def _key(connection_id: str) -> Dict[str, Any]:
        return {CONNECTION_ID: {"S": connection_id}}

    def delete(self, connection_id: str) -> Deleted:
        """Delete one connection (idempotent) and return what the item said (None if it was gone).

        ReturnValues=ALL_OLD costs no read capacity: it is the one write and the only request.
        `retried` tells that the SDK sent the request more than once: then an empty answer is
        ambiguous (an earlier attempt may have deleted the item and its response been lost).
        """
        response = self.client.delete_item(
            TableName=self.table_name, Key=self._key(connection_id), ReturnValues="ALL_OLD"
        )
        retried = bool(response.get("ResponseMetadata", {}).get("RetryAttempts"))
        attributes = response.get("Attributes")
        if not attributes:
            return Deleted(None, retried)
        return Deleted(Connection.from_item(attributes, self.ttl_attribute), retried)
