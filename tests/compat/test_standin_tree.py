"""The stand-in tree (scripts/standin_tree.py) changes exactly the declared files, and each stand-in
carries what the real file does: the same count and, as `terraform_data` input, the same arguments.
So what the offline runs prove about the wiring (counts, the policy document through its output)
holds for the real resource, which `make compat` checks against hashicorp/aws 6.69.1's schema."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any, Dict, Tuple

import hcl2
import pytest

from scripts import standin, standin_tree
from scripts.provider_schema import Schema

ROOT = standin_tree.ROOT


def only_resource(path: Path) -> Tuple[str, str, Dict[str, Any]]:
    """(type, name, arguments) of the one resource a file declares; fails on anything else."""
    parsed = hcl2.load(path.open())
    assert set(parsed) - {"__comments__"} == {"resource"}, (
        f"{path.name} must declare exactly one resource, nothing else"
    )
    [block] = parsed["resource"]
    [(kind, named)] = block.items()
    [(name, arguments)] = named.items()
    return kind.strip('"'), name.strip('"'), {k: v for k, v in arguments.items() if k != "__is_block__"}


@pytest.mark.parametrize("module_file", sorted(standin_tree.SWAPS))
def test_stand_in_carries_the_same_count_and_arguments(module_file: str) -> None:
    stand_in_file, why = standin_tree.SWAPS[module_file]
    kind, _, arguments = only_resource(ROOT / module_file)
    stand_in_kind, _, stand_in = only_resource(ROOT / stand_in_file)
    assert kind.startswith("aws_")
    assert kind in why, "the swap says which resource type 3.39.0 lacks"
    assert stand_in_kind == "terraform_data"
    assert stand_in["count"] == arguments.pop("count")
    assert stand_in["input"] == arguments, "the stand-in's input must be the real resource's arguments"


@pytest.mark.parametrize("module_file", sorted(standin_tree.SWAPS))
def test_both_files_say_what_is_swapped_and_why(module_file: str) -> None:
    stand_in_file, _ = standin_tree.SWAPS[module_file]
    real, stand_in = (ROOT / module_file).read_text(), (ROOT / stand_in_file).read_text()
    assert stand_in_file in real
    assert "3.39.0" in real
    assert stand_in.startswith(f"# OFFLINE STAND-IN for ../{module_file}")
    assert "3.39.0" in stand_in


@pytest.mark.parametrize("module_file", sorted(standin_tree.SWAPS))
def test_the_real_resource_exists_in_the_newest_provider(module_file: str, schema: Schema) -> None:
    kind, _, arguments = only_resource(ROOT / module_file)
    resource = schema.root("resource", kind)
    assert resource is not None, f"{kind} is not in {schema.label}"
    assert set(arguments) - {"count"} <= set(resource)


def test_the_tree_differs_from_the_repository_only_by_the_swaps(tmp_path: Path) -> None:
    tree = standin_tree.build(tmp_path / "tree")
    for path in ROOT.glob("*.tf"):
        source = ROOT / standin_tree.SWAPS[path.name][0] if path.name in standin_tree.SWAPS else path
        assert filecmp.cmp(source, tree / path.name, shallow=False), path.name
    built = {p.relative_to(tree) for p in tree.rglob("*") if p.is_file()}
    expected = set(standin_tree.tree_files()) | {Path("examples/local") / standin.EXAMPLE_OVERRIDE_NAME}
    assert built == expected
    assert not (tree / standin_tree.STANDIN_DIR).exists(), "stand-in files replace module files; they are not copied"


def test_the_shared_tree_follows_the_repository(tmp_path: Path) -> None:
    dest = tmp_path / "shared"
    standin_tree.sync(dest)
    (dest / ".terraform").mkdir()
    (dest / ".terraform" / "kept").write_text("working state")
    (dest / "removed_from_the_repository.tf").write_text("# gone\n")
    standin_tree.sync(dest)
    assert (dest / ".terraform" / "kept").read_text() == "working state"
    assert not (dest / "removed_from_the_repository.tf").exists()
    for module_file, (stand_in_file, _) in standin_tree.SWAPS.items():
        assert (dest / module_file).read_text() == (ROOT / stand_in_file).read_text()
