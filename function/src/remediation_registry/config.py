"""Settings read from the Lambda environment (set by the Terraform module), once per container."""

import os
from typing import Mapping, NamedTuple, Optional

from .contract import MAX_CONNECTION_SECONDS  # re-exported: older imports name it here


class ConfigError(RuntimeError):
    """The function's environment is incomplete or malformed (a deployment error, not a bad event)."""


class PresenceSettings(NamedTuple):
    """Agent presence (PRESENCE_TABLE set): the presence table, its queue, grace and liveness timing."""

    table_name: str
    queue_url: Optional[str]  # $connect, $disconnect and the checker send to it (presence/queue.py)
    grace_seconds: int
    probe_interval_seconds: int  # liveness probe period when heartbeats are off
    heartbeat_timeout_seconds: int  # 0: heartbeats off
    heartbeat_interval_seconds: int  # informational (logs)
    probe_endpoint: Optional[str]  # the checker's @connections URL


class Settings(NamedTuple):
    table_name: str
    ttl_attribute: str
    grace_seconds: int
    event_bus: Optional[str]  # the announcer's bus (EVENT_BUS)
    event_source: str
    metrics_namespace: str
    log_client_address: bool
    log_level: str
    # Sweeper only.
    probe_endpoint: Optional[str]
    probe_min_age_seconds: int
    probe_concurrency: int
    max_items_per_run: int
    scan_segments: int
    # Agent presence; None when PRESENCE_TABLE is absent or empty (presence off).
    presence: Optional[PresenceSettings] = None


def _text(env: Mapping[str, str], name: str, default: Optional[str] = None) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or default


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (_text(env, name) or "false").lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} must be 'true' or 'false', got {raw!r}")
    return raw == "true"


def load(env: Optional[Mapping[str, str]] = None) -> Settings:
    """Read and validate the environment; every error names the variable at fault."""
    env = os.environ if env is None else env
    table = _text(env, "CONNECTIONS_TABLE")
    if table is None:
        raise ConfigError("CONNECTIONS_TABLE is not set: it must name the DynamoDB table of WebSocket connections")
    level = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return Settings(
        table_name=table,
        ttl_attribute=_text(env, "TTL_ATTRIBUTE", "expiresAt") or "expiresAt",
        grace_seconds=_int(env, "CONNECTION_GRACE_SECONDS", 300, 0, 86400),
        event_bus=_text(env, "EVENT_BUS"),
        event_source=_text(env, "EVENT_SOURCE", "remediation.websocket") or "remediation.websocket",
        metrics_namespace=_text(env, "METRICS_NAMESPACE", "Remediation/WebSocket") or "Remediation/WebSocket",
        log_client_address=_bool(env, "LOG_CLIENT_ADDRESS"),
        log_level=level,
        probe_endpoint=_text(env, "SWEEP_PROBE_ENDPOINT"),
        probe_min_age_seconds=_int(env, "SWEEP_PROBE_MIN_AGE_SECONDS", 600, 0, MAX_CONNECTION_SECONDS),
        probe_concurrency=_int(env, "SWEEP_PROBE_CONCURRENCY", 8, 1, 64),
        max_items_per_run=_int(env, "SWEEP_MAX_ITEMS", 100000, 1, 10_000_000),
        scan_segments=_int(env, "SWEEP_SCAN_SEGMENTS", 1, 1, 1000),
        presence=_presence(env),
    )


def _presence(env: Mapping[str, str]) -> Optional[PresenceSettings]:
    """The presence settings, or None (presence off) when PRESENCE_TABLE is absent or empty."""
    table = _text(env, "PRESENCE_TABLE")
    if table is None:
        return None
    return PresenceSettings(
        table_name=table,
        queue_url=_text(env, "PRESENCE_QUEUE_URL"),
        grace_seconds=_int(env, "PRESENCE_GRACE_SECONDS", 20, 0, 900),
        probe_interval_seconds=_int(env, "PRESENCE_PROBE_INTERVAL_SECONDS", 300, 1, 900),
        heartbeat_timeout_seconds=_int(env, "HEARTBEAT_TIMEOUT_SECONDS", 0, 0, 899),
        heartbeat_interval_seconds=_int(env, "HEARTBEAT_INTERVAL_SECONDS", 0, 0, 300),
        probe_endpoint=_text(env, "PRESENCE_PROBE_ENDPOINT"),
    )


def required(value: Optional[str], name: str, why: str) -> str:
    """A setting only some functions need, checked where it is used: ConfigError naming it when unset."""
    if value is None:
        raise ConfigError(f"{name} is not set: {why}")
    return value
