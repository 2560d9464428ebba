"""`make demo`: the module's whole job, offline, in about a minute.

1. start a moto server on a free loopback port and apply examples/local (the module + a WebSocket
   API, an event bus and a queue that collects agent-offline events);
2. play $connect for a Dashboard and agents (items as a $connect handler writes them), plus two
   connections whose $disconnect never came (one past its TTL, one whose network dropped);
3. close connections through the deployed handler code (imported from the built zip, with the
   deployed function's environment) using real-shaped $disconnect events, including an agent that
   reconnected before its old connection's late $disconnect;
4. run the sweeper (its @connections probe answered by a local stand-in for API Gateway);
5. show the table before/after and the agent-offline events on the queue; destroy; stop the server.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.offline import (
    ROOT,
    Terraform,
    client,
    connection_id,
    connection_item,
    deployed_function,
    disconnect_event,
    drain_queue,
    invoke_local,
    invoke_sweep,
    now_ms,
    scan_table,
)
from tests.support.servers import fake_connections_endpoint, moto_server

WIDTH = 100


def banner(text: str) -> None:
    print(f"\n{'=' * WIDTH}\n{text}\n{'=' * WIDTH}", flush=True)


def show_table(title: str, items: List[Dict[str, Any]], names: Dict[str, str]) -> None:
    # The sweeper's saved scan position (remediation_disconnect.store.POSITION_KEY) is not a connection.
    items = [item for item in items if item["connectionId"] != "~remediation-sweeper/scan-position"]
    print(f"\n{title} ({len(items)} item(s))")
    print(f"  {'connectionId':<18} {'who':<26} {'clientType':<10} {'agentId':<10} {'connected':>10} {'expires in':>11}")
    now = time.time()
    for item in items:
        connected = int(item.get("connectedAt", 0)) / 1000
        expires = int(item.get("expiresAt", 0)) - now
        expires_text = f"{expires / 60:.0f} min" if expires > 0 else "EXPIRED"
        print(
            f"  {item['connectionId']:<18} {names.get(item['connectionId'], '?'):<26} {item.get('clientType', '-'):<10}"
            f" {item.get('agentId', '-'):<10} {(now - connected) / 60:>6.0f} min {expires_text:>11}"
        )


def main() -> int:
    started = time.monotonic()
    workdir = ROOT / "examples" / "local"
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp) / "moto.log") as endpoint:
        banner(f"1. moto server on {endpoint}: terraform apply examples/local")
        terraform = Terraform(workdir, {"aws_endpoint": endpoint}, echo=True)
        terraform.init()
        try:
            applied = terraform.apply()
            summary = [line for line in applied.stdout.splitlines() if line.startswith("Apply complete")]
            print("  " + (summary[0] if summary else "applied"))
            out = terraform.outputs()
            run_story(out, endpoint)
        finally:
            banner("6. terraform destroy examples/local; stop the moto server")
            destroyed = terraform.destroy()
            summary = [line for line in destroyed.stdout.splitlines() if line.startswith("Destroy complete")]
            print("  " + (summary[0] if summary else "destroyed"))
    print(f"\nmake demo: done in {time.monotonic() - started:.0f}s", flush=True)
    return 0


def run_story(out: Dict[str, Any], endpoint: str) -> None:
    api_id, table, stage = out["api_id"], out["table_name"], "live"
    disconnect_fn = deployed_function(out["function_name"], endpoint)
    print(f"  API {api_id}: route $disconnect ({out['route_id']}) -> integration {out['integration_id']}")
    print(f"  -> Lambda {out['function_name']} [{disconnect_fn['handler']}], table {table}")
    print(
        f"  Sweeper {out['sweeper_function_name']} every 5 minutes; offline events -> {out['agent_offline_queue_url']}"
    )
    print(f"  Package {out['package']['filename']} (sha256 {disconnect_fn['code_sha256']})")

    banner("2. $connect: the Dashboard and agents connect (items as a $connect handler writes them)")
    dynamodb = client("dynamodb", endpoint)
    now = now_ms()
    people: Dict[str, Dict[str, Any]] = {}

    def connect(who: str, client_type: str, agent: str | None, minutes_ago: float) -> str:
        cid = connection_id()
        at = now - int(minutes_ago * 60_000)
        dynamodb.put_item(TableName=table, Item=connection_item(cid, client_type, agent, at))
        people[cid] = {"who": who, "agent": agent, "connectedAt": at}
        return cid

    dashboard = connect("Dashboard (ops console)", "dashboard", None, 42)
    agent_07_old = connect("agent-07 (first socket)", "agent", "agent-07", 55)
    agent_12 = connect("agent-12", "agent", "agent-12", 18)
    agent_31 = connect("agent-31 (no $disconnect)", "agent", "agent-31", 190)
    agent_44 = connect("agent-44 (network lost)", "agent", "agent-44", 25)
    agent_55 = connect("agent-55", "agent", "agent-55", 7)
    agent_07_new = connect("agent-07 (reconnected)", "agent", "agent-07", 0.2)
    names = {cid: person["who"] for cid, person in people.items()}
    show_table("Connections table", scan_table(table, endpoint), names)
    print("\n  agent-31 connected 190 min ago: past API Gateway's 2-hour limit, its $disconnect never arrived.")
    print("  agent-44's network dropped 10 min ago: API Gateway no longer knows the connection.")
    print("  agent-07 reconnected (new connectionId) before its old connection's $disconnect arrives.")

    banner("3. $disconnect events through the deployed handler (code imported from the built zip)")
    closes = [
        (dashboard, 1001, "Going away"),
        (agent_12, 1006, "Connection lost"),
        (agent_07_old, 1001, "Going away"),
        (agent_12, 1006, "Connection lost"),  # API Gateway may deliver an event twice
    ]
    events = [
        disconnect_event(cid, api_id, stage, people[cid]["connectedAt"], status, reason)
        for cid, status, reason in closes
    ]
    result = invoke_local(disconnect_fn, out["function_name"], events, endpoint)
    print(f"  handler loaded from {result['loaded_from']}")
    lines = [log for log in result["logs"] if log.get("message", "").startswith("connection")]
    for (cid, status, reason), response, log in zip(closes, result["results"], lines):
        offline = {True: "agent OFFLINE", False: "agent still online", None: "-"}[log.get("agentOffline")]
        print(
            f"  {names[cid]:<26} close {status} {reason:<16} -> {response}  {log['result']:<12}"
            f" duration {log.get('durationSeconds')}s  {offline}"
        )
    if result["errors"]:
        raise RuntimeError(f"handler errors: {result['errors']}")
    show_table("Connections table after the disconnects", scan_table(table, endpoint), names)

    banner("4. The sweeper runs (scheduled): expired items, and connections API Gateway says are gone")
    with fake_connections_endpoint(stage) as (probe_url, state):
        state.gone.add(agent_44)
        sweep = invoke_sweep(out["sweeper_function_name"], endpoint, probe_url)
    if sweep["errors"]:
        raise RuntimeError(f"sweeper errors: {sweep['errors']}")
    report = sweep["results"][0]
    print(
        f"  examined {report['examined']}, removed {report['removedExpired']} expired + {report['removedGone']} gone,"
        f" probed {report['probed']} (stand-in @connections: {len(state.calls)} GetConnection calls),"
        f" agents offline {report['agentsOffline']}"
    )
    for log in sweep["logs"]:
        if log.get("message") == "stale connection removed":
            print(f"  removed {names.get(log['connectionId'], '?'):<26} reason: {log['reason']}")
    show_table("Connections table after the sweep", scan_table(table, endpoint), names)

    banner("5. Agent-offline events on EventBridge (routed to the demo's SQS queue)")
    delivered = drain_queue(out["agent_offline_queue_url"], endpoint)
    offline = out["offline_event"]
    print(f"  {len(delivered)} event(s): source {offline['source']!r}, detail-type {offline['detail_type']!r}")
    for event in sorted(delivered, key=lambda e: e["detail"]["agentId"]):
        detail = event["detail"]
        print(
            f"  {detail['agentId']:<9} reason {detail['reason']:<10} abnormal {detail['abnormal']!s:<5}"
            f" closeCode {detail['disconnectStatusCode']}  duration {detail['durationSeconds']}"
        )
    print("\n  agent-07 has no event: it reconnected. agent-55 is still connected. The Dashboard is not an agent.")
    del agent_55, agent_07_new, agent_31


if __name__ == "__main__":
    sys.exit(main())
