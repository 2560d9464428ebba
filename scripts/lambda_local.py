"""Invoke a handler from the deployment zip the way Lambda would, in this (isolated) process.

Run with `python -I` so that nothing but the zip and the interpreter's site-packages (boto3, as the
Lambda runtime ships it) is importable: the code under test is exactly the code that was deployed.

stdin:  {"zip": path, "handler": "pkg.module.function", "env": {...}, "events": [...],
         "function_name": str, "timeout_ms": int}
stdout: {"loaded_from": path, "results": [...], "errors": [...], "logs": [parsed JSON lines]}
"""

import contextlib
import importlib
import io
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any, Dict, List


class Context:
    """The attributes of Lambda's context object that handlers use."""

    def __init__(self, function_name: str, timeout_ms: int) -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = "128"
        self._deadline = time.monotonic() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    request = json.load(sys.stdin)
    sys.path.insert(0, request["zip"])
    os.environ.update(request["env"])
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = request["function_name"]
    module_name, function_name = request["handler"].rsplit(".", 1)
    module = importlib.import_module(module_name)
    handler = getattr(module, function_name)
    results: List[Any] = []
    errors: List[Dict[str, str]] = []
    buffer = io.StringIO()
    for event in request["events"]:
        context = Context(request["function_name"], int(request.get("timeout_ms", 10000)))
        with contextlib.redirect_stdout(buffer):
            try:
                results.append(handler(event, context))
            except Exception as exc:
                results.append(None)
                errors.append(
                    {"errorType": type(exc).__name__, "errorMessage": str(exc), "trace": traceback.format_exc()}
                )
    logs = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    json.dump({"loaded_from": module.__file__, "results": results, "errors": errors, "logs": logs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
