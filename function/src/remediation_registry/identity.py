"""Who is connecting: the `$connect` writer's one decision about a client's identity, or its refusal.

`resolve(context, query, settings)` returns an Identity (client type "agent" | "dashboard", the agent
id, the source) or raises Refused(reason, message). Settings are loaded once per container by `load`
(the source and the authorizer context keys by claims.py, which `$disconnect` shares); every
configuration error is a ConfigError naming the variable at fault.

Sources: exactly one per deployment, CONNECT_IDENTITY_SOURCE (default `authorizer`):

  authorizer             A REQUEST authorizer is attached to the route (CUSTOM). Identity comes ONLY from
                         requestContext.authorizer, under CONNECT_CLIENT_TYPE_KEY (default clientType)
                         and CONNECT_AGENT_ID_KEY (default agentId). The query string is never read, even
                         when the authorizer's context lacks a key: the connection is then refused.
  iam                    The route is AWS_IAM-authorized: API Gateway verified the SigV4 signature and the
                         caller's execute-api:Invoke permission before invoking us, and put the caller in
                         requestContext.identity.userArn (see "IAM identity" below).
  query_string_insecure  ?clientType=...&agentId=... from the URL, which ANYONE can write: any client can
                         claim any agent id, or be a Dashboard. Demo stacks only (the module's plans warn).

A client type is exactly "agent" or "dashboard" (case-sensitive); a Dashboard has no agent id (one given
is ignored); an agent id must be a string.

Agent id rule (every source, including ids derived from IAM names). An agent id is accepted only if
  1. it is 1-256 characters (Unicode code points) long;
  2. it neither starts nor ends with whitespace (any character str.isspace() accepts);
  3. every character is printable in Python's sense (str.isprintable()): none of Unicode's categories
     Cc (control: NUL, TAB, LF, DEL, ...), Cf (format: zero-width space U+200B, zero-width joiner,
     bidi overrides U+202E, soft hyphen, BOM U+FEFF, ...), Cs (surrogates), Co (private use), Cn
     (unassigned in the runtime's Unicode database: Python 3.8 has Unicode 12.1, 3.13 has 15.1), Zl, Zp
     (line/paragraph separators) or Zs (space separators) — except U+0020, the plain space, which is
     allowed inside an id (rule 2 keeps it from either end);
  4. it is in Unicode Normalization Form C (unicodedata.is_normalized("NFC", id)): "e" + U+0301
     (combining acute) is refused where the precomposed "é" (U+00E9) is accepted, so one visible name
     has one spelling;
  5. if CONNECT_AGENT_ID_PATTERN is set: the regular expression (Python `re`, compiled once per
     container) matches the WHOLE id (re.fullmatch). In Python, \\d and \\w match any Unicode digit or
     word character: write [0-9] / [A-Za-z0-9_], or start the pattern with (?a), to mean ASCII.
Well-formed non-ASCII ids ("agent-münchen", "エージェント7") are accepted. Not detected: look-alikes
across scripts (Latin "a" U+0061 and Cyrillic "a" U+0430) and compatibility forms (NFKC: the ligature
U+FB01 and "fi"); restrict ids with CONNECT_AGENT_ID_PATTERN (e.g. "[a-z0-9-]{1,64}") when they matter.

IAM identity (source `iam`). requestContext.identity.userArn must be one of:
  arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>   (a role session)
  arn:<partition>:iam::<account>:user/<path/><user name>                    (an IAM user)
Anything else is refused: the account root (arn:...:iam::<account>:root), federated users
(arn:...:sts::<account>:federated-user/<name>), other services' ARNs, malformed ARNs. Names: letters,
digits and _+=,.@- (role and user names 1-64 characters, session names 2-64), partitions aws, aws-cn,
aws-us-gov, aws-iso, ... (aws followed by lowercase letters and "-").
CONNECT_IAM_AGENT_ROLES and CONNECT_IAM_DASHBOARD_ROLES are comma-separated role ARNs
(arn:<partition>:iam::<account>:role/<path/><role name>) or IAM user ARNs. An assumed-role ARN does not
carry the role's path, so a caller matches a listed role on partition + account + role name, ignoring
the listed path: exact anyway, since a role name is unique within an account whatever its path. Users
match on partition + account + user name the same way. Names are compared case-sensitively (as AWS writes
them in the ARN). A caller matching the Dashboard list is a Dashboard; matching the agent list, an agent
whose id is, by CONNECT_IAM_AGENT_ID_FROM:
  session_name (default)  the role session name: one role, many agents; agent list: roles only
  role_name               the role name: one role per agent; agent list: roles only
  user_name               the IAM user name: one user per agent; agent list: IAM users only
and the agent id rule above applies to it. Any other caller is refused. The two lists must not overlap.

When a session name is trustworthy: it is set by AWS, or pinned by the role's trust policy.
  - EC2 instance profile: the session name is the instance id (i-0123456789abcdef0).
  - ECS task role: the task id. Lambda execution role: the function name.
  - IAM Roles Anywhere: the certificate's serial number (hex).
  - Any role whose trust policy lets a principal call sts:AssumeRole only with a condition on
    sts:RoleSessionName (e.g. "StringEquals": {"sts:RoleSessionName": "${aws:PrincipalTag/agent-id}"}, or
    a fixed name per trusted principal).
When it is NOT: whoever may call sts:AssumeRole on the role without such a condition chooses its own
session name (any 2-64 allowed characters), so it can claim to be any agent of that role. Then use
role_name (one role per agent) or user_name, or pin the session name in the trust policy.

Refusals: Refused.reason is one of REASONS, the `Reason` dimension of the RefusedConnects metric:
  no_identity          the source supplies nothing: no authorizer context value under the client type
                       key, no clientType in the query string, no userArn (route not AWS_IAM)
  unknown_client_type  the client type is not exactly "agent" or "dashboard"
  missing_agent_id     an agent without an agent id (absent or empty)
  invalid_agent_id     the agent id breaks rules 1-4 (or is not a string)
  pattern_mismatch     the agent id breaks rule 5 (CONNECT_AGENT_ID_PATTERN)
  unknown_principal    IAM: the caller is not a role session or IAM user, or is in neither list
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, FrozenSet, Mapping, NamedTuple, Optional, Tuple

from . import claims, contract
from .claims import AUTHORIZER, IAM, QUERY_STRING_INSECURE
from .config import ConfigError

# Refusal reasons: the RefusedConnects metric's Reason dimension, a fixed set.
NO_IDENTITY = "no_identity"
UNKNOWN_CLIENT_TYPE = "unknown_client_type"
MISSING_AGENT_ID = "missing_agent_id"
INVALID_AGENT_ID = "invalid_agent_id"
PATTERN_MISMATCH = "pattern_mismatch"
UNKNOWN_PRINCIPAL = "unknown_principal"
REASONS = (NO_IDENTITY, UNKNOWN_CLIENT_TYPE, MISSING_AGENT_ID, INVALID_AGENT_ID, PATTERN_MISMATCH, UNKNOWN_PRINCIPAL)

# CONNECT_IAM_AGENT_ID_FROM
SESSION_NAME = "session_name"
ROLE_NAME = "role_name"
USER_NAME = "user_name"
AGENT_ID_FROM = (SESSION_NAME, ROLE_NAME, USER_NAME)

ROLE = "role"
USER = "user"
# (partition, account, ROLE | USER, role or user name): what a caller and a listed ARN are matched on.
Principal = Tuple[str, str, str, str]

_PARTITION = r"(aws[a-z-]*)"
_ACCOUNT = r"([0-9]{12})"
_NAME = r"([A-Za-z0-9_+=,.@-]{1,64})"  # IAM role and user names
_PATH = r"(?:[!-~]+/)?"  # an IAM path without its leading "/": printable ASCII, ending in "/"
_ASSUMED_ROLE = re.compile(rf"arn:{_PARTITION}:sts::{_ACCOUNT}:assumed-role/{_NAME}/([A-Za-z0-9_+=,.@-]{{2,64}})")
_USER = re.compile(rf"arn:{_PARTITION}:iam::{_ACCOUNT}:user/{_PATH}{_NAME}")
_ROLE = re.compile(rf"arn:{_PARTITION}:iam::{_ACCOUNT}:role/{_PATH}{_NAME}")


class Refused(Exception):
    """The `$connect` must be refused (403): `reason` is one of REASONS, `message` says what was wrong."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Identity(NamedTuple):
    client_type: str  # contract.AGENT | contract.DASHBOARD
    agent_id: Optional[str]  # agents only
    source: str  # CONNECT_IDENTITY_SOURCE
    principal: Optional[str] = None  # the caller's userArn (iam)


