"""The API's @connections endpoint (API Gateway Management API): is a connection still open?

The sweeper probes connections with GetConnection; the presence checker also reads when a connection
was last active (LastActiveAt) and closes silent ones (DeleteConnection). The client lives here, beside
no route; only zips that list this module in function/build.py's ONLY ship it (the sweeper's and the
checker's); the `$disconnect` function never imports it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Protocol, Tuple, cast

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from botocore.session import Session

ALIVE, GONE, ERROR = "alive", "gone", "error"

# The prober's client (created on the sweeper's first run only): as the other clients, bounded attempts;
# a pool as large as the highest probe_concurrency.
PROBE_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"}, max_pool_connections=64
)


class ManagementClient(Protocol):
    exceptions: Any

    def get_connection(self, **kwargs: Any) -> Dict[str, Any]: ...

    def delete_connection(self, **kwargs: Any) -> Dict[str, Any]: ...


class Inspection(NamedTuple):
    """GetConnection's answer: ALIVE (with LastActiveAt in epoch ms when given), GONE or ERROR (with why)."""

    status: str
    error: Optional[str] = None
    last_active_ms: Optional[int] = None


class Prober:
    """GetConnection on the API's @connections endpoint, a few at a time."""

    def __init__(self, client: ManagementClient, concurrency: int) -> None:
        self.client = client
        self.concurrency = concurrency

    def probe(self, connection_id: str) -> Tuple[str, Optional[str]]:
        try:
            self.client.get_connection(ConnectionId=connection_id)
            return ALIVE, None
        # GoneException is a modeled error and so a ClientError subclass: it must be caught first.
        except self.client.exceptions.GoneException:
            return GONE, None
        except ClientError as exc:
            return ERROR, str(exc.response.get("Error", {}).get("Code") or "ClientError")
        except BotoCoreError as exc:
            return ERROR, type(exc).__name__

    def inspect(self, connection_id: str) -> Inspection:
        """One GetConnection, keeping when API Gateway last saw the connection active."""
        try:
            answer = self.client.get_connection(ConnectionId=connection_id)
        except self.client.exceptions.GoneException:
            return Inspection(GONE)
        except ClientError as exc:
            return Inspection(ERROR, str(exc.response.get("Error", {}).get("Code") or "ClientError"))
        except BotoCoreError as exc:
            return Inspection(ERROR, type(exc).__name__)
        last = answer.get("LastActiveAt")
        return Inspection(ALIVE, None, int(last.timestamp() * 1000) if isinstance(last, datetime) else None)

    def close(self, connection_id: str) -> Optional[str]:
        """DeleteConnection (API Gateway then sends `$disconnect`, code 1000); None when closed or already gone."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except self.client.exceptions.GoneException:
            return None
        except ClientError as exc:
            return str(exc.response.get("Error", {}).get("Code") or "ClientError")
        except BotoCoreError as exc:
            return type(exc).__name__
        return None

    def probe_all(self, connection_ids: List[str]) -> List[Tuple[str, Optional[str]]]:
        if len(connection_ids) <= 1 or self.concurrency == 1:
            return [self.probe(cid) for cid in connection_ids]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(connection_ids))) as pool:
            return list(pool.map(self.probe, connection_ids))


def new_prober(session: Session, endpoint: str, concurrency: int) -> Prober:
    """A Prober (Runtime.management) on its own API Gateway Management API client."""
    client = session.create_client("apigatewaymanagementapi", endpoint_url=endpoint, config=PROBE_CONFIG)
    return Prober(cast(ManagementClient, client), concurrency)
