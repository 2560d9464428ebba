"""`make bench`, fleet part: gates, the printed tables (the same Markdown BENCHMARKS.md carries)."""

from __future__ import annotations

from typing import Any, Dict, List

from bench import costs
from bench.common import Figure
from bench.fleet import SCENARIOS
from bench.fleet_model import dollars, incident_dollars, money, rounded

SILENT_P99_TARGET_S = 120.0  # heartbeat timeout 75 s + one check period, "< 2 min" (issue 15 item 8)
FAULTS = ("false_offline", "missed_offline", "duplicate", "out_of_order")


def fleet_figures(result: Dict[str, Any]) -> List[Figure]:
    figures: List[Figure] = []
    scenarios = result["scenarios"]
    for fault in FAULTS:
        total = sum(int(s[fault]) for s in scenarios.values())
        figures.append(
            Figure(f"fleet: {fault.replace('_', ' ')}, all scenarios", "count", None, total, None, "= 0", total == 0)
        )
    silent = scenarios.get("silent", {}).get("latency_p99_s")
    if silent is not None:
        figures.append(
            Figure(
                "fleet: silent death detected, p99",
                "s (real)",
                None,
                silent,
                None,
                f"< {SILENT_P99_TARGET_S:g} s",
                silent < SILENT_P99_TARGET_S,
            )
        )
    return figures


