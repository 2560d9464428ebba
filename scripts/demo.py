"""`make demo`: the whole connection lifecycle, live and offline, in about a minute.

1. start a moto server on a free loopback port and apply examples/local (the module with its
   `$connect` writer, a WebSocket API, an event bus and a queue that collects agent-offline events);
2. run each deployed function under AWS's Lambda Runtime Interface Emulator + awslambdaric, with the
   handler, environment, timeout and memory read back from the emulated Lambda API and the committed
   zip (checked against the deployed CodeSha256);
3. put a local WebSocket gateway in front (routes read back from the emulated API Gateway) and connect
   a Dashboard and agents as real WebSocket clients through `$connect`;
4. close them: normally (1000), by cutting TCP (1006), with a `$disconnect` the gateway drops, and an
   agent that reconnects before its old `$disconnect` arrives;
5. run the sweeper: its @connections probe (served by the gateway) finds the dropped one gone;
6. show the table, log lines, REPORT lines and EventBridge events; destroy; stop everything.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import standin_tree
from scripts.lambda_rie import Invocation
from scripts.live_stack import Refused, Stack, cut, live_stack
from scripts.offline import Terraform, copy_tree, drain_queue, scan_table
from tests.support.servers import free_port, moto_server

WIDTH = 100
NAMES: Dict[str, str] = {}


def banner(text: str) -> None:
    print(f"\n{'=' * WIDTH}\n{text}\n{'=' * WIDTH}", flush=True)


def show_table(title: str, items: List[Dict[str, Any]]) -> None:
    # The sweeper's saved scan position (remediation_registry.contract.POSITION_KEY) is not a connection.
    items = [item for item in items if item["connectionId"] != "~remediation-sweeper/scan-position"]
    print(f"\n  {title} ({len(items)} item(s))")
    columns = "    {:<18} {:<24} {:<10} {:<9} {:>16} {:>13}"
    print(columns.format("connectionId", "who", "clientType", "agentId", "connectedAt (ms)", "expiresAt (s)"))
    for item in items:
        cid = item["connectionId"]
        values = [item.get(key, "-") for key in ("clientType", "agentId", "connectedAt", "expiresAt")]
        print(columns.format(cid, NAMES.get(cid, "?"), *values))


def report(invocation: Invocation) -> str:
    """The runtime's REPORT line (the emulator reports the configured memory as used: it does not meter)."""
    fields = invocation.report
    return f"[REPORT Duration: {fields.get('Duration', '?')}, Memory Size: {fields.get('Memory Size', '?')}]"


def show_invocation(route: str, cid: str, invocation: Invocation, extra: str = "") -> None:
    line = next((log for log in invocation.logs if log.get("message", "").startswith("connection")), {})
    result = invocation.error.get("errorType") if invocation.error else invocation.payload
    print(f"  {route:<11} {NAMES.get(cid, cid):<24} -> {result}  log: {line.get('message', '-')!r} {extra}")
    print(f"  {'':<11} {report(invocation)}")


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp) / "moto.log") as endpoint:
        banner(f"1. moto server on {endpoint}: terraform apply examples/local (in the stand-in tree)")
        # A copy of the tree as hashicorp/aws 3.39.0 can run it (scripts/standin_tree.py says what it swaps).
        workdir = copy_tree(Path(tmp) / "tree") / "examples" / "local"
        for line in standin_tree.describe():
            print(f"  stand-in: {line}")
        port = free_port()
        terraform = Terraform(
            workdir, {"aws_endpoint": endpoint, "connections_endpoint": f"http://127.0.0.1:{port}/live"}, echo=True
        )
        terraform.init()
        try:
            applied = terraform.apply()
            summary = [line for line in applied.stdout.splitlines() if line.startswith("Apply complete")]
            print("  " + (summary[0] if summary else "applied"))
            out = terraform.outputs()
            banner("2. Each deployed function under AWS's Lambda runtime (aws-lambda-rie + awslambdaric)")
            with live_stack(out, endpoint, connections_port=port, workdir=Path(tmp) / "functions") as stack:
                run_story(stack, endpoint)
        finally:
            banner("7. terraform destroy examples/local; stop the runtimes, the gateway and the moto server")
            destroyed = terraform.destroy()
            summary = [line for line in destroyed.stdout.splitlines() if line.startswith("Destroy complete")]
            print("  " + (summary[0] if summary else "destroyed"))
    print(f"\nmake demo: done in {time.monotonic() - started:.0f}s", flush=True)
    return 0


