"""Where a client's identity comes from, and the authorizer context keys: what `$connect` and `$disconnect`
both read.

  CONNECT_IDENTITY_SOURCE   authorizer (default) | iam | query_string_insecure (identity.py says what each means)
  CONNECT_CLIENT_TYPE_KEY   the authorizer context (or query string) key of the client type, default clientType
  CONNECT_AGENT_ID_KEY      the key of the agent id, default agentId
Keys are 1-128 letters, digits, '_', '.', ':' or '-', and differ from each other.

`$connect` loads them once per container with its other identity settings (identity.load). `$disconnect`
imports this module only when a DeleteItem's answer was lost (agent_from_authorizer): the registry item
no longer says whose connection it was, and the `$connect` authorizer's context, which API Gateway repeats
in every event of the connection, is the only witness left. It is trusted only where `$connect` trusted
it: with the authorizer source, under the configured keys, by the contract's agent rule (a Dashboard's
context names no agent). With `iam` the caller's identity is not documented to reach `$disconnect`, and
with `query_string_insecure` there is no authorizer: no fallback.

A module of its own so that `$disconnect`'s cold start compiles none of it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional, Tuple

from . import contract
from .config import ConfigError, _text

if TYPE_CHECKING:
    from .runtime import Runtime

AUTHORIZER = "authorizer"
IAM = "iam"
QUERY_STRING_INSECURE = "query_string_insecure"
IDENTITY_SOURCES = (AUTHORIZER, IAM, QUERY_STRING_INSECURE)
_KEY_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")


class Claims(NamedTuple):
    source: str
    client_type_key: str
    agent_id_key: str


def _key(env: Mapping[str, str], name: str, default: str) -> str:
    value = _text(env, name, default) or default
    if len(value) > 128 or not _KEY_CHARACTERS.issuperset(value):
        raise ConfigError(f"{name} must be 1-128 letters, digits, '_', '.', ':' or '-', got {value[:64]!r}")
    return value


def load(env: Mapping[str, str]) -> Claims:
    """The identity source and keys; a ConfigError names the variable at fault."""
    source = _text(env, "CONNECT_IDENTITY_SOURCE", AUTHORIZER) or AUTHORIZER
    if source not in IDENTITY_SOURCES:
        raise ConfigError(f"CONNECT_IDENTITY_SOURCE must be one of {', '.join(IDENTITY_SOURCES)}, got {source[:64]!r}")
    client_type_key = _key(env, "CONNECT_CLIENT_TYPE_KEY", contract.CLIENT_TYPE)
    agent_id_key = _key(env, "CONNECT_AGENT_ID_KEY", contract.AGENT_ID)
    if client_type_key == agent_id_key:
        raise ConfigError("CONNECT_CLIENT_TYPE_KEY and CONNECT_AGENT_ID_KEY must name two different keys")
    return Claims(source, client_type_key, agent_id_key)


def agent_id(claims: Claims, authorizer: Mapping[str, Any]) -> Optional[str]:
    """The agent an authorizer's context names (kept whole: an identity, never cut like free text), or
    None: without the authorizer source, for a Dashboard, without a context or without an agent id."""
    if claims.source != AUTHORIZER:
        return None
    found = authorizer.get(claims.agent_id_key)
    if isinstance(found, str) and contract.is_agent_connection(authorizer.get(claims.client_type_key), found):
        return found
    return None


# Loaded once per container: per Runtime (handlers.reset() starts a new one).
_loaded: Optional[Tuple[object, Claims]] = None


def agent_from_authorizer(rt: Runtime, authorizer: Mapping[str, Any]) -> Optional[str]:
    """`$disconnect`'s lost-answer fallback: agent_id() with the function's settings."""
    global _loaded
    if _loaded is None or _loaded[0] is not rt:
        _loaded = (rt, load(os.environ))
    return agent_id(_loaded[1], authorizer)
