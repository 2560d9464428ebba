#!/usr/bin/env python3
"""Build authorizer.zip (what examples/complete deploys) from the authorizer's sources, reproducibly.

The archive is written by the module's own deterministic zip writer, function/build.py's `build_zip`
(sorted entries, fixed timestamps and modes, comments and docstrings left out with every line kept
in place): the same sources give the same bytes on any machine, so the function's source_code_hash
changes exactly when the code does. It holds the two modules the function imports, nothing else
(mint_token.py and this script stay out).

    python3 examples/complete/authorizer/package.py           # write authorizer.zip
    python3 examples/complete/authorizer/package.py --check   # exit 1 if it is not a rebuild (make package-check)

Standard library only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, List, Tuple

HERE = Path(__file__).resolve().parent
ZIP = HERE / "authorizer.zip"
MODULES = ("connect_authorizer.py", "connect_token.py")
BUILD = HERE.parents[2] / "function" / "build.py"


def _function_build() -> Any:
    spec = importlib.util.spec_from_file_location("remediation_function_build", BUILD)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {BUILD}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files() -> List[Tuple[str, Path]]:
    return sorted(((name, HERE / name) for name in MODULES), key=lambda pair: pair[0].encode())


def build() -> bytes:
    return bytes(_function_build().build_zip(files()))


def main(argv: List[str]) -> int:
    data = build()
    where = ZIP.relative_to(HERE.parents[2])
    if "--check" in argv:
        if not ZIP.is_file() or ZIP.read_bytes() != data:
            print(f"package: {where} is not a rebuild of its sources: run `python3 {Path(__file__).name}` there")
            return 1
        print(f"package: {where} is reproducible ({len(data)} bytes)")
        return 0
    state = "unchanged" if ZIP.is_file() and ZIP.read_bytes() == data else "written"
    if state == "written":
        ZIP.write_bytes(data)
    print(f"package: {where} {state}: {len(MODULES)} files, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
