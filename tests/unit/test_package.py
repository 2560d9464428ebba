"""The deployment package: what function/build.py puts in the zip is the code of function/src."""

from __future__ import annotations

import ast
import importlib.util
import io
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
                node.body = node.body[1:] or [ast.Expr(ast.Constant(...))]
    return ast.dump(tree)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
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


def test_the_committed_zip_holds_exactly_the_stripped_sources() -> None:
    with zipfile.ZipFile(ROOT / "function" / "dist" / "remediation_disconnect.zip") as archive:
        names = archive.namelist()
        assert names == sorted(p.relative_to(SRC).as_posix() for p in SOURCES)
        for name in names:
            assert archive.read(name) == build.strip_source((SRC / name).read_bytes())
            info = archive.getinfo(name)
            assert (info.date_time, info.external_attr >> 16) == ((1980, 1, 1, 0, 0, 0), 0o100644)
