"""Bootstrap component: terraform-docs, pinned by version and module hash, built from the Go module proxy.

The proxy refuses to list terraform-docs' versions, so `go install …@latest` fails; `go mod download`
of the exact version works. Go checks the download against sum.golang.org (reached through the proxy
here: GOSUMDB=sum.golang.org, GOPROXY=https://proxy.golang.org); independently of that, the module's
files are checked against the `h1:` hash pinned below (Go's go.sum hash: sha256 of the sorted
"<sha256>  <path>" lines of every file), so what is built is exactly that release even where GOSUMDB=off,
GONOSUMDB or GOPRIVATE turn Go's own check off. Its dependencies are verified by the go.sum inside
the hashed source (`-mod=readonly`). The source copy and the binary are cached once per machine in
~/.cache/remediation-disconnect-tools/terraform-docs-src-<version>/ and terraform-docs-<version>/
(`go build` takes about a minute on two idle cores).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from scripts.bootstrap import CACHE, TOOLS, BootstrapError, run

MODULE = "github.com/terraform-docs/terraform-docs"
VERSION = "v0.20.0"
# `Sum` of `go mod download -json github.com/terraform-docs/terraform-docs@v0.20.0`, the same value
# sum.golang.org records for this module version; recomputed below from the files themselves.
MODULE_H1 = "h1:qg0gtYlecCLDgEoJ+KqeAfYDc1iDDmOaF8may9iK444="
SOURCE = CACHE / f"terraform-docs-src-{VERSION}"
BUILT = CACHE / f"terraform-docs-{VERSION}" / "terraform-docs"
DEST = TOOLS / "bin" / "terraform-docs"


def module_hash(tree: Path, prefix: str) -> str:
    """Go's dirhash.Hash1 of a module tree, each file named `prefix/relative/path` as in the module zip."""
    lines = []
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            name = f"{prefix}/{path.relative_to(tree).as_posix()}"
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}\n")
    summary = "".join(sorted(lines, key=lambda line: line.split("  ", 1)[1]))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"})
    return env


def _fetch_source() -> None:
    """Download the exact version, copy it out of the module cache and check the copy's hash."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        capture_output=True,
        text=True,
        env=_go_env(),
        check=False,
    )
    if out.returncode != 0:
        raise BootstrapError(f"terraform-docs: go mod download failed:\n{out.stdout}{out.stderr}")
    info = json.loads(out.stdout)
    if info.get("Sum") != MODULE_H1:
        raise BootstrapError(f"terraform-docs: the proxy served {info.get('Sum')}, pinned {MODULE_H1}. Refusing it.")
    tmp = SOURCE.with_name(SOURCE.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(info["Dir"], tmp)
    for path in [tmp, *tmp.rglob("*")]:  # the module cache is read-only; the copy must be removable
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    actual = module_hash(tmp, f"{MODULE}@{VERSION}")
    if actual != MODULE_H1:
        shutil.rmtree(tmp)
        raise BootstrapError(f"terraform-docs: source copy hashes to {actual}, pinned {MODULE_H1}. Refusing it.")
    shutil.rmtree(SOURCE, ignore_errors=True)
    os.replace(tmp, SOURCE)


def install() -> None:
    if not BUILT.is_file():
        if shutil.which("go") is None:
            raise BootstrapError("terraform-docs: the `go` command is needed to build it (Go >= 1.23); none on PATH")
        if not SOURCE.is_dir() or module_hash(SOURCE, f"{MODULE}@{VERSION}") != MODULE_H1:
            _fetch_source()
        tmp = BUILT.with_name("terraform-docs.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        run("terraform-docs", ["go", "build", "-trimpath", "-o", str(tmp), "."], cwd=SOURCE, env=_go_env())
        os.replace(tmp, BUILT)
    DEST.parent.mkdir(parents=True, exist_ok=True)
    if not DEST.is_file() or DEST.read_bytes() != BUILT.read_bytes():
        shutil.copy2(BUILT, DEST)
