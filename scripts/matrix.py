"""`make matrix`: prove the module on every Terraform release of scripts/engines.py and on OpenTofu.

Per engine, in a stand-in copy of the tree of its own (scripts/standin_tree.py; engines run side by side):
  validate   modules for every Terraform directory, then `validate` (root, submodule, each example)
  test       `test` of the submodule's and the root module's suites on the oldest Terraform with
             mock_provider (>= 1.7) and on OpenTofu (a generated variant of the same files, see
             scripts/tofu_tests.py); the newest Terraform runs them in `make tf-test`. The releases in
             between validate only, unless --full (or MATRIX_FULL=1) runs their suites too: the suites
             passed on every release when last run in full, and running them all costs ~4 minutes of CI
             on 2 cores that the boundary releases already spend.
  lifecycle  examples/local on a fresh moto server: apply -> `plan -detailed-exitcode` = 0 -> destroy
             -> nothing of the stack left in the emulator (oldest Terraform and OpenTofu; the newest
             Terraform runs the same and more in `make e2e`)

Modules are installed with `get`, not `init`: with the provider's dev override in effect (see
scripts/standin.py) Terraform < 1.15 and OpenTofu still ask a registry for the overridden provider at
init and fail offline; Terraform's own warning says to skip init with overrides. The newest Terraform
runs a real `init`. Terraform 1.6.6 predates mock_provider: its module installation and validation
use `-test-directory` pointing at no directory, so the test files are not loaded there.

Usage: matrix.py [--jobs N] [--full] [--only ENGINE ...]; prints the matrix, exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts import engines, offline, tofu_tests
from scripts.matrix_lifecycle import lifecycle

ROOT = engines.ROOT
TF_DIRS = [".", "modules/lambda-function", "examples/complete", "examples/existing-table", "examples/local"]
TEST_DIRS = ["modules/lambda-function", "."]
NO_TESTS = "-test-directory=.matrix-no-tests"  # a directory that does not exist
OLDEST, NEWEST = engines.TERRAFORM_VERSIONS[0], engines.TERRAFORM_VERSIONS[-1]
LIFECYCLE = {f"terraform-{OLDEST}", f"tofu-{engines.TOFU_VERSION}"}
COVERED = {  # what other `make test` targets already prove on the newest Terraform
    "test": ("make tf-test", f"terraform-{NEWEST}"),
    "lifecycle": ("make e2e", f"terraform-{NEWEST}"),
}
REPORT = engines.TOOLS / "matrix-report.json"


@dataclass
class Result:
    engine: str
    cells: Dict[str, str] = field(default_factory=dict)  # step -> "pass (12s)" / "FAIL" / "n/a: why"
    failures: List[str] = field(default_factory=list)


def copy_tree(dest: Path) -> Path:
    """offline.copy_tree (the stand-in tree, scripts/standin_tree.py) plus the terraform test files (tests/)."""
    return offline.copy_tree(dest, (*offline.TREE_DIRS, "tests"))


class Engine:
    def __init__(self, name: str, tree: Path, log: Path) -> None:
        self.name = name
        self.binary = engines.engine_path(name)
        self.tree = tree
        self.log = log
        self.is_tofu = name.startswith("tofu-")
        self.version = tuple(int(part) for part in name.split("-", 1)[1].split("."))
        self.mocks = self.is_tofu or self.version >= (1, 7, 0)

    def run(self, directory: str, *args: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), f"-chdir={self.tree / directory}", *args]
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=engine_env())
        with self.log.open("a") as out:
            out.write(f"$ {' '.join(argv)}  ({time.monotonic() - started:.1f}s, exit {proc.returncode})\n")
            out.write(proc.stdout + proc.stderr + "\n")
        if proc.returncode not in ok:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise StepError(f"{self.name}: `{' '.join(args)}` in {directory} exited {proc.returncode}:\n{tail}")
        return proc

    def install_modules(self, directory: str) -> None:
        if self.name == f"terraform-{NEWEST}":
            self.run(directory, "init", "-backend=false", "-input=false", "-no-color")
        elif self.mocks:
            self.run(directory, "get", "-no-color")
        else:
            self.run(directory, "get", "-no-color", NO_TESTS)

    def validate(self) -> str:
        for directory in TF_DIRS:
            self.install_modules(directory)
            self.run(directory, "validate", "-no-color", *([] if self.mocks else [NO_TESTS]))
        return f"{len(TF_DIRS)} dirs"

    def test(self) -> str:
        counts = []
        for directory in TEST_DIRS:
            out = self.run(directory, "test", "-no-color").stdout
            found = re.findall(r"Success! (\d+) passed, 0 failed", out)
            if not found:
                raise StepError(f"{self.name}: `test` in {directory} printed no success summary")
            counts.append(found[-1])
        return f"{' + '.join(counts)} runs passed"


class StepError(RuntimeError):
    pass


def engine_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = str(engines.TOOLS / "terraform.rc")  # the stand-in override
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    return env


def suite_engines(names: Sequence[str]) -> List[str]:
    """The engines whose `test` runs outside --full: the oldest Terraform with mock_provider, and OpenTofu."""
    with_mocks = [v for v in engines.TERRAFORM_VERSIONS if tuple(int(p) for p in v.split(".")) >= (1, 7, 0)]
    return [n for n in names if n.startswith("tofu-") or (bool(with_mocks) and n == f"terraform-{with_mocks[0]}")]


def prove(name: str, workdir: Path, logs: Path, run_suite: bool = True) -> Result:
    result = Result(name)
    engine = Engine(name, copy_tree(workdir / name), logs / f"{name}.log")
    if engine.is_tofu:
        tofu_tests.generate(engine.tree, [Path(d) for d in TEST_DIRS])

    def step(label: str, action: Callable[[], Optional[str]]) -> None:
        started = time.monotonic()
        try:
            detail = action()
        except Exception as exc:
            result.cells[label] = "FAIL"
            result.failures.append(str(exc))
            return
        took = f"{time.monotonic() - started:.0f}s"
        result.cells[label] = f"pass ({took}{', ' + detail if detail else ''})"

    step("validate", engine.validate)
    if name == COVERED["test"][1]:
        result.cells["test"] = f"by {COVERED['test'][0]}"
    elif engine.mocks and run_suite:
        step("test", engine.test)
    elif engine.mocks:
        result.cells["test"] = "not run (boundary releases only; --full runs it)"
    else:
        result.cells["test"] = "n/a: mock_provider needs Terraform >= 1.7"
    if name in LIFECYCLE:
        step("lifecycle", lambda: lifecycle(engine.run, engine.tree, "examples/local", engine.log))
    elif name == COVERED["lifecycle"][1]:
        result.cells["lifecycle"] = f"by {COVERED['lifecycle'][0]}"
    else:
        result.cells["lifecycle"] = "not run (oldest and newest only)"
    return result


def render(results: List[Result]) -> str:
    steps = ["validate", "test", "lifecycle"]
    rows = [["engine", *steps]] + [[r.engine, *(r.cells.get(s, "-") for s in steps)] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(steps) + 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="engines proven side by side (default 2)")
    parser.add_argument("--only", nargs="*", default=None, metavar="ENGINE", help=f"of {engines.engine_names()}")
    parser.add_argument(
        "--full", action="store_true", default=os.environ.get("MATRIX_FULL") == "1", help="test suites on every engine"
    )
    args = parser.parse_args(argv)
    names = args.only or engines.engine_names()
    missing = [n for n in names if n not in engines.engine_names() or not engines.engine_path(n).exists()]
    if missing:
        print(f"matrix: engine(s) not installed: {missing}; run `make tools`", file=sys.stderr)
        return 2
    # Longest first: the engines with a lifecycle, then those with test suites.
    names.sort(key=lambda n: (n not in LIFECYCLE, n == f"terraform-{OLDEST}", n))
    started = time.monotonic()
    logs = engines.TOOLS / "logs" / "matrix"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="matrix-") as tmp, ThreadPoolExecutor(max(1, args.jobs)) as pool:
        suites = set(names) if args.full else set(suite_engines(names))
        results = list(pool.map(lambda n: prove(n, Path(tmp), logs, n in suites), names))
    order = {name: i for i, name in enumerate(engines.engine_names())}
    results.sort(key=lambda r: order[r.engine])
    table = render(results)
    took = time.monotonic() - started
    print(table)
    print(f"matrix: {len(results)} engines in {took:.0f}s (jobs={args.jobs}); logs in {logs}")
    REPORT.write_text(json.dumps({"seconds": round(took), "results": [r.__dict__ for r in results]}, indent=2))
    failures = [failure for r in results for failure in r.failures]
    for failure in failures:
        print(f"\nmatrix: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
