"""config.load: defaults, every variable, and errors that name the variable at fault."""

from __future__ import annotations

from typing import Dict

import pytest
from remediation_registry import config

INTEGER_VARIABLES = (
    "CONNECTION_GRACE_SECONDS",
    "SWEEP_PROBE_MIN_AGE_SECONDS",
    "SWEEP_PROBE_CONCURRENCY",
    "SWEEP_MAX_ITEMS",
    "SWEEP_SCAN_SEGMENTS",
)


def test_defaults_apply_when_only_the_table_is_set() -> None:
    settings = config.load({"CONNECTIONS_TABLE": "connections"})

    assert settings == config.Settings(
        table_name="connections",
        ttl_attribute="expiresAt",
        grace_seconds=300,
        event_bus=None,
        event_source="remediation.websocket",
        metrics_namespace="Remediation/WebSocket",
        log_client_address=False,
        log_level="INFO",
        probe_endpoint=None,
        probe_min_age_seconds=600,
        probe_concurrency=8,
        max_items_per_run=100000,
        scan_segments=1,
        presence=None,
    )


def test_every_variable_is_read() -> None:
    env = {
        "CONNECTIONS_TABLE": "prod-connections",
        "TTL_ATTRIBUTE": "ttl",
        "CONNECTION_GRACE_SECONDS": "60",
        "EVENT_BUS": "arn:aws:events:eu-west-1:123456789012:event-bus/remediation",
        "EVENT_SOURCE": "acme.remediation",
        "METRICS_NAMESPACE": "Acme/WS",
        "LOG_CLIENT_ADDRESS": "true",
        "LOG_LEVEL": "debug",
        "SWEEP_PROBE_ENDPOINT": "https://abc123.execute-api.eu-west-1.amazonaws.com/live",
        "SWEEP_PROBE_MIN_AGE_SECONDS": "120",
        "SWEEP_PROBE_CONCURRENCY": "4",
        "SWEEP_MAX_ITEMS": "5000",
        "SWEEP_SCAN_SEGMENTS": "8",
        "PRESENCE_TABLE": "prod-presence",
        "PRESENCE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/prod-presence",
        "PRESENCE_GRACE_SECONDS": "45",
        "PRESENCE_PROBE_INTERVAL_SECONDS": "120",
        "HEARTBEAT_TIMEOUT_SECONDS": "75",
        "HEARTBEAT_INTERVAL_SECONDS": "30",
        "PRESENCE_PROBE_ENDPOINT": "https://abc123.execute-api.eu-west-1.amazonaws.com/live",
    }

    settings = config.load(env)

    assert settings == config.Settings(
        table_name="prod-connections",
        ttl_attribute="ttl",
        grace_seconds=60,
        event_bus="arn:aws:events:eu-west-1:123456789012:event-bus/remediation",
        event_source="acme.remediation",
        metrics_namespace="Acme/WS",
        log_client_address=True,
        log_level="DEBUG",
        probe_endpoint="https://abc123.execute-api.eu-west-1.amazonaws.com/live",
        probe_min_age_seconds=120,
        probe_concurrency=4,
        max_items_per_run=5000,
        scan_segments=8,
        presence=config.PresenceSettings(
            table_name="prod-presence",
            queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/prod-presence",
            grace_seconds=45,
            probe_interval_seconds=120,
            heartbeat_timeout_seconds=75,
            heartbeat_interval_seconds=30,
            probe_endpoint="https://abc123.execute-api.eu-west-1.amazonaws.com/live",
        ),
    )


def test_blank_optional_values_fall_back_to_defaults() -> None:
    env = {name: "  " for name in (*INTEGER_VARIABLES, "PRESENCE_GRACE_SECONDS")}
    env.update(CONNECTIONS_TABLE=" connections ", TTL_ATTRIBUTE="", EVENT_SOURCE=" ", PRESENCE_TABLE=" ")

    settings = config.load(env)

    assert settings.table_name == "connections"
    assert settings.ttl_attribute == "expiresAt"
    assert settings.event_source == "remediation.websocket"
    assert settings.presence is None  # an empty PRESENCE_TABLE: presence off
    assert settings.grace_seconds == 300
    assert settings.max_items_per_run == 100000


@pytest.mark.parametrize("env", [{}, {"CONNECTIONS_TABLE": ""}, {"CONNECTIONS_TABLE": "   "}])
def test_missing_table_raises_config_error_naming_connections_table(env: Dict[str, str]) -> None:
    with pytest.raises(config.ConfigError, match="CONNECTIONS_TABLE"):
        config.load(env)


@pytest.mark.parametrize("name", INTEGER_VARIABLES)
@pytest.mark.parametrize("raw", ["ten", "1.5", "5m", "0x10"])
def test_malformed_integer_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(config.ConfigError) as error:
        config.load({"CONNECTIONS_TABLE": "connections", name: raw})

    assert name in str(error.value)
    assert repr(raw) in str(error.value)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("CONNECTION_GRACE_SECONDS", "-1"),
        ("CONNECTION_GRACE_SECONDS", "86401"),
        ("SWEEP_PROBE_MIN_AGE_SECONDS", "7201"),
        ("SWEEP_PROBE_CONCURRENCY", "0"),
        ("SWEEP_PROBE_CONCURRENCY", "65"),
        ("SWEEP_MAX_ITEMS", "0"),
        ("SWEEP_SCAN_SEGMENTS", "0"),
        ("SWEEP_SCAN_SEGMENTS", "1001"),
    ],
)
def test_out_of_range_integer_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        config.load({"CONNECTIONS_TABLE": "connections", name: raw})


