"""The command line: `python -m remediation_agent URL ...` (see the folder's README).

SIGINT and SIGTERM stop the client cleanly: the connection is closed with 1000, so the agent's
`$disconnect` arrives with "client_closed" rather than a lost connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import List, Optional

from remediation_agent.client import AgentClient, ClientConfig
from remediation_agent.logs import configure
from remediation_agent.policy import DEFAULT_RENEW_AFTER
from remediation_agent.urls import Presigner, UrlSource, fixed, insecure_query_string_url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m remediation_agent",
        description="Keep an agent connected to the Remediation WebSocket API, per the module's client contract.",
    )
    p.add_argument("url", help="the stage URL, e.g. wss://abc123.execute-api.eu-west-1.amazonaws.com/live")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--iam",
        action="store_true",
        help="SigV4-presign each handshake (AWS_IAM $connect) with botocore's credential chain; the agent id "
        "is what the stack derives from the principal (by default the assumed-role session name)",
    )
    who.add_argument(
        "--insecure-query-string-identity",
        action="store_true",
        help="DEMO STACKS ONLY: claim an identity in the query string (?clientType=&agentId=), which anyone "
        "can forge; only a $connect configured with identity = query_string_insecure accepts it",
    )
    p.add_argument("--agent-id", help="with --insecure-query-string-identity: the agent id to claim")
    p.add_argument("--client-type", default="agent", choices=("agent", "dashboard"), help="query-string mode")
    p.add_argument("--region", help="IAM: the API's region (default: from an execute-api URL)")
    p.add_argument("--profile", help="IAM: a named profile of the shared AWS config")
    beat = p.add_argument_group("heartbeats (presence.heartbeat of the stack)")
    beat.add_argument("--heartbeat-interval", type=float, default=30.0, help="seconds, ±10%% jitter (30)")
    beat.add_argument("--heartbeat-route-key", default="heartbeat", help="route key of the heartbeat route")
    beat.add_argument("--route-selection-field", default="action", help="JSON field the API routes on (action)")
    beat.add_argument("--no-heartbeat", action="store_true", help="send none (the stack has no heartbeat route)")
    renew = p.add_argument_group("renewal before API Gateway's 2-hour limit")
    renew.add_argument(
        "--renew-after", type=float, default=DEFAULT_RENEW_AFTER, help="seconds after opening (6900: 1 h 55 min)"
    )
    renew.add_argument("--renew-jitter", type=float, default=60.0, help="renew up to this many seconds earlier")
    renew.add_argument("--no-renew", action="store_true", help="never renew (API Gateway closes at 2 h with 1001)")
    back = p.add_argument_group("reconnect backoff (full jitter)")
    back.add_argument("--backoff-base", type=float, default=0.5, help="seconds (0.5)")
    back.add_argument("--backoff-cap", type=float, default=30.0, help="seconds (30)")
    back.add_argument("--backoff-reset-after", type=float, default=60.0, help="seconds a connection must stay up")
    p.add_argument(
        "--ws-ping-interval",
        type=float,
        help="enable websockets' keepalive pings (off: API Gateway does not document pongs, pings do not "
        "reset its idle timeout, and a missing pong would close a healthy connection)",
    )
    p.add_argument("--run-for", type=float, help="stop cleanly after this many seconds (smoke tests, demos)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def url_source(args: argparse.Namespace) -> UrlSource:
    if args.iam:
        return Presigner(args.url, args.region, profile=args.profile)
    if args.client_type == "agent" and not args.agent_id:
        raise SystemExit("--insecure-query-string-identity with --client-type agent needs --agent-id")
    return fixed(insecure_query_string_url(args.url, args.client_type, args.agent_id))


def config(args: argparse.Namespace) -> ClientConfig:
    return ClientConfig(
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_route_key=None if args.no_heartbeat else args.heartbeat_route_key,
        route_selection_field=args.route_selection_field,
        renew_after=None if args.no_renew else args.renew_after,
        renew_jitter=args.renew_jitter,
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_cap,
        backoff_reset_after=args.backoff_reset_after,
        ws_ping_interval=args.ws_ping_interval,
    )


async def run(client: AgentClient, run_for: Optional[float]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows' loops: Ctrl-C raises instead
            loop.add_signal_handler(signum, client.stop)
    if run_for is not None:
        loop.call_later(run_for, client.stop)
    await client.run()


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    logger = configure(args.log_level)
    name = args.agent_id or args.client_type
    if args.insecure_query_string_identity:
        logger.warning(
            "query-string identity: anyone can claim any id this way; demo stacks only",
            extra={"fields": {"agent": name}},
        )
    try:
        client = AgentClient(url_source(args), config(args), name=name, logger=logger)
    except ValueError as exc:
        logger.error("invalid options", extra={"fields": {"error": str(exc)}})
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(client, args.run_for))
    return 0 if client.links else 1


if __name__ == "__main__":
    raise SystemExit(main())
