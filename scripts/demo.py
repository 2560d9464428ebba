"""`make demo`: agent presence and verified identity, live and offline, in about a minute and a half.

1. start a moto server and apply examples/local with `connect_identity = iam` (from the stand-in tree:
   hashicorp/aws 3.39.0 plays the provider, scripts/standin_tree.py says what else it swaps);
2. run each deployed function under AWS's Lambda Runtime Interface Emulator + awslambdaric (handler,
   environment, timeout and memory read back from the emulated Lambda API; code = the committed zip,
   checked against the deployed CodeSha256); a local gateway plays API Gateway's data plane from the
   routes read back from the emulated API, with its limits scaled down to seconds; the stack's event
   source mappings are polled as Lambda polls them;
3-7. scripts/demo_presence.py: agents — the reference client, examples/agent-client — sign `$connect`
   with their role session, come online, roll over, blip, go silent, close, crash, lose a
   `$disconnect`; forged handshakes are refused; the events, the presence table and the metrics;
8. one scheduled sweeper run; destroy; stop everything.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import demo_presence, standin_tree
from scripts.live_stack import Stack, live_stack
from scripts.observe import Settings
from scripts.offline import Terraform, copy_tree
from tests.support.servers import free_port, moto_server

WIDTH = 100
# API Gateway's limits (7,200 s lifetime, 600 s idle) and the client's renewal (6,900 s), scaled down
# so that a "2-hour" rollover happens within the demo.
LIMITS = demo_presence.Limits(lifetime=12.0, idle=8.0, renew_after=9.0)


def banner(text: str) -> None:
    print(f"\n{'=' * WIDTH}\n{text}\n{'=' * WIDTH}", flush=True)


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp) / "moto.log") as endpoint:
        banner(f"1. moto server on {endpoint} (emulator): terraform apply examples/local, connect_identity = iam")
        say("  stand-in: hashicorp/aws 3.39.0 (HashiCorp's sha256-verified release binary) plays the provider;")
        say("            the module targets >= 5.76, see README 'Requirements'")
        workdir = copy_tree(Path(tmp) / "tree") / "examples" / "local"
        for line in standin_tree.describe():
            say(f"  stand-in: {line}")
        port = free_port()
        variables = {
            "aws_endpoint": endpoint,
            "connections_endpoint": f"http://127.0.0.1:{port}/live",
            "connect_identity": "iam",
        }
        terraform = Terraform(workdir, variables, echo=True)
        terraform.init()
        try:
            applied = terraform.apply()
            summary = [line for line in applied.stdout.splitlines() if line.startswith("Apply complete")]
            say("  " + (summary[0] if summary else "applied"))
            out = terraform.outputs()
            banner("2. The stack, live: functions under AWS's Lambda runtime emulator, a local gateway in front")
            with live_stack(
                out,
                endpoint,
                connections_port=port,
                workdir=Path(tmp) / "functions",
                idle_timeout=LIMITS.idle,
                max_lifetime=LIMITS.lifetime,
                close_timeout=2,
            ) as stack:
                describe(stack, out)
                demo_presence.run(stack, LIMITS, say, banner, then=lambda: sweep(stack))
        finally:
            banner("9. terraform destroy examples/local; stop the runtimes, the gateway and the moto server")
            destroyed = terraform.destroy()
            summary = [line for line in destroyed.stdout.splitlines() if line.startswith("Destroy complete")]
            say("  " + (summary[0] if summary else "destroyed"))
    say(f"\nmake demo: done in {time.monotonic() - started:.0f} s")
    return 0


def describe(stack: Stack, out: Dict[str, Any]) -> None:
    gateway = stack.gateway
    for name, runtime in stack.runtimes.items():
        config = runtime.config
        say(
            f"  {name:<28} {config['Handler']:<45} {config['MemorySize']} MB, {config['Timeout']} s,"
            f" code {config['CodeSha256'][:10]}... == committed zip"
        )
    say(
        f"  (runtime label {next(iter(stack.runtimes.values())).config['Runtime']}: the newest 3.39.0 accepts;"
        f" the code runs on this machine's Python {sys.version_info.major}.{sys.version_info.minor})"
    )
    for key, route in sorted(gateway.routes.routes.items()):
        target = route.function_name or f"MOCK ({'two-way' if route.two_way else 'one-way'}: nothing invoked)"
        auth = f"  [{route.authorization_type}]" if route.authorization_type != "NONE" else ""
        say(f"  route {key:<12} -> {target}{auth}")
    say(
        f"  stand-in for API Gateway's data plane: local gateway {gateway.url},"
        f" @connections {gateway.connections_api.endpoint}"
    )
    say(
        f"  its limits, SCALED DOWN: connection lifetime {LIMITS.lifetime:g} s (API Gateway: 7,200 s),"
        f" idle timeout {LIMITS.idle:g} s (600 s)"
    )
    settings = Settings.of(out)
    say(
        f"  presence (examples/local, seconds-scale): grace {settings.grace:g} s,"
        f" heartbeat every {settings.interval:g} s,"
        f" heartbeat timeout {settings.timeout:g} s"
    )
    say(
        f"  agents: examples/agent-client, unchanged: heartbeat every {settings.interval:g} s ± 10 %, renewal at"
        f" {LIMITS.renew_after:g} s (scaled 1 h 55 min), backoff 0.5 s base, 30 s cap, full jitter"
    )
    mappings = ", ".join(sorted(f"{p.mapping.service} -> {p.mapping.function_name}" for p in stack.pollers.pollers))
    say(f"  event source mappings, polled locally as Lambda does (stand-in): {mappings}")


def sweep(stack: Stack) -> None:
    banner("8. One scheduled run of the sweeper: @connections GetConnection through the local gateway")
    run = stack.sweep()
    if run.error:
        raise RuntimeError(f"sweeper failed: {run.error}")
    summary = run.payload
    say(
        f"  examined {summary['examined']} item(s), probed {summary['probed']} connection(s),"
        f" removed {summary['removedExpired']} expired + {summary['removedGone']} gone:"
        " the live ones are alive, the checker already removed the dead"
    )
    report = run.report
    say(
        f"  REPORT Duration {report.get('Duration', '?')}, Billed Duration {report.get('Billed Duration', '?')},"
        f" Memory Size {report.get('Memory Size', '?')}, Max Memory Used {report.get('Max Memory Used', '?')}"
        " (the emulator reports the configured size as used: it does not meter memory)"
    )


if __name__ == "__main__":
    sys.exit(main())