def test_range_boundaries_are_accepted() -> None:
    settings = config.load(
        {
            "CONNECTIONS_TABLE": "connections",
            "CONNECTION_GRACE_SECONDS": "0",
            "SWEEP_PROBE_MIN_AGE_SECONDS": "7200",
            "SWEEP_PROBE_CONCURRENCY": "64",
            "SWEEP_MAX_ITEMS": "1",
            "SWEEP_SCAN_SEGMENTS": "1000",
        }
    )

    assert (settings.grace_seconds, settings.probe_min_age_seconds, settings.probe_concurrency) == (0, 7200, 64)
    assert (settings.max_items_per_run, settings.scan_segments) == (1, 1000)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), (" false ", False), ("", False)])
def test_log_client_address_accepts_true_and_false(raw: str, expected: bool) -> None:
    assert config.load({"CONNECTIONS_TABLE": "t", "LOG_CLIENT_ADDRESS": raw}).log_client_address is expected


@pytest.mark.parametrize("raw", ["yes", "1", "on"])
def test_log_client_address_rejects_other_words(raw: str) -> None:
    with pytest.raises(config.ConfigError, match="LOG_CLIENT_ADDRESS"):
        config.load({"CONNECTIONS_TABLE": "t", "LOG_CLIENT_ADDRESS": raw})


@pytest.mark.parametrize("raw", ["TRACE", "verbose", "CRITICAL"])
def test_unknown_log_level_raises_config_error_naming_log_level(raw: str) -> None:
    with pytest.raises(config.ConfigError, match="LOG_LEVEL"):
        config.load({"CONNECTIONS_TABLE": "t", "LOG_LEVEL": raw})


def test_load_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTIONS_TABLE", "from-environ")
    monkeypatch.setenv("SWEEP_SCAN_SEGMENTS", "3")

    settings = config.load()

    assert (settings.table_name, settings.scan_segments) == ("from-environ", 3)


def test_config_error_is_a_runtime_error_not_a_value_error() -> None:
    # The handlers catch ValueError subclasses (InvalidEvent) as bad events; a deployment error must
    # never be mistaken for one.
    assert issubclass(config.ConfigError, RuntimeError)
    assert not issubclass(config.ConfigError, ValueError)


# ---------------------------------------------------------------------------------------------------
# Presence (spec section 12): absent or empty PRESENCE_TABLE = off
# ---------------------------------------------------------------------------------------------------

PRESENCE_INTEGERS = (
    "PRESENCE_GRACE_SECONDS",
    "PRESENCE_PROBE_INTERVAL_SECONDS",
    "HEARTBEAT_TIMEOUT_SECONDS",
    "HEARTBEAT_INTERVAL_SECONDS",
)


def test_presence_variables_are_ignored_while_presence_is_off() -> None:
    env = {name: "not a number" for name in PRESENCE_INTEGERS}

    assert config.load({"CONNECTIONS_TABLE": "t", **env}).presence is None


def test_presence_defaults_when_only_its_table_is_set() -> None:
    settings = config.load({"CONNECTIONS_TABLE": "t", "PRESENCE_TABLE": "p"})

    assert settings.presence == config.PresenceSettings(
        table_name="p",
        queue_url=None,
        grace_seconds=20,
        probe_interval_seconds=300,
        heartbeat_timeout_seconds=0,
        heartbeat_interval_seconds=0,
        probe_endpoint=None,
    )


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("PRESENCE_GRACE_SECONDS", "-1"),
        ("PRESENCE_GRACE_SECONDS", "901"),
        ("PRESENCE_PROBE_INTERVAL_SECONDS", "0"),
        ("PRESENCE_PROBE_INTERVAL_SECONDS", "901"),
        ("HEARTBEAT_TIMEOUT_SECONDS", "900"),
        ("HEARTBEAT_INTERVAL_SECONDS", "301"),
        ("PRESENCE_GRACE_SECONDS", "twenty"),
        ("HEARTBEAT_TIMEOUT_SECONDS", "75s"),
    ],
)
def test_a_wrong_presence_value_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        config.load({"CONNECTIONS_TABLE": "t", "PRESENCE_TABLE": "p", name: raw})


def test_presence_range_boundaries_are_accepted() -> None:
    env = {
        "CONNECTIONS_TABLE": "t",
        "PRESENCE_TABLE": "p",
        "PRESENCE_GRACE_SECONDS": "900",
        "PRESENCE_PROBE_INTERVAL_SECONDS": "1",
        "HEARTBEAT_TIMEOUT_SECONDS": "899",
        "HEARTBEAT_INTERVAL_SECONDS": "300",
    }
    presence = config.load(env).presence

    assert presence is not None
    assert (presence.grace_seconds, presence.probe_interval_seconds) == (900, 1)
    assert (presence.heartbeat_timeout_seconds, presence.heartbeat_interval_seconds) == (899, 300)
    assert config.load({**env, "PRESENCE_GRACE_SECONDS": "0"}).presence.grace_seconds == 0  # type: ignore[union-attr]


def test_a_setting_only_some_functions_need_is_required_where_it_is_used() -> None:
    assert config.required("https://q", "PRESENCE_QUEUE_URL", "why") == "https://q"
    with pytest.raises(config.ConfigError, match="PRESENCE_QUEUE_URL is not set: the checker sends to it"):
        config.required(None, "PRESENCE_QUEUE_URL", "the checker sends to it")