class IdentitySettings(NamedTuple):
    source: str
    client_type_key: str
    agent_id_key: str
    agent_id_pattern: Optional[re.Pattern[str]]
    iam_agents: FrozenSet[Principal]
    iam_dashboards: FrozenSet[Principal]
    iam_agent_id_from: str


def _shown(value: str, limit: int = 64) -> str:
    """A client-supplied string for a log message: bounded, control and invisible characters escaped."""
    return repr(value[:limit]) + ("..." if len(value) > limit else "")


def listed_principal(arn: str) -> Optional[Principal]:
    """What a role or IAM user ARN of the configured lists is matched on, or None if it is neither."""
    role = _ROLE.fullmatch(arn)
    if role is not None:
        return role.group(1), role.group(2), ROLE, role.group(3)
    user = _USER.fullmatch(arn)
    if user is not None:
        return user.group(1), user.group(2), USER, user.group(3)
    return None


def caller_principal(user_arn: str) -> Optional[Tuple[Principal, Optional[str]]]:
    """(principal, session name or None) of an AWS_IAM caller's userArn; None for anything else."""
    session = _ASSUMED_ROLE.fullmatch(user_arn)
    if session is not None:
        return (session.group(1), session.group(2), ROLE, session.group(3)), session.group(4)
    user = _USER.fullmatch(user_arn)
    if user is not None:
        return (user.group(1), user.group(2), USER, user.group(3)), None
    return None


