"""A reference agent client for the Remediation WebSocket API: the client contract of the module's
docs/client-contract.md, with `websockets` and `botocore` only. Copy this folder."""

from remediation_agent.background import BackgroundAgent
from remediation_agent.client import AgentClient, ClientConfig, LinkRecord
from remediation_agent.policy import Backoff, backoff_ceiling, jittered, renewal_delay
from remediation_agent.urls import (
    Presigner,
    UrlSource,
    fixed,
    insecure_query_string_url,
    presign,
    region_of,
    with_query,
)

__all__ = [
    "AgentClient",
    "BackgroundAgent",
    "Backoff",
    "ClientConfig",
    "LinkRecord",
    "Presigner",
    "UrlSource",
    "backoff_ceiling",
    "fixed",
    "insecure_query_string_url",
    "jittered",
    "presign",
    "region_of",
    "renewal_delay",
    "with_query",
]
__version__ = "1.0.0"