def run_story(stack: Stack, endpoint: str) -> None:
    out, gateway = stack.outputs, stack.gateway
    for name, runtime in stack.runtimes.items():
        config = runtime.config
        print(
            f"  {name:<28} handler {config['Handler']:<42} {config['MemorySize']} MB, {config['Timeout']} s"
            f"  code {config['CodeSha256'][:12]}... == committed zip"
        )
    for key, route in sorted(gateway.routes.routes.items()):
        target = route.function_name or f"MOCK ({'two-way' if route.two_way else 'one-way'}: nothing invoked)"
        auth = f"  [{route.authorization_type}]" if route.authorization_type != "NONE" else ""
        print(f"  route {key:<12} -> {target}{auth}")
    print(f"  gateway {gateway.url}   @connections {gateway.connections_api.endpoint}")

    banner("3. Real WebSocket clients connect through $connect (query-string identity: demo only)")
    clients: Dict[str, Any] = {}

    def connect(who: str, **query: str) -> str:
        before = gateway.live_ids()
        clients[who] = stack.client(**query)
        cid = stack.connection_id(before)
        NAMES[cid] = who
        record = [r for r in gateway.records if r.connection_id == cid and r.route_key == "$connect"][-1]
        show_invocation("$connect", cid, record.invocation)
        return cid

    connect("Dashboard", clientType="dashboard")
    a07 = connect("agent-07 (first socket)", clientType="agent", agentId="agent-07")
    a12 = connect("agent-12", clientType="agent", agentId="agent-12")
    a31 = connect("agent-31", clientType="agent", agentId="agent-31")
    a44 = connect("agent-44", clientType="agent", agentId="agent-44")
    connect("agent-55", clientType="agent", agentId="agent-55")
    try:
        stack.client(agentId="agent-99")
    except Refused as exc:
        refused = [r for r in gateway.records if r.route_key == "$connect"][-1]
        reason = next(
            log.get("reason") for log in refused.invocation.logs if log.get("message") == "connection refused"
        )
        print(f"  $connect    {'(no clientType)':<24} -> handshake rejected: HTTP {exc.status}; log: {reason!r}")
    show_table("Connections table", scan_table(out["table_name"], endpoint))

    banner("4. Connections close: normal, TCP cut, $disconnect dropped, reconnect before a late $disconnect")
    clients["agent-12"].close(1000, "agent shutting down")
    show_invocation("$disconnect", a12, gateway.wait_closed(a12).invocation, "(close frame 1000)")
    cut(clients["agent-44"])
    record = gateway.wait_closed(a44)
    status = record.event["requestContext"]["disconnectStatusCode"]
    show_invocation("$disconnect", a44, record.invocation, f"(TCP cut: disconnectStatusCode {status})")
    [line] = [log for log in record.invocation.logs if log.get("message") == "connection removed"]
    shown = {key: line[key] for key in ("level", "message", "connectionId", "disconnectStatusCode", "abnormal", "item")}
    print(f"  {'':<11} log line: {json.dumps(shown)}")
    gateway.drop_disconnect.add(a31)
    clients["agent-31"].close(1000, "bye")
    print(f"  $disconnect {NAMES[a31]:<24} -> {gateway.wait_closed(a31).note} by the gateway (best-effort delivery)")
    gateway.hold_disconnect.add(a07)
    cut(clients["agent-07 (first socket)"])
    gateway.wait_closed(a07)
    print(f"  $disconnect {NAMES[a07]:<24} -> held back (API Gateway has not noticed yet)")
    a07b = connect("agent-07 (reconnected)", clientType="agent", agentId="agent-07")
    late = gateway.release_disconnect(a07)
    offline = next(
        log.get("agentOffline") for log in late.invocation.logs if log.get("message", "").startswith("connection")
    )
    show_invocation("$disconnect", a07, late.invocation, f"(late; agentOffline={offline})")
    show_table("Connections table after the disconnects", scan_table(out["table_name"], endpoint))
    del a07b

    banner("5. The sweeper runs (scheduled): @connections GetConnection through the gateway")
    sweep = stack.sweep()
    if sweep.error:
        raise RuntimeError(f"sweeper failed: {sweep.error}")
    summary = sweep.payload
    calls = sum(count for (method, _), count in gateway.connections_api.calls.items() if method == "GET")
    print(
        f"  examined {summary['examined']}, probed {summary['probed']} ({calls} GetConnection calls),"
        f" removed {summary['removedExpired']} expired + {summary['removedGone']} gone,"
        f" agents offline {summary['agentsOffline']}"
    )
    for log in sweep.logs:
        if log.get("message") == "stale connection removed":
            print(f"  removed {NAMES.get(log['connectionId'], '?'):<24} reason: {log['reason']}")
    print(f"  the runtime's own line: {sweep.report_line.strip()}")
    show_table("Connections table after the sweep", scan_table(out["table_name"], endpoint))

    banner("6. Agent events on the module's EventBridge bus (routed to the demo's SQS queue)")
    delivered = drain_queue(out["agent_events_queue_url"], endpoint)
    agent_events = out["agent_events"]
    print(f"  {len(delivered)} event(s): source {agent_events['source']!r}, bus {agent_events['event_bus_name']!r}")
    for event in sorted(delivered, key=lambda e: e["detail"]["agentId"]):
        detail = event["detail"]
        print(
            f"  {detail['agentId']:<9} {event['detail-type']:<26} reason {detail['reason']:<17}"
            f" abnormal {detail.get('abnormal')!s:<5} closeCode {detail.get('disconnectStatusCode')}"
        )
    print("\n  agent-07 has no event: it reconnected. agent-55 and the Dashboard are still connected.")


if __name__ == "__main__":
    sys.exit(main())
