"""The pieces of `make matrix` that need no engine: the OpenTofu variant of the test suites, the shims."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scripts import engines, tofu_tests

REPO = Path(__file__).resolve().parents[2]


def copy_tests(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_tofu_variant_inlines_the_shared_mocks_and_nothing_else(tmp_path: Path) -> None:
    tree = copy_tests(tmp_path)
    changed = tofu_tests.generate(tree, [Path(".")])
    sources = sorted(p.name for p in (REPO / "tests").glob("*.tftest.hcl") if "source =" in p.read_text())
    assert sorted(p.name for p in changed) == sources
    mocks = (REPO / "tests" / "mocks" / "aws.tfmock.hcl").read_text()
    for path in changed:
        text = path.read_text()
        original = (REPO / "tests" / path.name).read_text()
        block = re.search(r'mock_provider "aws" \{.*?\n\}', text, re.DOTALL)
        assert block is not None
        assert re.search(r"^\s*source\s*=", block.group(0), re.MULTILINE) is None
        assert 'mock_resource "aws_lambda_function"' in text
        # everything outside the mock_provider block is untouched
        assert text.split("\n}\n", 1)[1] == original.split("\n}\n", 1)[1]
        assert all(line.strip() in text for line in mocks.splitlines() if line.strip())
    assert (REPO / "tests" / "defaults.tftest.hcl").read_text().count('source = "./tests/mocks"') == 1


def test_tofu_variant_refuses_a_source_it_cannot_inline(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "a.tftest.hcl").write_text('mock_provider "aws" {\n  source = "./tests/nowhere"\n}\n')
    with pytest.raises(tofu_tests.TofuTestsError, match=r"no \*\.tfmock\.hcl"):
        tofu_tests.generate(tmp_path, [Path(".")])
    (tests / "a.tftest.hcl").write_text('mock_provider "aws" {\n  alias  = "x"\n  source = "./tests/mocks"\n}\n')
    with pytest.raises(tofu_tests.TofuTestsError, match="cannot inline"):
        tofu_tests.generate(tmp_path, [Path(".")])


def test_every_engine_is_pinned_by_sha256_and_listed_once() -> None:
    assert engines.TERRAFORM_VERSIONS == ["1.6.6", "1.8.4", "1.10.5", "1.12.2", "1.14.9", "1.15.5"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", wheel.sha256) for wheel in engines.TERRAFORM_WHEELS)
    assert len({wheel.sha256 for wheel in engines.TERRAFORM_WHEELS}) == len(engines.TERRAFORM_WHEELS)
    assert engines.engine_names()[-1] == f"tofu-{engines.TOFU_VERSION}"


def test_versions_tf_floor_is_the_oldest_engine_of_the_matrix() -> None:
    for path in [REPO / "versions.tf", *REPO.glob("modules/*/versions.tf"), *REPO.glob("examples/*/versions.tf")]:
        match = re.search(r'required_version = ">= ([0-9.]+)"', path.read_text())
        assert match is not None, path
        assert match.group(1) == engines.TERRAFORM_VERSIONS[0], path


def test_a_failing_engine_fails_the_matrix_with_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts import matrix

    fake = tmp_path / "terraform-fake"
    fake.write_text("#!/bin/sh\necho 'Error: Unsupported block type' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(engines, "engine_path", lambda name: fake)
    logs = tmp_path / "logs"
    logs.mkdir()
    result = matrix.prove("terraform-1.8.4", tmp_path / "work", logs)
    assert result.cells["validate"] == "FAIL"
    assert result.cells["test"] == "FAIL"
    assert any("Unsupported block type" in failure for failure in result.failures)
    assert "FAIL" in matrix.render([result])
