"""Run a function deployed on the moto server through AWS's own Lambda runtime, on loopback.

For one function: read its configuration back from the emulated Lambda API (handler, environment,
timeout, memory, CodeSha256), check that the committed zip IS the deployed code (base64 sha256 ==
CodeSha256), unpack it, and start AWS's Runtime Interface Emulator (`aws-lambda-rie`) running
`python -m awslambdaric <handler>` (the runtime interface client of AWS's Python images) from a
virtualenv holding only awslambdaric and boto3. Invocations are POSTed to the emulator; the runtime's
START / END / REPORT lines and the function's JSON log lines are collected per request id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional

from scripts.lambda_runtime_tools import rie_binary, runtime_python
from scripts.offline import REGION, ROOT, client, committed_zip
from tests.support.servers import free_port

TOOLS = ROOT / ".tools"
RIE = rie_binary(TOOLS)
RUNTIME_PYTHON = runtime_python(TOOLS)
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


class RuntimeSetupError(RuntimeError):
    """The function cannot be run as deployed (tool missing, zip is not the deployed code, no start)."""


class Invocation(NamedTuple):
    request_id: str
    payload: Any  # what the handler returned, or Lambda's error document
    error: Optional[Dict[str, Any]]  # {"errorType", "errorMessage", ...} when the invocation failed
    report: Dict[str, str]  # the REPORT line's fields: Duration, Billed Duration, Memory Size, ...
    report_line: str
    logs: List[Dict[str, Any]]  # the function's JSON log lines
    lines: List[str]  # every line the runtime printed for this request (START .. REPORT)


def zip_code_sha256(path: Path) -> str:
    """Lambda's CodeSha256: base64 of the zip's sha256."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def parse_report(line: str) -> Dict[str, str]:
    """'REPORT RequestId: x\tDuration: 1.2 ms\tMemory Size: 128 MB' -> {'Duration': '1.2 ms', ...}."""
    fields: Dict[str, str] = {}
    for part in line.split("\t"):
        key, sep, value = part.strip().partition(": ")
        if sep:
            fields[key.replace("REPORT ", "")] = value.strip()
    return fields


