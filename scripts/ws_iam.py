"""AWS_IAM authorization of a WebSocket `$connect`, as the local gateway plays it.

1. Authenticate: the handshake's SigV4 signature (scripts/sigv4_verify.py) against the key store
   (scripts/ws_credentials.py).
2. Authorize: the principal's identity-based policies, read from moto's IAM, must allow
   `execute-api:Invoke` on `arn:aws:execute-api:<region>:<account>:<api>/<stage>/$connect`
   (scripts/iam_policy.py).
3. Identity: requestContext.identity of the `$connect` event as API Gateway fills it for an
   IAM-authorized WebSocket connect (observed on a real one, /work/notes/aws-facts.md section 4):
   userArn (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`), caller and user
   (`<role id>:<session>`), accountId, accessKey, sourceIp, and userAgent when the client sent one;
   only fields with a value appear (no cognito* fields, no principalOrgId outside an organization).
Either failure is HTTP 403 (API Gateway's answer to an unsigned or wrongly signed handshake).
"""

from __future__ import annotations

from typing import Dict, Mapping, NamedTuple, Optional

from scripts.iam_policy import evaluate, identity_policies
from scripts.sigv4_verify import SignatureRejected, verify
from scripts.ws_credentials import CredentialStore
from scripts.ws_events import ConnectionInfo, Routes


class IamVerdict(NamedTuple):
    identity: Optional[Dict[str, str]]  # None: refused
    reason: str


def connect_arn(region: str, account: str, api_id: str, stage: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect"


def authorize(
    target: str,
    headers: Mapping[str, str],
    store: CredentialStore,
    routes: Routes,
    stage: str,
    region: str,
    info: ConnectionInfo,
) -> IamVerdict:
    """The `$connect` identity of a signed and authorized handshake (`target`: the request-target as
    received, "/stage?..."), or why it is refused. IAM policies are read where `routes` were read."""
    try:
        principal = verify(target, headers, store, region)
    except SignatureRejected as exc:
        return IamVerdict(None, f"signature: {exc}")
    resource = connect_arn(region, routes.account, routes.api_id, stage)
    decision = evaluate(identity_policies(routes.endpoint, principal.arn, region), "execute-api:Invoke", resource)
    if not decision.allowed:
        notes = f" ({'; '.join(decision.notes)})" if decision.notes else ""
        return IamVerdict(None, f"{principal.arn} may not execute-api:Invoke {resource}: {decision.effect}{notes}")
    identity = {
        "accountId": principal.account,
        "caller": principal.caller,
        "sourceIp": info.source_ip,
        "accessKey": principal.access_key_id,
        "user": principal.caller,
        "userArn": principal.arn,
    }
    if info.user_agent:
        identity["userAgent"] = info.user_agent
    return IamVerdict(identity, "allowed")
