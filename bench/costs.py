"""The monthly cost model of BENCHMARKS.md, computed from prices stated here and durations measured by run.py.

Prices: AWS us-east-1 on-demand list prices as given in the benchmark issue (DynamoDB on-demand after the
1 November 2024 reduction); not re-checked online by this script. A month is 30 days.
"""

from __future__ import annotations

import math
from typing import Dict, List, NamedTuple

PRICES_AS_OF = "November 2026 (DynamoDB on-demand: after the 1 Nov 2024 reduction)"
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86
DDB_PER_MILLION_WRU = 0.625
DDB_PER_MILLION_RRU = 0.125
EVENTBRIDGE_PER_MILLION_EVENTS = 1.00
SQS_PER_MILLION_REQUESTS = 0.40  # standard queue
LOGS_PER_GB_INGESTED = 0.50
METRIC_PER_MONTH = 0.30  # first 10,000 metrics

MONTH_SECONDS = 30 * 24 * 3600
SWEEP_PERIOD_SECONDS = 300
SWEEPS_PER_MONTH = MONTH_SECONDS // SWEEP_PERIOD_SECONDS  # 8,640
ITEM_BYTES = 150
READ_UNIT_BYTES = 4096
DISCONNECT_MEMORY_MB = 128
SWEEPER_MEMORY_MB = 256  # the module's default (functions.sweeper.memory_size)
SWEEP_BUDGET_ITEMS = 100_000  # the module's default (var.sweeper.max_items_per_run)
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
PLATFORM_LOG_BYTES = 270  # START + END + REPORT lines per invocation (estimate)
CUSTOM_METRICS = 15  # metric x dimension combinations the function can emit (README: "about 15")

DISCONNECT_VOLUMES = (1_000_000, 100_000_000)
TABLE_SIZES = (10_000, 1_000_000, 3_600_000)


class Measured(NamedTuple):
    disconnect_ms: float  # warm wall time per $disconnect on this machine (handler + loopback stub)
    disconnect_cpu_ms: float  # warm CPU time per $disconnect on this machine
    log_line_bytes: int  # the handler's one log line per event
    sweep_cpu_us_per_item: float  # our sweeper's CPU per examined item on this machine (moto run)


def _money(value: float) -> str:
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.3f}" if value >= 0.001 else "< $0.001"


def _count(value: float) -> str:
    for limit, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if value >= limit:
            return f"{value / limit:,.3g}{suffix}"
    return f"{value:,.0f}"


def scan_rru(items: int) -> float:
    """Read units of one eventually consistent Scan pass over `items` items of ITEM_BYTES."""
    return math.ceil(items * ITEM_BYTES / READ_UNIT_BYTES) * 0.5


def disconnect_rows(measured: Measured) -> List[Dict[str, str]]:
    billed_ms = max(1, math.ceil(measured.disconnect_ms))
    # At 128 MB, Lambda gives ~7% of a vCPU: CPU-bound work stretches, the DynamoDB round trip does not.
    lambda_ms = max(1, math.ceil(measured.disconnect_cpu_ms * FULL_VCPU_MB / DISCONNECT_MEMORY_MB + 5))
    rows = []
    for volume in DISCONNECT_VOLUMES:
        millions = volume / 1e6
        gb_s = volume * billed_ms / 1000 * DISCONNECT_MEMORY_MB / 1024
        gb_s_128 = volume * lambda_ms / 1000 * DISCONNECT_MEMORY_MB / 1024
        log_gb = volume * (measured.log_line_bytes + PLATFORM_LOG_BYTES) / 1e9
        requests = millions * LAMBDA_PER_MILLION_REQUESTS
        compute = gb_s * LAMBDA_PER_GB_SECOND
        writes = millions * DDB_PER_MILLION_WRU
        logs = log_gb * LOGS_PER_GB_INGESTED
        # Presence, at most (every disconnect is an agent's last connection, gone offline after grace):
        # T2 and T3 writes, the grace message sent and received, the checker's run, one event.
        presence_writes = 2 * millions * DDB_PER_MILLION_WRU
        messages = 2 * millions * SQS_PER_MILLION_REQUESTS
        events = millions * EVENTBRIDGE_PER_MILLION_EVENTS
        rows.append(
            {
                "disconnects/month": _count(volume),
                "Lambda requests": _money(requests),
                f"Lambda GB-s ({billed_ms} ms billed)": f"{_count(gb_s)} = {_money(compute)}",
                f"GB-s at 128 MB CPU share (~{lambda_ms} ms)": f"{_count(gb_s_128)} = "
                f"{_money(gb_s_128 * LAMBDA_PER_GB_SECOND)}",
                "DynamoDB WRU": f"{_count(volume)} = {_money(writes)}",
                "Logs ingested": f"{log_gb:,.2f} GB = {_money(logs)}",
                "total (presence off)": _money(requests + compute + writes + logs),
                "+ presence (max)": f"{_count(2 * volume)} WRU = {_money(presence_writes)}; "
                f"SQS {_count(2 * volume)} = {_money(messages)}; {_count(volume)} events = {_money(events)}; "
                f"checker {_count(volume)} requests = {_money(requests)}",
            }
        )
    return rows


