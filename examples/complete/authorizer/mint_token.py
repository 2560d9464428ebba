#!/usr/bin/env python3
"""Mint a `$connect` token with the authorizer's KMS key (kms:GenerateMac on that key only).

    python3 mint_token.py --key-id "$(terraform output -raw token_key_arn)" \\
        --audience "$(terraform output -raw api_id)" --type agent --subject agent-07 --ttl 86400

prints the token (nothing else) on standard output. Agents send it as `Authorization: Bearer <token>`;
the Dashboard's backend mints one per page load (`--type dashboard --subject <user> --ttl 120`) and the
browser appends `?token=<token>` to the WebSocket URL. The authorizer refuses tokens that live longer
than its limits (agent_token_max_lifetime_seconds, dashboard_token_max_lifetime_seconds): this tool
warns when --ttl exceeds the example's defaults. Credentials and region come from the usual AWS
configuration (environment, profile, role). Needs boto3.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, List, Optional

from connect_token import CLIENT_TYPES, MAC_ALGORITHM, Claims, assemble, encode_claims, signing_input

# The example's defaults for what the authorizer accepts (examples/complete/authorizer.tf).
DEFAULT_MAX_SECONDS = {"agent": 604800, "dashboard": 300}
DEFAULT_TTL = {"agent": 86400, "dashboard": 120}


def mint(kms: Any, key_id: str, claims: Claims) -> str:
    """The token for `claims`, its MAC computed by KMS with `key_id` (HMAC_256, GENERATE_VERIFY_MAC)."""
    payload = encode_claims(claims)
    answer = kms.generate_mac(Message=signing_input(payload), KeyId=key_id, MacAlgorithm=MAC_ALGORITHM)
    return assemble(payload, answer["Mac"])


def main(argv: Optional[List[str]] = None, kms: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key-id", required=True, help="the token key: terraform output token_key_arn")
    parser.add_argument("--audience", required=True, help="the WebSocket API id: terraform output api_id")
    parser.add_argument("--type", required=True, choices=CLIENT_TYPES, dest="typ")
    parser.add_argument("--subject", required=True, help="the agent id, or the Dashboard user")
    parser.add_argument("--ttl", type=int, help="lifetime in seconds (default: agent 86400, dashboard 120)")
    parser.add_argument("--region", help="the key's region (default: from the AWS configuration)")
    args = parser.parse_args(argv)
    ttl = args.ttl if args.ttl is not None else DEFAULT_TTL[args.typ]
    if ttl > DEFAULT_MAX_SECONDS[args.typ]:
        print(
            f"mint_token: --ttl {ttl} is above the example's default limit for {args.typ} tokens"
            f" ({DEFAULT_MAX_SECONDS[args.typ]} s): the authorizer refuses it unless its limit was raised",
            file=sys.stderr,
        )
    now = int(time.time())
    try:
        claims = Claims(sub=args.subject, typ=args.typ, aud=args.audience, iat=now, exp=now + ttl)
        if kms is None:
            import boto3  # noqa: PLC0415 - only the CLI needs it; tests pass their own client

            kms = boto3.client("kms", region_name=args.region)
        print(mint(kms, args.key_id, claims))
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
