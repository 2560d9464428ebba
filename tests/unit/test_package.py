"""The deployment package: what function/build.py puts in the zip is the code of function/src."""

from __future__ import annotations

import ast
import importlib.util
import io
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path
from typing import Any, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "function" / "src"

spec = importlib.util.spec_from_file_location("function_build", ROOT / "function" / "build.py")
assert spec is not None
assert spec.loader is not None
build: Any = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

SOURCES: List[Path] = sorted(SRC.rglob("*.py"))


def without_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                # As build.strip_source: a body that was only a docstring becomes `...`, a module's stays empty.
                node.body = node.body[1:] or ([] if isinstance(node, ast.Module) else [ast.Expr(ast.Constant(...))])
    return ast.dump(tree)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_stripping_removes_only_prose_and_keeps_every_line_in_place(path: Path) -> None:
    original = path.read_bytes()
    stripped = build.strip_source(original)

    assert stripped.count(b"\n") == original.count(b"\n"), "line numbers in tracebacks must match function/src"
    assert without_docstrings(ast.parse(stripped)) == without_docstrings(ast.parse(original))
    tokens = tokenize.tokenize(io.BytesIO(stripped).readline)
    assert [t.string for t in tokens if t.type == tokenize.COMMENT] == []
    for number, (before, after) in enumerate(zip(original.splitlines(), stripped.splitlines()), start=1):
        if after.strip() and after.strip() != b"...":
            assert before.startswith(after.rstrip()), f"{path.name}:{number} changed code: {after!r}"


FUNCTIONS = ["connect", "disconnect", "events", "presence", "sweeper"]
ALL_BUT_EVENTS = {"connect", "disconnect", "presence", "sweeper"}
# The functions whose zips ship a source (a name ending in "/": everything in that subpackage); a source
# not listed ships in every zip. `$disconnect` ships only T2 of presence (its zip stays under 16 KiB).
SHIPPED_BY = {
    "remediation_registry/connect.py": {"connect"},
    "remediation_registry/disconnect.py": {"disconnect"},
    "remediation_registry/events.py": {"connect", "disconnect"},
    "remediation_registry/claims.py": {"connect", "disconnect"},
    "remediation_registry/identity.py": {"connect"},
    "remediation_registry/management.py": {"presence", "sweeper"},
    "remediation_registry/sweep/": {"sweeper"},
    "remediation_registry/checker.py": {"presence"},
    "remediation_registry/announce.py": {"events"},
    "remediation_registry/presence/__init__.py": set(FUNCTIONS),
    "remediation_registry/presence/item.py": set(FUNCTIONS),
    "remediation_registry/presence/store.py": ALL_BUT_EVENTS,
    "remediation_registry/presence/track.py": ALL_BUT_EVENTS,
    "remediation_registry/presence/hooks.py": {"connect", "presence", "sweeper"},
    "remediation_registry/presence/transitions.py": {"connect", "presence", "sweeper"},
    "remediation_registry/presence/valid.py": {"connect", "events", "presence", "sweeper"},
    "remediation_registry/presence/liveness.py": {"presence"},
    "remediation_registry/presence/reconcile.py": {"presence"},
}


def shipped_in(name: str, function: str) -> bool:
    for listed, functions in SHIPPED_BY.items():
        if name == listed or (listed.endswith("/") and name.startswith(listed)):
            return function in functions
    return True


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_committed_zip_holds_exactly_its_functions_stripped_sources(function: str) -> None:
    with zipfile.ZipFile(ROOT / "function" / "dist" / f"{function}.zip") as archive:
        names = archive.namelist()
        sources = [p.relative_to(SRC).as_posix() for p in SOURCES]
        assert names == sorted(name for name in sources if shipped_in(name, function))
        for name in names:
            assert archive.read(name) == build.strip_source((SRC / name).read_bytes())
            info = archive.getinfo(name)
            assert (info.date_time, info.external_attr >> 16) == ((1980, 1, 1, 0, 0, 0), 0o100644)


# What each function imports lazily, beyond lambda_entry's module-level imports: its route's module and
# what that imports (with presence on: the presence modules it calls; `$disconnect` when a DeleteItem
# answer was lost: claims.py).
LAZY = {
    "connect": ["connect", "presence.hooks"],
    "disconnect": ["disconnect", "presence.track", "claims"],
    "events": ["announce"],
    "presence": ["checker"],
    "sweeper": ["sweep.run", "management", "presence.hooks"],
}


def module_name(source: str) -> str:
    """remediation_registry/presence/item.py -> presence.item"""
    return source[len("remediation_registry/") : -len(".py")].replace("/", ".").removesuffix(".__init__")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_zip_imports_everything_its_function_runs_and_nothing_of_the_others(function: str) -> None:
    """In a fresh interpreter with only the zip (and botocore) on the path, as Lambda imports it."""
    sources = [p.relative_to(SRC).as_posix() for p in SOURCES]
    others = [module_name(name) for name in sources if not shipped_in(name, function)]
    package = ROOT / "function" / "dist" / f"{function}.zip"
    code = (
        "import importlib, sys\n"
        f"sys.path[:] = [{str(package)!r}] + [p for p in sys.path if 'function/src' not in p]\n"
        "import remediation_registry.lambda_entry\n"
        f"assert remediation_registry.__file__.startswith({str(package)!r}), remediation_registry.__file__\n"
        f"for module in {LAZY[function]!r}: importlib.import_module('remediation_registry.' + module)\n"
        f"for module in {others!r}:\n"
        "    try:\n"
        "        importlib.import_module('remediation_registry.' + module)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    sys.exit(module + ' should not be in the zip')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr or proc.stdout


def test_the_disconnect_zip_stays_under_16_kib() -> None:
    """BENCHMARKS.md's gate, whatever presence adds: the `$disconnect` package is downloaded per cold start."""
    assert (ROOT / "function" / "dist" / "disconnect.zip").stat().st_size <= 16 * 1024


def imported_modules(path: Path) -> List[str]:
    """Absolute names of every module (or module attribute) a source imports, at any depth of its code."""
    package = list(path.relative_to(SRC).with_suffix("").parts[:-1])
    names: List[str] = []
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_only_lambda_entry_imports_the_dispatcher() -> None:
    """handlers imports the route modules; a module importing handlers back would close an import circle."""
    importers = [
        path.relative_to(SRC).as_posix()
        for path in SOURCES
        if "remediation_registry.handlers" in imported_modules(path) and path.name != "handlers.py"
    ]
    assert importers == ["remediation_registry/lambda_entry.py"]
