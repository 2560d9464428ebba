"""`make local-stack`: examples/local live on this machine until Ctrl-C, to run the reference agent
client (examples/agent-client) — or any WebSocket client — against it by hand.

It applies examples/local on a moto server (from a copy of the tree, as `make demo` does), runs the
deployed functions under AWS's Lambda runtime emulator behind the local gateway that plays API
Gateway's data plane, with the stack's event source mappings and EventBridge schedules
(scripts/live_stack.py), prints the gateway's URL and a command line per agent, then prints every
agent event and presence change until interrupted, and destroys the stack on the way out.

  --identity iam    the stack's `$connect` is AWS_IAM: for each --agent the example's agent role is
                    assumed (moto STS) with the agent id as session name, and the credentials are
                    printed as environment variables; the client finds them through botocore's
                    credential chain, as an agent on EC2 or ECS would find its own.
  --max-lifetime, --idle-timeout   API Gateway's limits (7200 s, 600 s), scaled down to watch a
                    renewal or an idle close in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.live_stack import Stack, live_stack
from scripts.offline import REGION, Terraform, copy_tree
from tests.support.servers import free_port, moto_server

CLIENT = "examples/agent-client"


def commands(stack: Stack, agents: List[str], iam: bool, heartbeat: Any) -> List[str]:
    url = stack.gateway.url
    interval = f" --heartbeat-interval {heartbeat}" if heartbeat else " --no-heartbeat"
    lines = []
    for agent in agents:
        if iam:
            principal = stack.assume_role(stack.outputs["agent_role_arn"], agent)
            lines += [
                f"# {agent}: credentials of {principal.arn} (moto STS; the gateway knows them)",
                f"env AWS_ACCESS_KEY_ID={principal.access_key_id} AWS_SECRET_ACCESS_KEY={principal.secret_access_key}"
                f" AWS_SESSION_TOKEN={principal.session_token} \\",
                f"  python -m remediation_agent {url} --iam --region {REGION}{interval}",
            ]
        else:
            lines += [
                f"# {agent} (query-string identity: demo stacks only)",
                f"python -m remediation_agent {url} --insecure-query-string-identity --agent-id {agent}{interval}",
            ]
    return lines


def watch(stack: Stack) -> None:
    """Print agent events and presence changes as they happen."""
    known: Dict[str, Dict[str, Any]] = {}
    has_presence = "presence_table_name" in stack.outputs
    while True:
        for event in stack.drain_events(wait_seconds=0):
            detail = event.get("detail", {})
            print(
                f"event     {event.get('detail-type')}: agent {detail.get('agentId')} sequence"
                f" {detail.get('sequence')} reason {detail.get('reason')}",
                flush=True,
            )
        if has_presence:
            table = stack.presence()
            for agent, item in sorted(table.items()):
                shown = {key: item.get(key) for key in ("state", "sequence", "reason", "connections", "pending")}
                if known.get(agent) != shown:
                    print(f"presence  {agent}: {json.dumps(shown, default=str)}", flush=True)
                    known[agent] = shown
        time.sleep(1)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="make local-stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--identity", choices=("query_string_insecure", "iam"), default="query_string_insecure")
    parser.add_argument("--agent", action="append", default=[], help="print a command line for this agent id")
    parser.add_argument("--max-lifetime", type=float, default=7200, help="seconds (API Gateway: 7200)")
    parser.add_argument("--idle-timeout", type=float, default=600, help="seconds (API Gateway: 600)")
    args = parser.parse_args(argv)
    agents = args.agent or ["agent-07"]
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp) / "moto.log") as endpoint:
        port = free_port()
        variables = {"aws_endpoint": endpoint, "connections_endpoint": f"http://127.0.0.1:{port}/live"}
        if args.identity == "iam":
            variables["connect_identity"] = "iam"
        terraform = Terraform(copy_tree(Path(tmp) / "tree") / "examples" / "local", variables, echo=True)
        print(f"moto server {endpoint}: applying examples/local (identity {args.identity})", flush=True)
        terraform.init()
        try:
            terraform.apply()
            outputs = terraform.outputs()
            with live_stack(
                outputs,
                endpoint,
                connections_port=port,
                workdir=Path(tmp) / "functions",
                idle_timeout=args.idle_timeout,
                max_lifetime=args.max_lifetime,
                schedule_scale=1.0,
            ) as stack:
                heartbeat = (
                    (outputs.get("function_environment") or {}).get("presence", {}).get("HEARTBEAT_INTERVAL_SECONDS")
                )
                print(
                    f"\nlocal gateway (stand-in for API Gateway): {stack.gateway.url}"
                    f"  [lifetime {args.max_lifetime:g} s, idle timeout {args.idle_timeout:g} s]"
                )
                print(f"in another terminal, from {CLIENT} (pip install -r requirements.txt):\n")
                print("\n".join(commands(stack, agents, args.identity == "iam", heartbeat)))
                print("\nwatching events and presence; Ctrl-C stops and destroys the stack\n", flush=True)
                watch(stack)
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
        finally:
            terraform.destroy()
            print("destroyed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
