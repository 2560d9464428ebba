"""Shared by the bench modules: paths, settings, targets, the packages, child processes, figures."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CALLGRIND = RESULTS / "callgrind"
PY = sys.executable
ONE_SHOT = str(BENCH / "one_shot.py")
SWEEP_RUN = str(BENCH / "sweep_run.py")

TABLE = "remediation-connections"
REGION = "us-east-1"
CONNECTION_ID = "L0SM9cOFvHcCIhw="
API_ID, STAGE = "a1b2c3d4e5", "live"
CONNECTED_AT_MS = 1795677000000  # what the stub's item says too
REQUEST_TIME_MS = CONNECTED_AT_MS + 5400 * 1000  # 90 minutes later

WARM_EVENTS = 300
TIMING_REPS, TIMING_EVENTS, TIMING_ROUNDS = 3, 5000, 2
COLD_WALL_RUNS = 5
SWEEP_LIVE, SWEEP_EXPIRED = 40_000, 10_000

TARGETS = {
    "cold_start_instructions": 0.85,
    "warm_event_instructions": 1.00,
    "peak_rss": 1.0,
    "package_bytes": 16_384,
    "sweeper_items_per_second": 4.0,
}

# Environment of the function as the module sets it (lambda.tf), presence off.
FUNCTION_ENV = {
    "CONNECTIONS_TABLE": TABLE,
    "TTL_ATTRIBUTE": "expiresAt",
    "CONNECTION_GRACE_SECONDS": "300",
    "METRICS_NAMESPACE": "Remediation/WebSocket",
    "LOG_LEVEL": "INFO",
    "LOG_CLIENT_ADDRESS": "false",
}
# ... and with presence on (presence.tf's presence_environment; every event closes an agent's last
# connection: T2 opens a grace window and sends its grace message).
PRESENCE_ENV = {
    "PRESENCE_TABLE": "remediation-presence",
    "PRESENCE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/remediation-presence",
    "PRESENCE_GRACE_SECONDS": "20",
    "PRESENCE_PROBE_INTERVAL_SECONDS": "300",
    "HEARTBEAT_TIMEOUT_SECONDS": "0",
    "HEARTBEAT_INTERVAL_SECONDS": "0",
}
READ_OPERATIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")

# C functions whose inclusive cost tells where a cold start goes (they overlap: GC runs inside compile...).
COLD_START_FUNCTIONS = (
    ("builtin_compile", "compile() of .py sources (zips hold no .pyc)"),
    ("marshal_loads", "unmarshal cached .pyc (site-packages)"),
    ("scan_once_unicode", "json parsing (botocore models, endpoints)"),
    ("zlib_Decompress_decompress", "zlib (gzipped models, zip entries)"),
    ("builtin___build_class__", "class creation"),
    ("gc_collect_main", "garbage collection"),
    ("_PyImport_LoadDynamicModuleWithSpec", "C extension loading"),
)


class BenchError(RuntimeError):
    """The benchmark could not run (missing tool, a handler failed): exit 2, not a missed target."""


class Figure(NamedTuple):
    name: str
    unit: str
    baseline: Optional[float]
    ours: float
    ratio: Optional[float]
    target: Optional[str]
    met: Optional[bool]


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------- setup


def load_file(name: str, path: Path) -> Any:
    """A Python file as a module, without putting its directory on sys.path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_build() -> Any:
    """function/build.py as a module (its build_zip/source_files are the package's definition)."""
    return load_file("remediation_build", ROOT / "function" / "build.py")


