"""Lambda REQUEST authorizer of the `$connect` route: identity only from a token signed with a KMS key.

Where the token is read (API Gateway calls this once per handshake: WebSocket authorizers cannot cache):
- agents: the `Authorization: Bearer <token>` header (AGENT_TOKEN_HEADER);
- the Dashboard, a browser, which cannot set headers on a WebSocket handshake: the query string
  parameter DASHBOARD_TOKEN_PARAMETER (`?token=<token>`). Query strings end up in logs along the way,
  so Dashboard tokens may live at most DASHBOARD_TOKEN_MAX_SECONDS (default 300).
A token must be where its type belongs: an agent token in a URL, or a Dashboard token in the header,
is refused. Exactly one token per handshake.

Answers, as API Gateway reads them:
- no, malformed, oversized, expired, not yet valid, wrongly placed or forged token: the error
  "Unauthorized" (HTTP 401 to the handshake); nothing else runs;
- a genuine token for another API (`aud`), or a methodArn that is not this API's `$connect`: an
  explicit Deny (HTTP 403);
- otherwise an Allow for exactly the methodArn received (`arn:...:<api>/<stage>/$connect`), with
  principalId = `sub` and a context holding ONLY verified claims, under the keys the module's
  `$connect` writer is configured with: CLIENT_TYPE_KEY = `typ`, and for agents AGENT_ID_KEY = `sub`.
- KMS unreachable, throttled or the key unusable: an error (HTTP 500): the handshake fails, closed.

The MAC is checked by KMS (VerifyMac): the key never leaves KMS, and the function never holds an
expected MAC it could compare in variable time. Claims are checked before KMS is called only to
refuse early (one KMS request less); nothing from them is used until VerifyMac said the MAC is valid.
Standard library and boto3 (the Lambda runtime's) only; Python 3.8+.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any, Dict, NamedTuple, Optional, Tuple

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from connect_token import MAC_ALGORITHM, Claims, TokenError, split, time_problem

# Bounded: an authorizer that hangs holds the handshake; 2 attempts of at most 1 s + 1 s each stay
# within the function's timeout (terraform: 5 s) and leave it time to log.
KMS_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
BEARER = "bearer "
METHOD_ARN = re.compile(r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:[0-9]{12}:[a-z0-9]+/[A-Za-z0-9_-]+/\$connect")


class Settings(NamedTuple):
    key_id: str
    api_id: str
    client_type_key: str
    agent_id_key: str
    agent_header: str
    dashboard_parameter: str
    agent_max_seconds: int
    dashboard_max_seconds: int
    skew_seconds: int


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401: it matches the error message "Unauthorized" exactly."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


_settings: Optional[Settings] = None
_kms: Any = None


def settings() -> Settings:
    """Read once per container; a missing TOKEN_KEY_ID or API_ID fails every invocation (closed)."""
    global _settings
    if _settings is None:
        env = os.environ
        _settings = Settings(
            key_id=env["TOKEN_KEY_ID"],
            api_id=env["API_ID"],
            client_type_key=env.get("CLIENT_TYPE_KEY", "clientType"),
            agent_id_key=env.get("AGENT_ID_KEY", "agentId"),
            agent_header=env.get("AGENT_TOKEN_HEADER", "Authorization"),
            dashboard_parameter=env.get("DASHBOARD_TOKEN_PARAMETER", "token"),
            agent_max_seconds=int(env.get("AGENT_TOKEN_MAX_SECONDS", "604800")),
            dashboard_max_seconds=int(env.get("DASHBOARD_TOKEN_MAX_SECONDS", "300")),
            skew_seconds=int(env.get("CLOCK_SKEW_SECONDS", "60")),
        )
    return _settings


def kms() -> Any:
    global _kms
    if _kms is None:
        _kms = boto3.client("kms", config=KMS_CONFIG)
    return _kms


def reset() -> None:
    """Forget the cached settings and client (tests)."""
    global _settings, _kms
    _settings, _kms = None, None


def log(level: str, message: str, **fields: Any) -> None:
    """One JSON line per decision, on standard output (CloudWatch Logs). Never the token itself."""
    sys.stdout.write(json.dumps({"level": level, "message": message, **fields}, default=str) + "\n")
    sys.stdout.flush()


def _values(mapping: Any, name: str, case_sensitive: bool) -> list:  # type: ignore[type-arg]
    """Every value of `name` in a multi-value map (headers: any case)."""
    if not isinstance(mapping, dict):
        return []
    found = []
    for key, values in mapping.items():
        if key == name or (not case_sensitive and isinstance(key, str) and key.lower() == name.lower()):
            found.extend(values if isinstance(values, list) else [values])
    return found


def find_token(event: Dict[str, Any], config: Settings) -> Tuple[str, str]:
    """(token, "header" | "query"); TokenError("missing" / "ambiguous") otherwise."""
    headers = _values(event.get("multiValueHeaders"), config.agent_header, False) or _values(
        event.get("headers"), config.agent_header, False
    )
    query: list = []  # type: ignore[type-arg]
    if config.dashboard_parameter:
        query = _values(event.get("multiValueQueryStringParameters"), config.dashboard_parameter, True) or _values(
            event.get("queryStringParameters"), config.dashboard_parameter, True
        )
    if len(headers) + len(query) == 0:
        raise TokenError("missing")
    if len(headers) + len(query) > 1:
        raise TokenError("ambiguous")
    if headers:
        value = headers[0]
        if not isinstance(value, str) or not value[: len(BEARER)].lower() == BEARER:
            raise TokenError("malformed")
        return value[len(BEARER) :].strip(), "header"
    value = query[0]
    if not isinstance(value, str):
        raise TokenError("malformed")
    return value, "query"


def mac_is_valid(message: bytes, mac: bytes, config: Settings) -> bool:
    """KMS VerifyMac: True / False; any other failure raises (the handshake fails with 500)."""
    try:
        answer = kms().verify_mac(Message=message, Mac=mac, KeyId=config.key_id, MacAlgorithm=MAC_ALGORITHM)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "KMSInvalidMacException":
            return False
        raise
    return answer.get("MacValid") is True


def is_our_connect(method_arn: str, config: Settings) -> bool:
    """`arn:<partition>:execute-api:<region>:<account>:<api>/<stage>/$connect` of this API, without
    wildcards: the Allow names exactly one route of one stage."""
    return METHOD_ARN.fullmatch(method_arn) is not None and method_arn.split(":")[5].split("/", 1)[0] == config.api_id


def policy(principal: str, effect: str, method_arn: str) -> Dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
    return {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}


def verified_claims(event: Dict[str, Any], config: Settings, now: float) -> Tuple[Claims, str]:
    """The claims of the handshake's token once KMS has verified its MAC; TokenError otherwise."""
    token, place = find_token(event, config)
    message, mac, claims = split(token)
    if place != ("header" if claims.typ == "agent" else "query"):
        raise TokenError("wrong_place")
    max_seconds = config.agent_max_seconds if claims.typ == "agent" else config.dashboard_max_seconds
    problem = time_problem(claims, now, config.skew_seconds, max_seconds)
    if problem:
        raise TokenError(problem)
    if not mac_is_valid(message, mac, config):
        raise TokenError("bad_signature")
    return claims, place


def handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    config = settings()
    found = event.get("requestContext")
    request: Dict[str, Any] = found if isinstance(found, dict) else {}
    where = {"requestId": request.get("requestId"), "connectionId": request.get("connectionId")}
    method_arn = event.get("methodArn")
    if not isinstance(method_arn, str) or not method_arn:
        log("WARNING", "token refused", reason="no methodArn", **where)
        raise Unauthorized
    try:
        claims, place = verified_claims(event, config, time.time())
    except TokenError as error:
        log("INFO", "token refused", reason=error.reason, **where)
        raise Unauthorized from None
    except Exception as error:  # noqa: BLE001 - any other failure fails closed (500), after saying why
        log("ERROR", "token check failed", errorType=type(error).__name__, error=str(error)[:512], **where)
        raise RuntimeError("token check failed") from None
    identity = {"typ": claims.typ, "sub": claims.sub, "place": place, "exp": claims.exp}
    if claims.aud != config.api_id or not is_our_connect(method_arn, config):
        reason = "wrong_audience" if claims.aud != config.api_id else "wrong_route"
        log("WARNING", "token denied", reason=reason, aud=claims.aud[:256], methodArn=method_arn, **identity, **where)
        return policy(claims.sub, "Deny", method_arn)
    log("INFO", "token accepted", **identity, **where)
    answer = policy(claims.sub, "Allow", method_arn)
    # Only verified claims, under the writer's keys; API Gateway passes them on as strings.
    answer["context"] = {config.client_type_key: claims.typ}
    if claims.typ == "agent":
        answer["context"][config.agent_id_key] = claims.sub
    return answer
