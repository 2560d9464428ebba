"""examples/local applied with IAM identity and brought to life for the presence end-to-end tests:
signed agents (the reference client, scripts/agents.py) through the local gateway with its lifetime
limit scaled down, every function under AWS's runtime emulator, the event source mappings polled.

`SignedStack` carries the Terraform working directory, the live stack, the events seen so far
(scripts/observe.py) and the settings the stack was applied with (read back from the checker's
environment, not assumed). `agent(name, ...)` starts the reference client as `name`: it assumes the
example's agent role with `name` as session name, so `name` is the agent id the stack derives.
"""

from __future__ import annotations

import dataclasses
import random
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from scripts.agents import Agent, ClientConfig, start_agent
from scripts.live_stack import Stack, live_stack
from scripts.observe import Events, Settings
from scripts.offline import Terraform, client, copy_tree, scan_table
from tests.support.servers import free_port, moto_server

NAME = "remediation-presence"
LIFETIME = 8.0  # seconds: API Gateway's 2-hour limit, scaled down
RENEW_AFTER = 5.0  # seconds: the client's 1 h 55 min, scaled down
# seconds the gateway waits for the close handshake a silent host never answers (websockets' default 10 s;
# API Gateway's wait is not documented), scaled down as in `make demo`
CLOSE_TIMEOUT = 2.0


@dataclasses.dataclass
class SignedStack:
    endpoint: str
    terraform: Terraform
    outputs: Dict[str, Any]
    live: Stack
    events: Events
    settings: Settings
    agents: List[Agent]
    closer: ExitStack

    def config(self, **overrides: Any) -> ClientConfig:
        """The contract's client at the stack's scale: its heartbeat interval, renewal before LIFETIME."""
        base = ClientConfig(
            heartbeat_interval=self.settings.interval,
            renew_after=RENEW_AFTER,
            renew_jitter=0,
            close_timeout=1,
        )
        return dataclasses.replace(base, **overrides)

    def agent(
        self,
        name: str,
        *,
        silenceable: bool = False,
        rng: Optional[random.Random] = None,
        wait: bool = True,
        **config: Any,
    ) -> Agent:
        principal = self.live.assume_role(self.outputs["agent_role_arn"], name)
        started = start_agent(
            self.live.gateway.url,
            name,
            self.config(**config),
            principal=principal,
            silenceable=silenceable,
            rng=rng,
            wait=wait,
        )
        self.agents.append(started)
        return started

    def presence(self, agent: Optional[str] = None) -> Any:
        table = self.live.presence()
        return table if agent is None else table.get(agent)

    def connections(self) -> List[Dict[str, Any]]:
        return scan_table(self.outputs["table_name"], self.endpoint)

    def stop_live(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.closer.close()


@contextmanager
def signed_stack(workdir: Path) -> Iterator[SignedStack]:
    """Apply examples/local (connect_identity = iam) on a fresh moto server and run it live; at the end
    stop everything and destroy whatever is left (a test may already have destroyed it)."""
    tree = copy_tree(workdir / "tree")
    port = free_port()
    with moto_server(workdir / "moto.log") as endpoint:
        variables = {
            "aws_endpoint": endpoint,
            "connections_endpoint": f"http://127.0.0.1:{port}/live",
            "connect_identity": "iam",
            "name": NAME,
        }
        terraform = Terraform(tree / "examples" / "local", variables)
        terraform.init()
        terraform.apply()
        try:
            outputs = terraform.outputs()
            closer = ExitStack()
            live = closer.enter_context(
                live_stack(
                    outputs,
                    endpoint,
                    connections_port=port,
                    workdir=workdir / "functions",
                    max_lifetime=LIFETIME,
                    close_timeout=CLOSE_TIMEOUT,
                )
            )
            stack = SignedStack(endpoint, terraform, outputs, live, Events(live), Settings.of(outputs), [], closer)
            try:
                yield stack
            finally:
                stack.stop_live()
        finally:
            if not any("Destroy complete" in entry for entry in terraform.transcript):
                terraform.destroy()


def role_with_policy(endpoint: str, name: str, policy: Optional[str]) -> str:
    """A role outside the stack's lists (moto IAM), with `policy` (JSON) inline if given; its ARN."""
    iam = client("iam", endpoint)
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="connect", PolicyDocument=policy)
    return arn


def delete_role(endpoint: str, name: str) -> None:
    iam = client("iam", endpoint)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)
