"""The per-container runtime every route shares: settings and clients, built once on the first invocation.

Importing this module touches no network and reads no environment: a broken configuration surfaces
as a clear error on the first invocation, naming the variable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional, cast

from botocore.config import Config
from botocore.session import get_session

from . import config
from .store import ConnectionStore, DynamoDBClient, keep_attributes_unparsed
from .telemetry import Telemetry

if TYPE_CHECKING:
    from .agents import OfflinePublisher
    from .management import Prober

# One attempt is bounded by connect + read timeouts; "standard" retries add jittered backoff and stop
# early when the client-side retry quota is drained. total_max_attempts counts the first attempt
# (botocore's "max_attempts" would count retries only): 3 attempts of at most 3 s plus backoff stay
# inside the 10 s default timeout, so a failure is logged by us rather than cut off by Lambda.
# No client-side parameter validation: requests are built here from checked values, the service validates
# anyway (ValidationException is a ClientError), and walking the shapes costs ~2% of a warm invocation.
DYNAMODB_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 3, "mode": "standard"}, parameter_validation=False
)
EVENTS_CONFIG = DYNAMODB_CONFIG  # the same bounds; botocore never modifies a Config it is given


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
        self.publisher: Optional[OfflinePublisher] = None
        if settings.agent_index and settings.event_bus:
            # Agent tracking only: the default $disconnect path never compiles agents.py.
            from .agents import EventsClient, OfflinePublisher  # noqa: PLC0415

            events = session.create_client("events", config=EVENTS_CONFIG)
            self.publisher = OfflinePublisher(cast(EventsClient, events), settings.event_bus, settings.event_source)
        self._session = session
        self._prober: Optional[Prober] = None

    @property
    def prober(self) -> Optional[Prober]:
        if self.settings.probe_endpoint and self._prober is None:
            # Imported here: the @connections client (concurrent.futures, ...) stays off the cold-start
            # path of the $disconnect handler, which never probes.
            from .management import new_prober  # noqa: PLC0415

            self._prober = new_prober(self._session, self.settings.probe_endpoint, self.settings.probe_concurrency)
        return self._prober


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
