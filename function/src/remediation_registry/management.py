"""The API's @connections endpoint (API Gateway Management API): is a connection still open?

The sweeper probes connections with GetConnection; the @connections client lives here, beside no route,
because other functions (a presence checker) call the same endpoint. Only zips that list this module
in function/build.py's ONLY ship it; the `$disconnect` function never imports it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Tuple, cast

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

    def probe_all(self, connection_ids: List[str]) -> List[Tuple[str, Optional[str]]]:
        if len(connection_ids) <= 1 or self.concurrency == 1:
            return [self.probe(cid) for cid in connection_ids]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(connection_ids))) as pool:
            return list(pool.map(self.probe, connection_ids))


def new_prober(session: Session, endpoint: str, concurrency: int) -> Prober:
    """The Prober of Runtime.prober, on its own API Gateway Management API client."""
    client = session.create_client("apigatewaymanagementapi", endpoint_url=endpoint, config=PROBE_CONFIG)
    return Prober(cast(ManagementClient, client), concurrency)
