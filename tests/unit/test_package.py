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
from typing import Any, List, Optional

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


# The function whose zip alone ships a source (a name ending in "/": everything in that subpackage).
ONLY_IN = {
    "remediation_registry/connect.py": "connect",
    "remediation_registry/disconnect.py": "disconnect",
    "remediation_registry/identity.py": "connect",
    "remediation_registry/management.py": "sweeper",
    "remediation_registry/sweep/": "sweeper",
}


def shipped_by(name: str) -> Optional[str]:
    for listed, function in ONLY_IN.items():
        if name == listed or (listed.endswith("/") and name.startswith(listed)):
            return function
    return None


@pytest.mark.parametrize("function", ["connect", "disconnect", "sweeper"])
def test_each_committed_zip_holds_exactly_its_functions_stripped_sources(function: str) -> None:
    with zipfile.ZipFile(ROOT / "function" / "dist" / f"{function}.zip") as archive:
        names = archive.namelist()
        sources = [p.relative_to(SRC).as_posix() for p in SOURCES]
        assert names == sorted(name for name in sources if shipped_by(name) in (None, function))
        for name in names:
            assert archive.read(name) == build.strip_source((SRC / name).read_bytes())
            info = archive.getinfo(name)
            assert (info.date_time, info.external_attr >> 16) == ((1980, 1, 1, 0, 0, 0), 0o100644)


# What each function imports lazily, beyond lambda_entry's module-level imports: its route's module,
# agents.py (the $disconnect handler with agent tracking on; the sweeper imports it at module level) and
# claims.py (the $disconnect handler when a DeleteItem answer was lost; connect.py imports it at once).
LAZY = {
    "connect": ["connect"],
    "disconnect": ["disconnect", "agents", "claims"],
    "sweeper": ["sweep.run", "management", "agents"],
}


def module_name(listed: str) -> str:
    """An entry of build.ONLY as the module's name: "connect.py" -> "connect", "sweep/" -> "sweep"."""
    return listed[: -len(".py")] if listed.endswith(".py") else listed.rstrip("/")


@pytest.mark.parametrize("function", ["connect", "disconnect", "sweeper"])
def test_each_zip_imports_everything_its_function_runs_and_nothing_of_the_others(function: str) -> None:
    """In a fresh interpreter with only the zip (and botocore) on the path, as Lambda imports it."""
    others = [module_name(module) for name, modules in build.ONLY.items() if name != function for module in modules]
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
