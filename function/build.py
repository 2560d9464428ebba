#!/usr/bin/env python3
"""Build one zip per function under function/dist from function/src, byte for byte reproducibly.

Each function ships only the modules it can import: the modules every function shares, plus its own
route's (disconnect.py, connect.py, the sweep/ subpackage, checker.py, announce.py: the handlers import
each lazily, inside the only function that uses it) and what only some routes need (events.py, the
API Gateway event parser; claims.py, where identity comes from; identity.py, who is connecting, with its
regular expressions and unicodedata; management.py, the @connections client; the presence/ modules
each function imports). A smaller package is less to download and unpack per cold start, and `$disconnect`'s stays
under 16 KiB (BENCHMARKS.md).

An archive depends only on the sources' paths and bytes: entries sorted, fixed timestamp
(1980-01-01), fixed mode 0644, fixed "made by" system, no directory entries, no __pycache__, no extra
fields, DEFLATE level 9. Comments and docstrings are left out of the archive (a quarter of its
size) with every line kept where it was, so tracebacks point at the right line of function/src.
Two builds of the same sources on any machine give the same bytes, so the
Lambda's source_code_hash changes exactly when the code does.

Beside the zips, dist/manifest.json records the hash of the sources (computed exactly as the module's
HCL computes it) and of each zip. The module compares both at plan time and refuses to plan with a
stale or hand-edited zip, naming `make package`.

Standard library only: `make package` needs nothing but python3.
Usage: build.py [--check]   (--check: exit 1 if a committed zip or the manifest differs from a rebuild)
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import sys
import tokenize
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DIST = HERE / "dist"
PACKAGE = "remediation_registry"
# Modules only some functions import, by function (a name ending in "/" is a subpackage, all of it): a
# module listed here ships only in the zips of the functions that list it; every other module goes into
# every zip. Presence: `$disconnect` ships only what T2 needs (its zip stays under 16 KiB); `$connect`
# and the sweeper add the other transitions, the validation of an item and hooks.py; the checker has all
# of presence/; the announcer only the item's format and its validation.
_T2 = ("presence/__init__.py", "presence/item.py", "presence/store.py", "presence/track.py")
_TRANSITIONS = (*_T2, "presence/hooks.py", "presence/transitions.py", "presence/valid.py")
ONLY = {
    "connect": ("connect.py", "claims.py", "events.py", "identity.py", *_TRANSITIONS),
    "disconnect": ("disconnect.py", "claims.py", "events.py", *_T2),
    "events": ("announce.py", "presence/__init__.py", "presence/item.py", "presence/valid.py"),
    "presence": ("checker.py", "management.py", "presence/"),
    "sweeper": ("management.py", "sweep/", *_TRANSITIONS),
}
FUNCTIONS = tuple(sorted(ONLY))
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--


def source_files() -> List[Tuple[str, Path]]:
    """(archive name, path) of every .py under src/, sorted by archive name (byte order)."""
    files = [(path.relative_to(SRC).as_posix(), path) for path in SRC.rglob("*.py") if "__pycache__" not in path.parts]
    return sorted(files, key=lambda pair: pair[0].encode())


def function_files(files: List[Tuple[str, Path]], function: str) -> List[Tuple[str, Path]]:
    """The sources of one function's zip: those it lists in ONLY, and those no function lists."""
    return [(name, path) for name, path in files if ships_in(name, function)]


def ships_in(name: str, function: str) -> bool:
    listed_by = [f for f, modules in ONLY.items() if any(only_in(name, f"{PACKAGE}/{m}") for m in modules)]
    return not listed_by or function in listed_by


def only_in(name: str, listed: str) -> bool:
    """Whether archive name `name` is the module `listed` names, or lies in the subpackage it names."""
    return name.startswith(listed) if listed.endswith("/") else name == listed


def zip_name(function: str) -> str:
    return f"{function}.zip"