class LambdaRuntime:
    """One deployed function running under aws-lambda-rie; one invocation at a time, like one instance."""

    def __init__(
        self,
        function_name: str,
        endpoint: str,
        workdir: Path,
        region: str = REGION,
        zip_path: Optional[Path] = None,
        env_overrides: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.function_name = function_name
        self.endpoint = endpoint
        self.workdir = workdir
        self.region = region
        self.zip_path = zip_path  # None: the committed function/dist zip that is the deployed code
        self.env_overrides = dict(env_overrides or {})
        self.config: Dict[str, Any] = {}
        self.lines: List[str] = []
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen[str]] = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LambdaRuntime:
        for tool in (RIE, RUNTIME_PYTHON):
            if not tool.exists():
                raise RuntimeSetupError(f"{tool} is missing: run `make tools` (component lambda-runtime)")
        fn = client("lambda", self.endpoint, self.region).get_function(FunctionName=self.function_name)
        self.config = fn["Configuration"]
        deployed = self.config["CodeSha256"]
        if self.zip_path is None:
            self.zip_path = committed_zip(deployed)
            if self.zip_path is None:
                raise RuntimeSetupError(
                    f"{self.function_name}: no zip in function/dist is the deployed code (CodeSha256 {deployed})"
                )
        local = zip_code_sha256(self.zip_path)
        if deployed != local:
            raise RuntimeSetupError(
                f"{self.function_name}: {self.zip_path.name} is not the deployed code"
                f" (zip sha256 {local}, deployed CodeSha256 {deployed})"
            )
        task = self.workdir / self.function_name / "task"
        task.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(self.zip_path) as archive:
            archive.extractall(task)
        aws_config = self.workdir / self.function_name / "aws-config"
        # aws-lambda-rie reserves AWS_REGION for the platform (and leaves it empty): give the SDK the
        # region through a config file instead, as a Lambda's SDK would get it from AWS_REGION.
        aws_config.write_text(f"[default]\nregion = {self.region}\n")
        port, api_port = free_port(), free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LAMBDA_TASK_ROOT": str(task),
            "PYTHONPATH": str(task),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.config.get("Timeout", 3)),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.config.get("MemorySize", 128)),
            "AWS_CONFIG_FILE": str(aws_config),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_config.with_name("no-credentials")),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            # Every AWS call of the function goes to the moto server.
            "AWS_ENDPOINT_URL": self.endpoint,
            **self.config.get("Environment", {}).get("Variables", {}),
            **self.env_overrides,
        }
        argv = [
            str(RIE),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            "--runtime-api-address",
            f"127.0.0.1:{api_port}",
            str(RUNTIME_PYTHON),
            "-m",
            "awslambdaric",
            self.config["Handler"],
        ]
        self._proc = subprocess.Popen(
            argv,
            cwd=task,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.url = f"http://127.0.0.1:{port}{INVOKE_PATH}"
        self._wait_listening(port)
        return self

    def _wait_listening(self, port: int) -> None:
        import socket  # noqa: PLC0415

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeSetupError(
                    f"aws-lambda-rie exited {self._proc.returncode}:\n" + "\n".join(self.lines[-20:])
                )
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeSetupError(f"aws-lambda-rie did not listen on 127.0.0.1:{port} within 20 s")

    def _read(self) -> None:
        if self._proc is None or self._proc.stdout is None:
            return
        for line in self._proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()

    def __enter__(self) -> LambdaRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- invocations -------------------------------------------------------------------------------

    def invoke(self, event: Any) -> Invocation:
        """POST one event as Lambda's synchronous Invoke would; wait for the runtime's REPORT line."""
        request_id = str(uuid.uuid4())
        timeout = float(self.config.get("Timeout", 3)) + 30  # init on a busy machine + the function's own
        with self._lock:
            request = urllib.request.Request(  # noqa: S310 - loopback URL
                self.url, data=json.dumps(event).encode(), headers={"X-Amzn-RequestId": request_id}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    body = response.read()
            except urllib.error.HTTPError as exc:
                body = exc.read()
            lines = self._lines_of(request_id, deadline=time.monotonic() + 10)
        payload = json.loads(body) if body else None
        error = payload if isinstance(payload, dict) and "errorType" in payload else None
        report_line = next((line for line in lines if line.startswith("REPORT RequestId:")), "")
        logs = []
        for line in lines:
            if line.startswith("{"):
                try:
                    logs.append(json.loads(line))
                except ValueError:
                    continue
        return Invocation(request_id, payload, error, parse_report(report_line), report_line, logs, lines)

    def _lines_of(self, request_id: str, deadline: float) -> List[str]:
        """The lines from `START RequestId: <id>` to its REPORT line (or the emulator's "Invoke failed")."""
        with self._cond:
            while True:
                start = next(
                    (i for i, line in enumerate(self.lines) if line.startswith(f"START RequestId: {request_id}")), None
                )
                end = next(
                    (
                        i
                        for i, line in enumerate(self.lines)
                        if line.startswith(f"REPORT RequestId: {request_id}")
                        # A failed init ends the request without a REPORT line.
                        or ("Invoke failed" in line and f"InvokeID={request_id}" in line)
                    ),
                    None,
                )
                if start is not None and end is not None:
                    return self.lines[start : end + 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self.lines[start:] if start is not None else []
                self._cond.wait(timeout=remaining)


def start_runtimes(names: List[str], endpoint: str, workdir: Optional[Path] = None) -> Dict[str, LambdaRuntime]:
    """Start one runtime per function name (in parallel: each init takes a second or two)."""
    base = workdir or Path(tempfile.mkdtemp(prefix="lambda-rie-"))
    runtimes = {name: LambdaRuntime(name, endpoint, base) for name in names}
    errors: List[BaseException] = []

    def start(runtime: LambdaRuntime) -> None:
        try:
            runtime.start()
        except BaseException as exc:  # reported below, after every start has ended
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(runtime,)) for runtime in runtimes.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for runtime in runtimes.values():
            runtime.stop()
        raise errors[0]
    return runtimes
