#!/usr/bin/env python3
"""Build function/dist/remediation_disconnect.zip from function/src, byte for byte reproducibly.

The archive depends only on the sources' paths and bytes: entries sorted, fixed timestamp
(1980-01-01), fixed mode 0644, fixed "made by" system, no directory entries, no __pycache__, no extra
fields, DEFLATE level 9. Two builds of the same sources on any machine give the same bytes, so the
Lambda's source_code_hash changes exactly when the code does.

Beside the zip, dist/manifest.json records the hash of the sources (computed exactly as the module's
HCL computes it) and of the zip. The module compares both at plan time and refuses to plan with a
stale or hand-edited zip, naming `make package`.

Standard library only: `make package` needs nothing but python3.
Usage: build.py [--check]   (--check: exit 1 if the committed zip or manifest differs from a rebuild)
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DIST = HERE / "dist"
ZIP_NAME = "remediation_disconnect.zip"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--


def source_files() -> List[Tuple[str, Path]]:
    """(archive name, path) of every .py under src/, sorted by archive name (byte order)."""
    files = [(path.relative_to(SRC).as_posix(), path) for path in SRC.rglob("*.py") if "__pycache__" not in path.parts]
    return sorted(files, key=lambda pair: pair[0].encode())


def source_hash(files: List[Tuple[str, Path]]) -> str:
    """sha256 over "<name> <sha256 of file>\\n" lines; main.tf computes the same from fileset()."""
    lines = "".join(f"{name} {hashlib.sha256(path.read_bytes()).hexdigest()}\n" for name, path in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def build_zip(files: List[Tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode on every host OS
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def manifest(files: List[Tuple[str, Path]], data: bytes) -> Dict[str, object]:
    return {
        "zip": ZIP_NAME,
        "zip_base64sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "zip_bytes": len(data),
        "source_sha256": source_hash(files),
        "files": [name for name, _ in files],
    }


def main(argv: List[str]) -> int:
    files = source_files()
    if not files:
        print(f"build: no sources under {SRC}", file=sys.stderr)
        return 1
    data = build_zip(files)
    text = json.dumps(manifest(files, data), indent=2) + "\n"
    zip_path, manifest_path = DIST / ZIP_NAME, DIST / "manifest.json"
    if "--check" in argv:
        stale = [
            str(path.relative_to(HERE.parent))
            for path, expected in ((zip_path, data), (manifest_path, text.encode()))
            if not path.is_file() or path.read_bytes() != expected
        ]
        if stale:
            print(f"build: {', '.join(stale)} do(es) not match a rebuild of function/src: run `make package`")
            return 1
        print(f"build: {zip_path.relative_to(HERE.parent)} is reproducible ({len(data)} bytes)")
        return 0
    DIST.mkdir(exist_ok=True)
    changed = not zip_path.is_file() or zip_path.read_bytes() != data
    if changed:
        zip_path.write_bytes(data)
    if not manifest_path.is_file() or manifest_path.read_text() != text:
        manifest_path.write_text(text)
    state = "written" if changed else "unchanged"
    print(f"build: {zip_path.relative_to(HERE.parent)} {state}: {len(files)} files, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