def sweeper_rows(measured: Measured) -> List[Dict[str, str]]:
    rows = []
    for items in TABLE_SIZES:
        full = scan_rru(items)
        per_run_items = min(items, SWEEP_BUDGET_ITEMS)
        segments = math.ceil(items / SWEEP_BUDGET_ITEMS)
        budget = scan_rru(per_run_items)
        cpu_s = measured.sweep_cpu_us_per_item * per_run_items / 1e6
        lambda_s = cpu_s * FULL_VCPU_MB / SWEEPER_MEMORY_MB
        gb_s_month = lambda_s * SWEEPER_MEMORY_MB / 1024 * SWEEPS_PER_MONTH
        rows.append(
            {
                "live connections": _count(items),
                "Scan RRU per full pass": f"{full:,.0f}",
                "full pass every run: RRU/month": f"{_count(full * SWEEPS_PER_MONTH)} = "
                f"{_money(full * SWEEPS_PER_MONTH / 1e6 * DDB_PER_MILLION_RRU)}",
                "budgeted (default 100k/run)": f"{budget:,.0f} RRU/run, {_count(budget * SWEEPS_PER_MONTH)}/month = "
                f"{_money(budget * SWEEPS_PER_MONTH / 1e6 * DDB_PER_MILLION_RRU)}",
                "full pass every (saved position)": f"{segments} runs, {segments * SWEEP_PERIOD_SECONDS // 60} min",
                "sweeper Lambda (est.)": f"~{lambda_s:,.0f} s/run at {SWEEPER_MEMORY_MB} MB, "
                f"{_count(gb_s_month)} GB-s = {_money(gb_s_month * LAMBDA_PER_GB_SECOND)}/month",
                "requests/month": f"{_count(SWEEPS_PER_MONTH)} = "
                f"{_money(SWEEPS_PER_MONTH / 1e6 * LAMBDA_PER_MILLION_REQUESTS)}",
            }
        )
    return rows


def markdown(rows: List[Dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[key] for key in header) + " |" for row in rows]
    return "\n".join(lines)


def fixed_costs() -> str:
    metrics = CUSTOM_METRICS * METRIC_PER_MONTH
    return (
        f"Fixed: ~{CUSTOM_METRICS} custom metrics (EMF) x ${METRIC_PER_MONTH:.2f} = ${metrics:.2f}/month whatever "
        f"the volume; {SWEEPS_PER_MONTH:,} sweeper invocations/month."
    )


LIVE = 10_000_000
MEAN_CONNECTION_SECONDS = 3600  # assumption: connections last an hour on average (API Gateway's cap: 2 h)
LOST_DISCONNECT_SHARE = 0.01  # assumption: 1 % of $disconnect events never arrive (the sweeper's work)
SWEEP_LOG_BYTES = 900 + PLATFORM_LOG_BYTES  # "sweep finished" + metrics lines + START/END/REPORT
REMOVED_LOG_BYTES = 260  # one "stale connection removed" line


def live_10m_rows(read_units_per_run: float, cpu_s_per_run: float, disconnect_log_bytes: int) -> List[Dict[str, str]]:
    """Paper model, 10 M live connections: the measured per-run figures times the month, plus assumptions."""
    disconnects = LIVE * MONTH_SECONDS / MEAN_CONNECTION_SECONDS
    stale = disconnects * LOST_DISCONNECT_SHARE
    runs = SWEEPS_PER_MONTH
    lambda_s = cpu_s_per_run * FULL_VCPU_MB / SWEEPER_MEMORY_MB
    sweep_gb_s = runs * lambda_s * SWEEPER_MEMORY_MB / 1024
    sweep_logs = (runs * SWEEP_LOG_BYTES + stale * REMOVED_LOG_BYTES) / 1e9
    rrus = runs * read_units_per_run + runs  # + the position's GetItem
    wrus = stale + runs  # deletes + the position's PutItem
    pass_runs = math.ceil(LIVE / SWEEP_BUDGET_ITEMS)
    sweeper = {
        "part": f"sweeper (pass of {pass_runs} runs = {pass_runs * SWEEP_PERIOD_SECONDS / 3600:.1f} h)",
        "reads": f"{_count(rrus)} RRU = {_money(rrus / 1e6 * DDB_PER_MILLION_RRU)}",
        "writes": f"{_count(wrus)} WRU = {_money(wrus / 1e6 * DDB_PER_MILLION_WRU)}",
        "Lambda": f"{_count(runs)} req, ~{lambda_s:,.0f} s/run at {SWEEPER_MEMORY_MB} MB = "
        f"{_money(runs / 1e6 * LAMBDA_PER_MILLION_REQUESTS + sweep_gb_s * LAMBDA_PER_GB_SECOND)}",
        "logs": f"{sweep_logs:,.2f} GB = {_money(sweep_logs * LOGS_PER_GB_INGESTED)}",
    }
    handler_logs = disconnects * (disconnect_log_bytes + PLATFORM_LOG_BYTES) / 1e9
    handler_gb_s = disconnects * 0.020 * DISCONNECT_MEMORY_MB / 1024  # ~20 ms billed per event at 128 MB
    handler = {
        "part": f"$disconnect ({_count(disconnects)} events)",
        "reads": "0",
        "writes": f"{_count(disconnects)} WRU = {_money(disconnects / 1e6 * DDB_PER_MILLION_WRU)}",
        "Lambda": f"{_money(disconnects / 1e6 * LAMBDA_PER_MILLION_REQUESTS + handler_gb_s * LAMBDA_PER_GB_SECOND)}",
        "logs": f"{handler_logs:,.0f} GB = {_money(handler_logs * LOGS_PER_GB_INGESTED)}",
    }
    return [sweeper, handler]
