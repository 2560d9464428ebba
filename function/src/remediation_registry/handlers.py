"""Lambda entry points, one per route: each imports its route's module on first use.

A function imports only its own route's code (and its zip ships only that: function/build.py), so the
`$disconnect` path never compiles `$connect`'s or the sweeper's modules. The per-container Runtime
lives in runtime.py, which every route uses; `Runtime`, `runtime` and `reset` are re-exported here for
callers (tests, lambda_entry). Nothing in the package imports this module but lambda_entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from .runtime import Runtime, reset, runtime

if TYPE_CHECKING:
    from typing import Callable

    Route = Callable[[Runtime, Any, Optional[str]], Dict[str, Any]]  # a route module's handle()

__all__ = ["Runtime", "announce", "connect", "disconnect", "presence", "reset", "runtime", "sweep"]
# The per-connection routes' handle(), bound on their first call: an import statement costs ~1 µs at
# every call even when the module is loaded (0.1 % of a warm `$disconnect`).
_disconnect: Optional[Route] = None
_connect: Optional[Route] = None


def _request_id(context: Any) -> Optional[str]:
    return getattr(context, "aws_request_id", None)


def disconnect(event: Any, context: Any = None) -> Dict[str, Any]:
    """`$disconnect` route: remove the connection from the registry and answer 200 "disconnected"."""
    global _disconnect
    if _disconnect is None:
        from .disconnect import handle  # noqa: PLC0415 - the $connect and sweeper paths never need it

        _disconnect = handle
    return _disconnect(runtime(), event, _request_id(context))


def sweep(event: Any, context: Any = None) -> Dict[str, Any]:
    """Scheduled cleanup of connections whose `$disconnect` never arrived."""
    from .sweep.run import handle  # noqa: PLC0415 - the sweeper's modules stay off the $disconnect path

    return handle(runtime(), context, _request_id(context))


def connect(event: Any, context: Any = None) -> Dict[str, Any]:
    """`$connect` route (optional): write the contract item, or refuse the handshake (non-2xx)."""
    global _connect
    if _connect is None:
        from .connect import handle  # noqa: PLC0415 - the $disconnect and sweeper paths never need it

        _connect = handle
    return _connect(runtime(), event, _request_id(context))


def presence(event: Any, context: Any = None) -> Dict[str, Any]:
    """The presence checker: an SQS batch of grace and probe messages, or the reconciler's scheduled tick."""
    from .checker import handle  # noqa: PLC0415 - only the presence checker ships and runs it

    return handle(runtime(), event, context, _request_id(context))


def announce(event: Any, context: Any = None) -> Dict[str, Any]:
    """The announcer: a batch of the presence table's stream records -> agent online/offline events."""
    from .announce import handle  # noqa: PLC0415 - only the announcer ships and runs it

    return handle(runtime(), event, _request_id(context))
