"""The stand-in tree: the copy of the module that every offline Terraform run uses.

Offline, hashicorp/aws 3.39.0 stands in for the declared >= 5.76 (scripts/standin.py, README
"Requirements"). 3.39.0 lacks resource types the module creates for its users, and Terraform rejects a
configuration that names an unknown resource type even with count = 0. Each such resource lives alone
in a file of its own, and SWAPS maps that file to a stand-in file under standin/ that carries the same
count and inputs in a `terraform_data` (tests/compat/test_standin_tree.py keeps them equivalent).

This module copies the tree (root *.tf, modules/, function/, examples/, tests/) with every swap
applied, plus examples/local's stand-in provider override. Nothing in the repository is ever
modified: tflint, checkov, `terraform fmt` and `make compat` read the real files.

- ``build(dest)``: a fresh copy (the end-to-end tests, the matrix, the demo: scripts/offline.py
  copy_tree).
- ``shared_tree()``: one persistent copy per checkout under .tools/standin-tree/, synchronised on
  each call (changed files rewritten, removed files removed, Terraform's working state kept, so `init`
  is reused), for `make validate`, `make tf-test` and `make iam-lint`.

    python scripts/standin_tree.py    # sync the shared tree; print its path (stdout) and the swaps (stderr)
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import hashlib
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts import standin

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / ".tools" / "standin-tree"
STANDIN_DIR = "standin"

# Module file (relative to the root) -> the stand-in file that replaces it, and why.
SWAPS: Dict[str, Tuple[str, str]] = {
    "eventbus_policy.tf": (
        f"{STANDIN_DIR}/eventbus_policy.tf",
        "hashicorp/aws 3.39.0 has no aws_cloudwatch_event_bus_policy (added in 3.47.0)",
    ),
}

SUBDIRS: Tuple[str, ...] = ("modules", "function", "examples", "tests")
# Never copied: Terraform's working state, Python's caches, and what the e2e tests write into copies.
IGNORED_NAMES = {".terraform", "__pycache__", ".pytest_cache", ".mypy_cache", ".hypothesis"}
IGNORED_SUFFIXES = (".pyc", ".tfstate", ".tfstate.backup", ".tfplan")
# Kept in the shared tree across syncs although the repository does not have them.
KEPT_NAMES = {".terraform", ".terraform.lock.hcl"}


def _ignored(relative: Path) -> bool:
    return (
        any(part in IGNORED_NAMES for part in relative.parts)
        or relative.name.endswith(IGNORED_SUFFIXES)
        or (relative.name == ".terraform.lock.hcl")
    )


def tree_files(subdirs: Sequence[str] = SUBDIRS) -> Dict[Path, Path]:
    """Relative path in the stand-in tree -> the repository file it is copied from (swaps applied)."""
    files: Dict[Path, Path] = {}
    for path in sorted(ROOT.glob("*.tf")):
        source = SWAPS[path.name][0] if path.name in SWAPS else path.name
        files[Path(path.name)] = ROOT / source
    for sub in subdirs:
        for path in sorted((ROOT / sub).rglob("*")):
            relative = path.relative_to(ROOT)
            if path.is_file() and not _ignored(relative):
                files[relative] = path
    missing = [name for name in SWAPS if Path(name) not in files]
    if missing:
        raise RuntimeError(f"stand-in tree: {missing} declared in SWAPS but not in the module's root")
    return files


def describe() -> List[str]:
    return [f"{name} <- {source} ({why})" for name, (source, why) in sorted(SWAPS.items())]


def build(dest: Path, subdirs: Sequence[str] = SUBDIRS) -> Path:
    """A fresh stand-in copy of the tree at dest (created if needed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for relative, source in tree_files(subdirs).items():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    standin.write_example_overrides(dest)
    return dest


def _kept(relative: Path) -> bool:
    return any(part in KEPT_NAMES for part in relative.parts)


def sync(dest: Path, subdirs: Sequence[str] = SUBDIRS) -> Path:
    """Make dest the stand-in copy of the tree, rewriting only what changed; keep Terraform's working state."""
    files = tree_files(subdirs)
    dest.mkdir(parents=True, exist_ok=True)
    for relative, source in files.items():
        target = dest / relative
        if target.is_file() and filecmp.cmp(source, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    wanted = set(files)
    override = Path("examples") / "local" / standin.EXAMPLE_OVERRIDE_NAME
    for path in sorted(dest.rglob("*"), reverse=True):  # children before their directory
        relative = path.relative_to(dest)
        if _kept(relative) or relative == override:
            continue
        if path.is_file() and relative not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    standin.write_example_overrides(dest)
    return dest


def shared_path(root: Path = ROOT) -> Path:
    """This checkout's shared tree: .tools may be shared by several worktrees (a symlink), so the name
    says whose tree it is."""
    real = root.resolve()
    return SHARED / f"{real.name}-{hashlib.sha256(str(real).encode()).hexdigest()[:10]}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared_tree() -> Path:
    """The synchronised shared stand-in tree of this checkout (one sync at a time)."""
    dest = shared_path()
    with _locked(dest):
        return sync(dest)


def main() -> int:
    tree = shared_tree()
    for line in describe():
        print(f"stand-in tree {tree}: {line}", file=sys.stderr)
    print(tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