def build_packages(candidate: Optional[Path]) -> Dict[str, Any]:
    """Our zips (fresh build of function/src, or --zip for every function), the seed's, the size breakdown.

    `ours_zip` is the `$disconnect` function's package (the gated one), `sweeper_zip` the sweeper's.
    """
    build = load_build()
    zips: Dict[str, bytes] = {}
    if candidate is not None:
        zips = {function: candidate.read_bytes() for function in build.FUNCTIONS}
        source = str(candidate)
    else:
        zips = build.build_all(build.source_files())
        source = "fresh build of function/src (function/build.py)"
    for function, data in zips.items():
        (RESULTS / build.zip_name(function)).write_bytes(data)
    ours_zip, sweeper_zip = RESULTS / build.zip_name("disconnect"), RESULTS / build.zip_name("sweeper")
    dist = ROOT / "function" / "dist"
    seed_zip = RESULTS / "seed_handler.zip"
    seed_zip.write_bytes(build.build_zip([("seed_handler.py", BENCH / "seed_handler.py")]))
    entries = []
    with zipfile.ZipFile(ours_zip) as archive:
        for info in archive.infolist():
            # local header (30) + central directory entry (46), each with the name
            overhead = 30 + 46 + 2 * len(info.filename.encode()) + len(info.extra) + len(info.comment)
            entries.append(
                {"name": info.filename, "bytes": info.file_size, "deflated": info.compress_size, "headers": overhead}
            )
    dist_zips = {function: dist / build.zip_name(function) for function in zips}
    return {
        "ours_zip": ours_zip,
        "sweeper_zip": sweeper_zip,
        "seed_zip": seed_zip,
        "source": source,
        "bytes": ours_zip.stat().st_size,
        "zip_bytes": {function: len(data) for function, data in zips.items()},
        "dist_up_to_date": all(path.is_file() and path.read_bytes() == zips[f] for f, path in dist_zips.items()),
        "entries": entries,
    }


def write_event() -> Path:
    """scripts.offline.disconnect_event(), written by a child: this process stays small (see max_rss)."""
    path = RESULTS / "event.json"
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from scripts.offline import disconnect_event
event = disconnect_event({CONNECTION_ID!r}, {API_ID!r}, {STAGE!r}, {CONNECTED_AT_MS}, request_time_ms={REQUEST_TIME_MS})
# Fixed ids: the same bytes in every run, so instruction counts repeat.
event["requestContext"]["requestId"] = "Ld3hVHqTIAMFYlA="
event["requestContext"]["extendedRequestId"] = "Ld3hVHqTIAMFYlB="
open({str(path)!r}, "w").write(json.dumps(event, indent=1))
"""
    run_child([PY, "-c", code], dict(os.environ))
    return path


def machine() -> Dict[str, Any]:
    from importlib.metadata import version

    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "botocore": version("botocore"),
        "boto3": version("boto3"),
        "moto": version("moto"),
        "valgrind": valgrind.stdout.strip() or "missing",
    }


def handler_env(endpoint: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A clean environment, as Lambda gives one: fake credentials, every endpoint on the stub."""
    home = RESULTS / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "remediation-disconnect",
        **FUNCTION_ENV,
    }
    env.update(extra or {})
    return env


def one_shot_argv(kind: str, events: int, pkg: Dict[str, Any], out: Path, *timing: int) -> List[str]:
    zip_path = pkg["seed_zip"] if kind == "seed" else pkg["ours_zip"]
    event = RESULTS / "event.json"
    return [PY, ONE_SHOT, kind, str(events), str(event), str(zip_path), str(out), *map(str, timing)]


def run_child(argv: Sequence[str], env: Dict[str, str], stdout: Any = subprocess.DEVNULL) -> str:
    proc = subprocess.run(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:4])} ... failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout if stdout is subprocess.PIPE else ""


def read_json(path: Path) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(path.read_text())
    return data


def figure(
    name: str,
    unit: str,
    baseline: Optional[float],
    ours: float,
    target: Optional[float],
    higher_is_better: bool = False,
) -> Figure:
    ratio = ours / baseline if baseline else None
    if target is None or ratio is None:
        return Figure(name, unit, baseline, ours, ratio, None, None)
    met = ratio >= target if higher_is_better else ratio <= target
    return Figure(name, unit, baseline, ours, ratio, f"{'>=' if higher_is_better else '<='} {target:g}x", met)


def show(fig: Figure) -> str:
    def num(value: Optional[float]) -> str:
        if value is None:
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"

    ratio = f"{fig.ratio:.3f}x" if fig.ratio is not None else ""
    verdict = "" if fig.met is None else ("met" if fig.met else "MISSED")
    target = fig.target or "(context)"
    return (
        f"  {fig.name:<48} {num(fig.baseline):>15} {num(fig.ours):>15} {fig.unit:<10} {ratio:>8}  {target:<9} {verdict}"
    )


def mega(value: float) -> float:
    return value / 1e6