def source_hash(files: List[Tuple[str, Path]]) -> str:
    """sha256 over "<name> <sha256 of file>\\n" lines; main.tf computes the same from fileset()."""
    lines = "".join(f"{name} {hashlib.sha256(path.read_bytes()).hexdigest()}\n" for name, path in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def strip_source(data: bytes) -> bytes:
    """The module without comments and docstrings, every remaining line where it was.

    A quarter of the package is prose: without it the zip stays under 16 KiB. Lines keep their numbers,
    so tracebacks still point at the right line of function/src. A body that was only a docstring
    becomes `...`. The output is the same on Python 3.8 to 3.13.
    """
    lines = data.splitlines(keepends=True)
    spans: List[Tuple[int, int, int, int, bytes]] = []  # rows 1-based, columns in bytes (as ast)
    for node in ast.walk(ast.parse(data)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
                and first.end_col_offset is not None
            ):
                alone = len(node.body) == 1 and not isinstance(node, ast.Module)
                end = (first.end_lineno, first.end_col_offset)
                spans.append((first.lineno, first.col_offset, *end, b"..." if alone else b""))
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        if token.type == tokenize.COMMENT:  # tokenize counts characters: convert to bytes
            (row, col), (end_row, end_col) = token.start, token.end
            spans.append((row, len(token.line[:col].encode()), end_row, len(token.line[:end_col].encode()), b""))
    for row, col, end_row, end_col, replacement in sorted(spans, reverse=True):
        head, tail = lines[row - 1][:col], lines[end_row - 1][end_col:]
        line = head + replacement + tail
        if not tail.strip():
            line = (head + replacement).rstrip() + tail[len(tail.rstrip(b"\r\n")) :]
        lines[row - 1 : end_row] = [line] + [b"\n"] * (end_row - row)
    return b"".join(lines)


def build_zip(files: List[Tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode on every host OS
            info.external_attr = FILE_MODE << 16
            data = strip_source(path.read_bytes())
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def manifest(files: List[Tuple[str, Path]], zips: Dict[str, bytes]) -> Dict[str, object]:
    return {
        "source_sha256": source_hash(files),
        "files": [name for name, _ in files],
        "packages": {
            function: {
                "zip": zip_name(function),
                "zip_base64sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
                "zip_bytes": len(data),
                "files": [name for name, _ in function_files(files, function)],
            }
            for function, data in zips.items()
        },
    }


def build_all(files: List[Tuple[str, Path]]) -> Dict[str, bytes]:
    """Every function's zip, by function name."""
    return {function: build_zip(function_files(files, function)) for function in FUNCTIONS}


def main(argv: List[str]) -> int:
    files = source_files()
    if not files:
        print(f"build: no sources under {SRC}", file=sys.stderr)
        return 1
    zips = build_all(files)
    text = json.dumps(manifest(files, zips), indent=2) + "\n"
    expected = {DIST / zip_name(function): data for function, data in zips.items()}
    expected[DIST / "manifest.json"] = text.encode()
    strays = sorted(path for path in DIST.glob("*.zip") if path not in expected) if DIST.is_dir() else []
    if "--check" in argv:
        stale = [
            str(path.relative_to(HERE.parent))
            for path, data in expected.items()
            if not path.is_file() or path.read_bytes() != data
        ] + [f"{path.relative_to(HERE.parent)} (no function's zip)" for path in strays]
        if stale:
            print(f"build: {', '.join(stale)} do(es) not match a rebuild of function/src: run `make package`")
            return 1
        sizes = ", ".join(f"{zip_name(function)} {len(data)} bytes" for function, data in zips.items())
        print(f"build: function/dist is reproducible ({sizes})")
        return 0
    DIST.mkdir(exist_ok=True)
    for path in strays:
        path.unlink()
        print(f"build: removed {path.relative_to(HERE.parent)} (no function's zip)")
    for path, data in expected.items():
        state = "unchanged"
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            state = "written"
        if path.suffix == ".zip":
            count = len(function_files(files, path.stem))
            print(f"build: {path.relative_to(HERE.parent)} {state}: {count} files, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
