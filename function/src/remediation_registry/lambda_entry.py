"""What the Lambda functions' handler strings name: the handlers, with a cheaper cold start.

A cold start imports botocore and this package and builds the clients: hundreds of thousands of
objects, almost none of them garbage, which the cycle collector would walk again and again while they
are being created (and later in every full collection). Here the collector is off from this module's
import until the container's first `$disconnect` has returned (botocore completes its clients on their
first request; for the sweep, until its clients exist); then it is switched back on and everything
alive at that point is moved to the permanent generation (gc.freeze()). Cost: objects frozen at
start-up are never collected, so garbage cycles created during start-up stay in memory for the
container's lifetime (BENCHMARKS.md measures the effect on peak RSS).

Only the Lambda entry path does this: importing `remediation_registry` or its `handlers` module (tests,
a user's own process) leaves the collector alone. A configuration error still surfaces on the first
invocation, and the collector is switched back on then too.

To expose another handler, add one line: `name = _entry(handlers.name)`.
"""

from __future__ import annotations

import gc
from typing import Any, Callable, Dict, Optional

_collecting = gc.isenabled()
gc.disable()

from . import handlers  # noqa: E402 - imported with the collector off, on purpose

Handler = Callable[[Any, Any], Dict[str, Any]]
_started = False


def _collect_again() -> None:
    global _started
    _started = True
    if _collecting:
        gc.enable()
    gc.freeze()


def _entry(handler: Handler, prepare: Optional[Callable[[], object]] = None) -> Handler:
    """The handler, starting the container on its first call.

    Without `prepare`, start-up lasts until the first invocation has returned: botocore completes a
    client on its first request (endpoint rules, retry and auth handlers, the connection pool). With
    it (a long-running handler such as the sweep, which should not run with the collector off), start-up
    is `prepare()` and building the Runtime.
    """

    def entry(event: Any, context: Any = None) -> Dict[str, Any]:
        if _started:
            return handler(event, context)
        if prepare is not None:
            try:
                prepare()
                handlers.runtime()
            finally:
                _collect_again()
            return handler(event, context)
        try:
            return handler(event, context)
        finally:
            _collect_again()

    entry.__name__ = entry.__qualname__ = handler.__name__
    entry.__doc__ = handler.__doc__
    return entry


def _sweeper_start() -> object:
    from .sweep import run  # noqa: PLC0415 - the sweeper's modules, imported with the collector still off

    return run


connect = _entry(handlers.connect)
disconnect = _entry(handlers.disconnect)
sweep = _entry(handlers.sweep, _sweeper_start)
presence = _entry(handlers.presence)
announce = _entry(handlers.announce)
