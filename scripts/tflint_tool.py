"""tflint and its AWS ruleset for `make tflint`, built from the Go module proxy once per machine.

Both binaries are cached in ~/.cache/remediation-disconnect-tools/tflint-<v>-ruleset-aws-<v>/ and copied
into .tools/ (tflint on PATH, the ruleset where TFLINT_PLUGIN_DIR points), so `tflint --init` never runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Dict

from scripts.bootstrap import CACHE, TOOLS, BootstrapError, run

TFLINT_VERSION = "v0.61.0"
RULESET_VERSION = "v0.48.0"
TFLINT_PLUGIN_DIR = TOOLS / "tflint-plugins"
RULESET_DEST = (
    TFLINT_PLUGIN_DIR
    / "github.com/terraform-linters/tflint-ruleset-aws"
    / RULESET_VERSION.lstrip("v")
    / "tflint-ruleset-aws"
)


def _go_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["CGO_ENABLED"] = "0"
    return env


def install() -> None:
    """tflint and its AWS ruleset, built from the Go module proxy once per machine (cached in ~/.cache)."""
    if shutil.which("go") is None:
        raise BootstrapError("tflint: the `go` command is needed to build tflint (Go >= 1.24); none on PATH")
    built = CACHE / f"tflint-{TFLINT_VERSION}-ruleset-aws-{RULESET_VERSION}"
    tflint_bin = built / "tflint"
    ruleset_bin = built / "tflint-ruleset-aws"
    if not tflint_bin.is_file():
        built.mkdir(parents=True, exist_ok=True)
        env = _go_env()
        env["GOBIN"] = str(built)
        run("tflint", ["go", "install", f"github.com/terraform-linters/tflint@{TFLINT_VERSION}"], env=env)
    if not ruleset_bin.is_file():
        # `go install …ruleset-aws@version` asks the proxy for the module's version list, which the proxy
        # here refuses for this module; downloading the exact version and building it avoids that call.
        env = _go_env()
        out = subprocess.run(
            ["go", "mod", "download", "-json", f"github.com/terraform-linters/tflint-ruleset-aws@{RULESET_VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if out.returncode != 0:
            raise BootstrapError(f"tflint: go mod download of the AWS ruleset failed:\n{out.stdout}{out.stderr}")
        source = json.loads(out.stdout)["Dir"]
        tmp = built / f"tflint-ruleset-aws.tmp.{os.getpid()}"  # concurrent bootstraps never share it
        run("tflint", ["go", "build", "-trimpath", "-o", str(tmp), "."], cwd=source, env=env)
        os.replace(tmp, ruleset_bin)
    (TOOLS / "bin").mkdir(parents=True, exist_ok=True)
    RULESET_DEST.parent.mkdir(parents=True, exist_ok=True)
    for src, dest in ((tflint_bin, TOOLS / "bin" / "tflint"), (ruleset_bin, RULESET_DEST)):
        if not dest.is_file() or dest.stat().st_size != src.stat().st_size:
            shutil.copy2(src, dest)
