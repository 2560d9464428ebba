"""EventBridge schedules (scripts/schedules.py): the function targets of the rules applied on moto, on
demand and on a scaled clock."""

from __future__ import annotations

import json

import pytest

from scripts.offline import client
from scripts.schedules import Schedules, rate_seconds
from tests.support.dataplane import ScriptedFunction, create_function


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


def test_cron_has_no_period() -> None:
    assert rate_seconds("cron(0 12 * * ? *)") is None


def rule(endpoint: str, name: str, expression: str, **target: str) -> str:
    arn = create_function(endpoint, name)
    events = client("events", endpoint)
    rule_arn = str(events.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"])
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": arn, **target}])
    return rule_arn


def test_tick_sends_the_scheduled_event_to_the_rules_function(endpoint: str, name: str) -> None:
    rule_arn = rule(endpoint, name, "rate(1 minute)")
    fn = ScriptedFunction()
    schedules = Schedules.load(endpoint, fn)
    [tick] = schedules.tick(name)
    assert tick.function_name == name
    [event] = fn.events(name)
    assert event["detail-type"] == "Scheduled Event"
    assert (event["source"], event["resources"], event["detail"]) == ("aws.events", [rule_arn], {})
    assert (event["account"], event["region"]) == (rule_arn.split(":")[4], "us-east-1")
    assert schedules.rule(name).period == 60


def test_a_rule_can_be_named_by_its_function(endpoint: str, name: str) -> None:
    rule(endpoint, name, "rate(5 minutes)")
    schedules = Schedules.load(endpoint, ScriptedFunction())
    assert schedules.rule(name).expression == "rate(5 minutes)"


def test_a_constant_input_replaces_the_event(endpoint: str, name: str) -> None:
    rule(endpoint, name, "rate(1 minute)", Input=json.dumps({"kind": "tick"}))
    fn = ScriptedFunction()
    Schedules.load(endpoint, fn).tick(name)
    assert fn.events(name) == [{"kind": "tick"}]


def test_the_scaled_clock_fires_rate_rules(endpoint: str, name: str) -> None:
    rule(endpoint, name, "rate(1 minute)")
    fn = ScriptedFunction()
    schedules = Schedules.load(endpoint, fn)
    schedules.schedules = {name: schedules.rule(name)}  # the other tests' rules share this moto server
    schedules.start(scale=120)  # every 0.5 s
    try:
        fn.wait_calls(2)
    finally:
        schedules.stop()
    assert {called for called, _ in fn.calls} == {name}
