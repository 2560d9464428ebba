"""Bootstrap component `lambda-runtime`: AWS's Lambda runtime for running the deployed zip locally.

.tools/bin/aws-lambda-rie   AWS's Runtime Interface Emulator, built with `go install` from the Go
                            module proxy (pinned pseudo-version; cached in ~/.cache, ~1 minute cold)
.tools/lambda-runtime/      a virtualenv with awslambdaric (the runtime interface client of AWS's
                            Python base images) and the boto3 the runtime ships
                            (requirements/lambda-runtime.txt)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict

RIE_MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
RIE_VERSION = "v0.0.0-20261030222936-bef5c4ba774d"


class ToolError(RuntimeError):
    pass


def rie_binary(tools: Path) -> Path:
    return tools / "bin" / "aws-lambda-rie"


def runtime_python(tools: Path) -> Path:
    return tools / "lambda-runtime" / "bin" / "python"


def install(root: Path, tools: Path, cache: Path, run: Callable[..., None]) -> None:
    """Build (or reuse) the emulator and the runtime virtualenv; `run(name, argv, env=...)` logs a step."""
    if shutil.which("go") is None:
        raise ToolError("lambda-runtime: the `go` command is needed to build aws-lambda-rie; none on PATH")
    built = cache / f"aws-lambda-rie-{RIE_VERSION.rsplit('-', 1)[-1]}"
    binary = built / "aws-lambda-rie"
    if not binary.is_file():
        built.mkdir(parents=True, exist_ok=True)
        env: Dict[str, str] = dict(os.environ, GOBIN=str(built), CGO_ENABLED="0")
        env.setdefault("GOFLAGS", "-mod=mod")
        run("lambda-runtime", ["go", "install", f"{RIE_MODULE}@{RIE_VERSION}"], env=env)
    dest = rie_binary(tools)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.is_file() or dest.stat().st_size != binary.stat().st_size:
        shutil.copy2(binary, dest)

    requirements = root / "requirements" / "lambda-runtime.txt"
    venv = tools / "lambda-runtime"
    stamp = venv / ".installed"
    content = f"{sys.version}\n{requirements.read_text()}"
    if stamp.is_file() and stamp.read_text() == content:
        return
    if not runtime_python(tools).exists():
        run("lambda-runtime", [sys.executable, "-m", "venv", str(venv)])
    pip = [str(runtime_python(tools)), "-m", "pip", "install", "--quiet", "--no-input", "--only-binary=:all:"]
    run("lambda-runtime", [*pip, "-r", str(requirements)])
    check = subprocess.run(
        [str(runtime_python(tools)), "-I", "-c", "import awslambdaric.bootstrap, boto3"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise ToolError(f"lambda-runtime: awslambdaric does not import:\n{check.stderr}")
    stamp.write_text(content)