def scenario_table(result: Dict[str, Any]) -> str:
    labels = dict(SCENARIOS)
    head = (
        "| scenario | agents | offline announced / expected | p50 / p99 detection (s, real) | false | missed off / on "
        "| dup | out of order | ambiguous | reasons |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for key, s in result["scenarios"].items():
        reasons = ", ".join(f"{name} {n}" for name, n in sorted(s["reasons"].items())) or "none"
        lines.append(
            f"| {labels.get(key, key)} | {s['agents']} | {s['announced_gaps']} / {s['expected_gaps']} | "
            f"{rounded(s['latency_p50_s'])} / {rounded(s['latency_p99_s'])} | {s['false_offline']} | "
            f"{s['missed_offline']} / {s['missed_online']} | {s['duplicate']} | {s['out_of_order']} | "
            f"{s['ambiguous']} | {reasons} |"
        )
    return "\n".join(lines)


SHORT = {
    "clean_stop": "clean stop",
    "crash": "process crash",
    "silent": "silent host death",
    "blip_short": "blip < grace",
    "blip_long": "blip > grace",
    "rollover": "2-hour rollover",
    "idle_close": "idle close",
    "lost_disconnect": "lost `$disconnect`",
    "lost_then_back": "lost `$disconnect`, back > grace",
    "late_disconnect": "late `$disconnect`",
    "mass_drop": "mass drop + storm",
}
COLUMNS = (
    ("Lambda", ("lambda.Invoke",)),
    ("DynamoDB writes", ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")),
    ("DynamoDB reads", ("dynamodb.GetItem", "dynamodb.Scan")),
    ("@connections", ("execute-api.GetConnection", "execute-api.DeleteConnection")),
    ("SQS", ("sqs.SendMessage", "sqs.ReceiveMessage", "sqs.DeleteMessageBatch")),
    ("EventBridge entries", ("events.Entries",)),
    ("API GW messages", ("apigateway.Messages",)),
)


def requests_table(result: Dict[str, Any], per_day: float = 1.0) -> str:
    base = result["baseline"]["per_agent_hour"]
    steady = dollars(base)["total"]
    head = "| | " + " | ".join(name for name, _ in COLUMNS) + " | $ / 1,000 agents / month |"
    lines = [head, "|---|" + "---:|" * (len(COLUMNS) + 1)]
    cells = [f"{sum(base.get(k, 0.0) for k in keys):,.2f}" for _, keys in COLUMNS]
    lines.append(f"| steady state, per agent-hour | {' | '.join(cells)} | {money(steady)} |")
    for key, s in result["scenarios"].items():
        extra = s["extra_requests_per_agent"]
        cells = [f"{sum(extra.get(k, 0.0) for k in keys):,.2f}" for _, keys in COLUMNS]
        added = incident_dollars(extra, per_day)
        lines.append(
            f"| {SHORT.get(key, key)}: extra per incident | {' | '.join(cells)} | "
            f"{money(steady + added)} (+{money(added)}) |"
        )
    return "\n".join(lines)


def prices() -> str:
    from bench.fleet_model import (
        APIGW_PER_MILLION_CONNECTION_MINUTES,
        APIGW_PER_MILLION_MESSAGES,
        LAMBDA_BILLED_MS,
        LAMBDA_MEMORY_MB,
    )

    return (
        f"Prices (bench/costs.py, {costs.PRICES_AS_OF}; us-east-1): Lambda ${costs.LAMBDA_PER_MILLION_REQUESTS}/M "
        f"requests + ${costs.LAMBDA_PER_GB_SECOND}/GB-s (assumed {LAMBDA_BILLED_MS} ms billed at "
        f"{LAMBDA_MEMORY_MB} MB); "
        f"DynamoDB on-demand ${costs.DDB_PER_MILLION_WRU}/M WRU, ${costs.DDB_PER_MILLION_RRU}/M RRU (items < 1 KB: "
        f"1 WRU per write, failed conditional writes included; 1 RRU per consistent GetItem); SQS "
        f"${costs.SQS_PER_MILLION_REQUESTS}/M requests; EventBridge ${costs.EVENTBRIDGE_PER_MILLION_EVENTS}/M events; "
        f"API Gateway WebSocket ${APIGW_PER_MILLION_MESSAGES}/M messages, ${APIGW_PER_MILLION_CONNECTION_MINUTES}/M "
        f"connection-minutes; @connections GetConnection/DeleteConnection: no documented price, $0."
    )


def print_fleet(result: Dict[str, Any], model: Dict[str, Any], log: Any) -> None:
    log("")
    log(
        f"fleet: {result['settings']['agents']} agents, time compressed {result['settings']['scale']}x, "
        f"{result['wall_seconds']:.0f} s wall"
    )
    for line in scenario_table(result).splitlines():
        log("  " + line)
    log("")
    for line in requests_table(result).splitlines():
        log("  " + line)
    log("")
    storm = model["storm"]
    log(
        f"  model, {model['agents']:,} agents: steady {model['steady_dollars_per_month']['total']:,.2f} $/month; "
        f"probes {model['steady_per_second'].get('execute-api.GetConnection', 0):,.0f}/s; mass drop: all back after "
        f"{storm['all_back_s']:.0f} s, {storm['offline_share']:.1%} announced offline, "
        f"{model['storm_events_per_second']:,.0f} events/s, {model['storm_writes_per_second']:,.0f} writes/s"
    )


def model_table(model: Dict[str, Any]) -> str:
    storm, small = model["storm"], model["storm_model_at_sim_scale"]
    steady = model["steady_per_second"]
    money_rows = ", ".join(f"{name} {money(value)}" for name, value in model["steady_dollars_per_month"].items())
    rows = [
        ("steady state: @connections GetConnection", f"{steady.get('execute-api.GetConnection', 0):,.0f}/s"),
        ("steady state: checker invocations (full batches of 10)", f"{steady.get('lambda.Invoke', 0):,.0f}/s"),
        ("steady state: SQS requests", f"{sum(v for k, v in steady.items() if k.startswith('sqs.')):,.0f}/s"),
        ("steady state: heartbeat messages", f"{steady.get('apigateway.Messages', 0):,.0f}/s"),
        ("steady state: $ per month, by service", money_rows),
        ("mass drop: all agents back after (500 new connections/s)", f"{storm['all_back_s']:,.0f} s"),
        ("mass drop: half the agents back after", f"{storm['p50_back_s']:,.0f} s"),
        ("mass drop: handshake attempts per agent (429s included)", f"{storm['attempts_per_agent']:.1f}"),
        ("mass drop: share announced offline (gap > grace)", f"{storm['offline_share']:.1%}"),
        (
            "mass drop: same model at the simulation's scale vs measured",
            f"{small['offline_share']:.1%} modelled, "
            + (
                f"{model['storm_measured_offline_share']:.1%} measured"
                if model["storm_measured_offline_share"] is not None
                else "not measured"
            ),
        ),
        ("mass drop: events published", f"{model['storm_events']:,} ({model['storm_events_per_second']:,.0f}/s)"),
        ("mass drop: DynamoDB writes", f"{model['storm_writes_per_second']:,.0f}/s over the storm"),
        ("mass drop: Lambda invocations", f"{model['storm_lambda_per_second']:,.0f}/s over the storm"),
    ]
    lines = [f"| {model['agents']:,} agents (model) | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def markdown(result: Dict[str, Any], model: Dict[str, Any]) -> str:
    return "\n\n".join((scenario_table(result), requests_table(result), model_table(model), prices()))


if __name__ == "__main__":
    import json
    import sys

    from bench.fleet_model import model as scale_up

    loaded = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
    print(markdown(loaded, scale_up(loaded)))
