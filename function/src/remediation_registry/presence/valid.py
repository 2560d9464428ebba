"""Is a presence item one of format 1? Which attribute is not (spec section 7)?

Not shipped to `$disconnect` (its zip stays under 16 KiB): a write of its on an invalid item fails its
type-guarded condition and changes nothing; the reconciler, within a minute, logs `presence item
invalid` and repairs the item (transitions.py).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .item import (
    CONNECTIONS,
    DEADLINE,
    EVENT,
    FORMAT,
    FORMAT_VERSION,
    OFFLINE,
    OFFLINE_REASONS,
    ONLINE,
    PENDING,
    REASON,
    SEQUENCE,
    SINCE,
    STATE,
    TOKEN,
    UPDATED_AT,
    integer,
)


def kind(item: Mapping[str, Any], name: str) -> Optional[str]:
    """The DynamoDB type of an attribute ("S", "N", "SS", "M", ...), None when absent."""
    value = item.get(name)
    return next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None


def problem(item: Mapping[str, Any]) -> Optional[str]:
    """The first attribute that makes a presence item invalid (wrong type, unknown value), else None."""
    state = item[STATE].get("S") if kind(item, STATE) == "S" else None
    sequence = integer(item, SEQUENCE)
    checks = (
        (STATE, state in (ONLINE, OFFLINE)),
        (SEQUENCE, sequence is not None and sequence >= 0),
        *((name, kind(item, name) in (None, expected)) for name, expected in _TYPES),
        (FORMAT, kind(item, FORMAT) is None or integer(item, FORMAT) == FORMAT_VERSION),
        (
            PENDING,
            PENDING not in item or (state == ONLINE and CONNECTIONS not in item and valid_pending(item[PENDING])),
        ),
        (CONNECTIONS, state != OFFLINE or CONNECTIONS not in item),
    )
    return next((name for name, valid in checks if not valid), None)


_TYPES = ((SINCE, "N"), (REASON, "S"), (CONNECTIONS, "SS"), (EVENT, "M"), (UPDATED_AT, "N"))


def valid_pending(value: Any) -> bool:
    members = value.get("M") if isinstance(value, dict) else None
    if not isinstance(members, dict):
        return False
    types = {TOKEN: "S", DEADLINE: "N", REASON: "S", SINCE: "N", EVENT: "M"}
    if not all(kind(members, name) == expected for name, expected in types.items()):
        return False
    return members[REASON]["S"] in OFFLINE_REASONS


# The queue's messages.
