"""The per-container runtime every route shares: settings and clients, built once on the first invocation.

Importing this module touches no network and reads no environment: a broken configuration surfaces
as a clear error on the first invocation, naming the variable. Only the DynamoDB client is built with
the Runtime; the SQS, EventBridge and @connections clients are built on first use, so a function
creates only those it calls (`$disconnect` with presence off: none of them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional, cast

from botocore.config import Config
from botocore.session import get_session

from . import config
from .store import ConnectionStore, DynamoDBClient, keep_attributes_unparsed
from .telemetry import Telemetry

if TYPE_CHECKING:
    from .management import Prober
    from .presence.track import Presence

# One attempt is bounded by connect + read timeouts; "standard" retries add jittered backoff and stop
# early when the client-side retry quota is drained. total_max_attempts counts the first attempt
# (botocore's "max_attempts" would count retries only): 3 attempts of at most 3 s plus backoff stay
# inside the 10 s default timeout, so a failure is logged by us rather than cut off by Lambda.
# No client-side parameter validation: requests are built here from checked values, the service validates
# anyway (ValidationException is a ClientError), and walking the shapes costs ~2% of a warm invocation.
DYNAMODB_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 3, "mode": "standard"}, parameter_validation=False
)
# SQS and EventBridge: the same bounds; botocore never modifies a Config it is given.
EVENTS_CONFIG = DYNAMODB_CONFIG


class Runtime:
    """Per-container state: settings and clients, built once on the first invocation."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        session = get_session()
        self.dynamodb = cast(DynamoDBClient, session.create_client("dynamodb", config=DYNAMODB_CONFIG))
        keep_attributes_unparsed(self.dynamodb)
        self.store = ConnectionStore(self.dynamodb, settings.table_name, settings.ttl_attribute)
        self.telemetry = Telemetry(
            settings.metrics_namespace, settings.log_level, function=os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        )
        self.presence: Optional[Presence] = None  # presence/track.py builds it on first use
        self._session = session
        self._clients: Dict[str, Any] = {}
        self._probers: Dict[str, Prober] = {}

    def client(self, service: str) -> Any:
        """The "sqs" or "events" client, created on this container's first call that needs it."""
        found = self._clients.get(service)
        if found is None:
            found = self._clients[service] = self._session.create_client(service, config=EVENTS_CONFIG)
        return found

    def management(self, endpoint: str, concurrency: int = 1) -> Prober:
        """The @connections client (management.py) of `endpoint`, created on first use."""
        found = self._probers.get(endpoint)
        if found is None:
            # Imported here: the @connections client stays off the cold-start path of `$disconnect`.
            from .management import new_prober  # noqa: PLC0415

            found = self._probers[endpoint] = new_prober(self._session, endpoint, concurrency)
        return found


_runtime: Optional[Runtime] = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(config.load())
    return _runtime


def reset() -> None:
    """Forget the cached settings and clients (tests; a new container does this implicitly)."""
    global _runtime
    _runtime = None
