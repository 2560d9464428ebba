"""Local servers for tests, the demo and benchmarks: a moto server and scripted @connections.

Both bind 127.0.0.1 on a free port and are stopped by the pid/handle that started them.
`moto_override_with_runtime` points an example at a moto server; `complete_example_variables` gives
examples/complete what it needs there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

from scripts.offline import client, moto_override
from scripts.ws_connections_api import ConnectionsApi, iso


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command() -> List[str]:
    """moto's server with the corrections of scripts/moto_launch.py (moto from this interpreter)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise RuntimeError("moto is not installed in this interpreter: run `make tools`") from None
    return [sys.executable, str(Path(__file__).resolve().parents[2] / "scripts" / "moto_launch.py")]


@contextmanager
def moto_server(log_path: Optional[Path] = None) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its URL; stop it by its pid."""
    port = free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback URL
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url} (exit code {proc.poll()})") from None
                time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


def token_key(endpoint: str, region: str) -> str:
    """ARN of a KMS HMAC_256 key on the moto server, for examples/complete's token_key_arn: hashicorp/aws
    3.39.0 predates HMAC keys (4.12.0), so the offline runs create the key outside Terraform."""
    kms = client("kms", endpoint, region)
    return str(kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"])


def complete_example_variables(endpoint: str, region: str, identity: Optional[str] = None) -> Dict[str, str]:
    """-var values examples/complete needs offline, for its connect_identity (None: the example's default,
    "iam"; or "token_authorizer"). With the token authorizer: a token key made outside Terraform, and the
    runtime label hashicorp/aws 3.39 accepts for the authorizer function (moto stores it, nothing runs it
    there). With "iam" nothing else: passing token_key_arn would make the example's check warn that it is
    ignored."""
    variables = {"region": region}
    if identity is not None:
        variables["connect_identity"] = identity
    if identity == "token_authorizer":
        variables.update({"token_key_arn": token_key(endpoint, region), "authorizer_runtime": "python3.8"})
    return variables


def moto_override_with_runtime(endpoint: str, region: str) -> str:
    """moto_override() plus the runtime label hashicorp/aws 3.39 accepts, for examples that call the module."""
    return moto_override(endpoint, region) + '\nmodule "remediation_disconnect" {\n  runtime = "python3.8"\n}\n'


class FakeConnections:
    """Scripted connections for the @connections API of the local gateway (scripts/ws_connections_api.py).

    Ids in `gone` answer 410 GoneException exactly as API Gateway does; ids in `throttled` answer
    429 LimitExceededException; anything else is alive, last active at `last_active[id]` (epoch seconds;
    now when absent). `calls` / `deletes` count GetConnection / DeleteConnection requests per id.
    """

    def __init__(self) -> None:
        self.gone: Set[str] = set()
        self.throttled: Set[str] = set()
        self.last_active: Dict[str, float] = {}
        self.api: Optional[ConnectionsApi] = None

    def _count(self, verb: str) -> Dict[str, int]:
        if self.api is None:
            return {}
        with self.api.lock:
            return {cid: count for (method, cid), count in self.api.calls.items() if method == verb}

    @property
    def calls(self) -> Dict[str, int]:
        return self._count("GET")

    @property
    def deletes(self) -> Dict[str, int]:
        return self._count("DELETE")

    def describe(self, connection_id: str) -> Optional[Dict[str, object]]:
        if connection_id in self.gone:
            return None
        now = time.time()
        active = iso(self.last_active.get(connection_id, now))
        return {"connectedAt": iso(now), "lastActiveAt": active, "identity": {"sourceIp": "192.0.2.10"}}

    def post(self, connection_id: str, data: bytes) -> bool:
        return connection_id not in self.gone

    def delete(self, connection_id: str) -> bool:
        if connection_id in self.gone:
            return False
        self.gone.add(connection_id)
        return True


@contextmanager
def fake_connections_endpoint(stage: str = "live") -> Iterator[tuple[str, FakeConnections]]:
    """Serve <stage>/@connections/<id> on a free loopback port; yield (endpoint URL, state)."""
    state = FakeConnections()
    api = ConnectionsApi(stage, state, throttled=state.throttled).start()
    state.api = api
    try:
        yield api.endpoint, state
    finally:
        api.stop()
