"""OpenTofu variant of the module's test suites, generated from the very files Terraform runs.

Terraform's `mock_provider "aws" { source = "./tests/mocks" }` reads shared `*.tfmock.hcl` files;
OpenTofu's mock_provider has no `source` argument (`tofu init` stops at it). Both engines accept the
same `mock_resource` / `mock_data` blocks written inline, so for OpenTofu each such block is rewritten
in a *copy* of the tree, with the contents of the referenced directory's `*.tfmock.hcl` inlined. The
files in tests/ stay the one source of truth: nothing here is kept by hand.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import List

# `mock_provider "aws" {` + only a `source = "..."` line + `}` (any alias line makes it ours no more).
_SOURCED = re.compile(r'mock_provider\s+"(?P<name>[A-Za-z0-9_-]+)"\s*\{\s*source\s*=\s*"(?P<source>[^"]+)"\s*\}')
_ANY_SOURCE = re.compile(r"^\s*source\s*=", re.MULTILINE)


class TofuTestsError(RuntimeError):
    pass


def inline_mocks(test_file: Path, module_dir: Path) -> bool:
    """Rewrite one `*.tftest.hcl` in place; True when it had a sourced mock_provider."""
    text = test_file.read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        mocks_dir = (module_dir / match.group("source")).resolve()
        files = sorted(mocks_dir.glob("*.tfmock.hcl"))
        if not files:
            raise TofuTestsError(f"{test_file}: mock_provider source {match.group('source')} has no *.tfmock.hcl")
        body = "\n".join(f"# from {f.name}\n{f.read_text(encoding='utf-8').strip()}" for f in files)
        return f'mock_provider "{match.group("name")}" {{\n{textwrap.indent(body, "  ")}\n}}'

    rewritten = _SOURCED.sub(inline, text)
    leftover = [m.group(0) for m in re.finditer(r'mock_provider\s+"[^"]+"\s*\{[^}]*\}', rewritten)]
    if any(_ANY_SOURCE.search(block) for block in leftover):
        raise TofuTestsError(f"{test_file}: a mock_provider with `source` this generator cannot inline")
    if rewritten != text:
        test_file.write_text(rewritten, encoding="utf-8")
        return True
    return False


def generate(tree: Path, module_dirs: List[Path]) -> List[Path]:
    """Inline the mocks of every test file of the given module directories (paths inside `tree`)."""
    changed: List[Path] = []
    for module_dir in module_dirs:
        for test_file in sorted((tree / module_dir / "tests").glob("*.tftest.hcl")):
            if inline_mocks(test_file, tree / module_dir):
                changed.append(test_file)
    return changed