def _principals(env: Mapping[str, str], name: str) -> FrozenSet[Principal]:
    found = set()
    for entry in env.get(name, "").split(","):
        arn = entry.strip()
        if not arn:
            continue
        principal = listed_principal(arn)
        if principal is None:
            raise ConfigError(
                f"{name} must list IAM role ARNs (arn:aws:iam::<account>:role/<path/><name>) or IAM user ARNs,"
                f" comma-separated; got {arn[:128]!r}"
            )
        found.add(principal)
    return frozenset(found)


def load(env: Mapping[str, str]) -> IdentitySettings:
    """The identity settings (claims.py: source and keys; then the pattern and, only with
    CONNECT_IDENTITY_SOURCE=iam, the IAM variables); a ConfigError names the variable at fault."""
    keys = claims.load(env)
    raw = env.get("CONNECT_AGENT_ID_PATTERN", "")
    pattern = None
    if raw:
        try:
            pattern = re.compile(raw)
        except (re.error, ValueError, OverflowError, RecursionError) as exc:
            raise ConfigError(
                f"CONNECT_AGENT_ID_PATTERN is not a Python regular expression ({exc}): {raw[:128]!r}"
            ) from None
    agents: FrozenSet[Principal] = frozenset()
    dashboards: FrozenSet[Principal] = frozenset()
    agent_id_from = SESSION_NAME
    if keys.source == IAM:
        agent_id_from = env.get("CONNECT_IAM_AGENT_ID_FROM", "").strip() or SESSION_NAME
        if agent_id_from not in AGENT_ID_FROM:
            raise ConfigError(
                f"CONNECT_IAM_AGENT_ID_FROM must be one of {', '.join(AGENT_ID_FROM)}, got {agent_id_from[:64]!r}"
            )
        agents = _principals(env, "CONNECT_IAM_AGENT_ROLES")
        dashboards = _principals(env, "CONNECT_IAM_DASHBOARD_ROLES")
        if not agents and not dashboards:
            raise ConfigError(
                "CONNECT_IAM_AGENT_ROLES and CONNECT_IAM_DASHBOARD_ROLES are both empty: with"
                " CONNECT_IDENTITY_SOURCE=iam every connection would be refused"
            )
        if agents & dashboards:
            both = sorted(f"{kind}/{name}" for _, _, kind, name in agents & dashboards)
            raise ConfigError(f"CONNECT_IAM_AGENT_ROLES and CONNECT_IAM_DASHBOARD_ROLES both list {', '.join(both)}")
        wanted = USER if agent_id_from == USER_NAME else ROLE
        wrong = sorted(f"{kind}/{name}" for _, _, kind, name in agents if kind != wanted)
        if wrong:
            raise ConfigError(
                f"CONNECT_IAM_AGENT_ROLES lists {', '.join(wrong)}, but with CONNECT_IAM_AGENT_ID_FROM={agent_id_from}"
                f" agents must be IAM {'users' if wanted == USER else 'roles'}"
            )
    return IdentitySettings(
        source=keys.source,
        client_type_key=keys.client_type_key,
        agent_id_key=keys.agent_id_key,
        agent_id_pattern=pattern,
        iam_agents=agents,
        iam_dashboards=dashboards,
        iam_agent_id_from=agent_id_from,
    )


