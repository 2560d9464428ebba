"""The module refuses to plan with a package that does not match its sources, naming `make package`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts.offline import Terraform, copy_tree
from tests.support.servers import moto_server

pytestmark = pytest.mark.e2e

if shutil.which("terraform") is None:
    pytest.skip("terraform is not on PATH: run through `make e2e`", allow_module_level=True)


def plan_output(tree: Path) -> tuple[int, str]:
    with moto_server() as endpoint:
        terraform = Terraform(tree / "examples" / "local", {"aws_endpoint": endpoint})
        terraform.init()
        proc = terraform.plan_exit_code()
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())  # Terraform wraps long messages


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda tree: (tree / "function/src/remediation_registry/events.py").open("a").write("# edit\n"),
            id="source-edited-without-rebuild",
        ),
        pytest.param(
            lambda tree: (tree / "function/dist/disconnect.zip").open("ab").write(b"\0"),
            id="zip-edited-by-hand",
        ),
        pytest.param(
            lambda tree: (tree / "function/src/remediation_registry/extra.py").write_text("X = 1\n"),
            id="source-file-added",
        ),
    ],
)
def test_stale_package_fails_the_plan(tmp_path: Path, tamper: object) -> None:
    tree = copy_tree(tmp_path / "tree")
    tamper(tree)  # type: ignore[operator]
    code, output = plan_output(tree)
    assert code == 1
    assert "does not match the sources" in output
    assert "Run `make package`" in output