def check_agent_id(agent_id: str, pattern: Optional[re.Pattern[str]], what: str = "agent id") -> None:
    """Refused (invalid_agent_id or pattern_mismatch) unless `agent_id` passes the agent id rule."""
    problem = None
    if not 1 <= len(agent_id) <= contract.MAX_IDENTITY_LENGTH:
        problem = f"is {len(agent_id)} characters long (1-{contract.MAX_IDENTITY_LENGTH})"
    elif agent_id != agent_id.strip():
        problem = "starts or ends with whitespace"
    elif not agent_id.isprintable():
        character = next(c for c in agent_id if not c.isprintable())
        category = unicodedata.category(character)
        problem = f"contains U+{ord(character):04X} (category {category}: control, format, separator or unassigned)"
    elif not unicodedata.is_normalized("NFC", agent_id):
        problem = "is not in Unicode normalization form NFC"
    if problem is not None:
        raise Refused(INVALID_AGENT_ID, f"{what} {_shown(agent_id)} {problem}")
    if pattern is not None and pattern.fullmatch(agent_id) is None:
        raise Refused(PATTERN_MISMATCH, f"{what} {_shown(agent_id)} does not match CONNECT_AGENT_ID_PATTERN")


def _claimed(values: Mapping[str, Any], settings: IdentitySettings, where: str) -> Identity:
    """The identity a client (authorizer or query string) states under the configured keys."""
    key = settings.client_type_key
    client_type = values.get(key)
    if client_type is None or client_type == "":
        raise Refused(NO_IDENTITY, f"{where} has no {key!r}")
    if client_type not in contract.CLIENT_TYPES:
        shown = _shown(client_type) if isinstance(client_type, str) else type(client_type).__name__
        raise Refused(UNKNOWN_CLIENT_TYPE, f"{where} {key!r} is {shown}, not one of {list(contract.CLIENT_TYPES)}")
    if client_type == contract.DASHBOARD:
        return Identity(contract.DASHBOARD, None, settings.source)
    agent_id = values.get(settings.agent_id_key)
    if agent_id is None or agent_id == "":
        raise Refused(MISSING_AGENT_ID, f"{where} says {contract.AGENT!r} but has no {settings.agent_id_key!r}")
    if not isinstance(agent_id, str):
        raise Refused(INVALID_AGENT_ID, f"{where} {settings.agent_id_key!r} is a {type(agent_id).__name__}, not text")
    check_agent_id(agent_id, settings.agent_id_pattern, f"{where} {settings.agent_id_key!r}")
    return Identity(contract.AGENT, agent_id, settings.source)


def _iam(context: Mapping[str, Any], settings: IdentitySettings) -> Identity:
    caller = context.get("identity")
    user_arn = caller.get("userArn") if isinstance(caller, dict) else None
    if not isinstance(user_arn, str) or not user_arn:
        raise Refused(NO_IDENTITY, "requestContext.identity has no userArn (is the $connect route AWS_IAM-authorized?)")
    parsed = caller_principal(user_arn)
    if parsed is None:
        raise Refused(UNKNOWN_PRINCIPAL, f"caller {_shown(user_arn, 200)} is neither an assumed role nor an IAM user")
    principal, session_name = parsed
    if principal in settings.iam_dashboards:
        return Identity(contract.DASHBOARD, None, IAM, user_arn)
    if principal not in settings.iam_agents:
        raise Refused(
            UNKNOWN_PRINCIPAL,
            f"caller {_shown(user_arn, 200)} is in neither CONNECT_IAM_AGENT_ROLES nor CONNECT_IAM_DASHBOARD_ROLES",
        )
    # load() keeps the agent list to the principals the rule can name: roles for session_name and
    # role_name, users for user_name.
    agent_id = session_name if settings.iam_agent_id_from == SESSION_NAME else principal[3]
    if agent_id is None:
        raise Refused(UNKNOWN_PRINCIPAL, f"caller {_shown(user_arn, 200)} has no role session name")
    check_agent_id(agent_id, settings.agent_id_pattern, f"the {settings.iam_agent_id_from} of {_shown(user_arn, 200)}")
    return Identity(contract.AGENT, agent_id, IAM, user_arn)


def resolve(context: Mapping[str, Any], query: Mapping[str, Any], settings: IdentitySettings) -> Identity:
    """The identity of a `$connect` (its requestContext and query string parameters), or Refused."""
    if settings.source == AUTHORIZER:
        authorizer = context.get("authorizer")
        return _claimed(authorizer if isinstance(authorizer, dict) else {}, settings, "the authorizer's context")
    if settings.source == IAM:
        return _iam(context, settings)
    if settings.source == QUERY_STRING_INSECURE:
        return _claimed(query, settings, "the query string")
    raise ConfigError(f"CONNECT_IDENTITY_SOURCE {settings.source!r} is not handled")  # claims.load refuses it
