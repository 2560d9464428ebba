"""lambda_entry: the handler strings' module; the cycle collector is off only while a container starts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import remediation_registry
from remediation_registry import handlers

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
report = {"before": gc.isenabled()}
import remediation_registry.handlers
report["after_package_import"] = gc.isenabled()
from remediation_registry import lambda_entry
report["after_entry_import"] = gc.isenabled()
report["frozen_before"] = gc.get_freeze_count()
try:
    lambda_entry.disconnect({}, None)  # CONNECTIONS_TABLE is unset: the first call raises ConfigError
except Exception as exc:
    report["error"] = type(exc).__name__
report["after_first_call"] = gc.isenabled()
report["frozen_after"] = gc.get_freeze_count()
names = ("connect", "disconnect", "sweep", "presence", "announce")
report["names"] = [getattr(lambda_entry, name).__name__ for name in names]
print(json.dumps(report))
"""


def test_importing_the_package_or_its_handlers_leaves_the_collector_alone() -> None:
    import gc

    assert gc.isenabled()
    assert handlers.disconnect.__module__ == "remediation_registry.handlers"
    assert remediation_registry.__version__


def test_the_entry_module_collects_again_and_freezes_start_up_objects_after_the_first_call() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTIONS_TABLE"}
    env["PYTHONPATH"] = str(ROOT / "function" / "src")
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout.strip().splitlines()[-1])

    assert (report["before"], report["after_package_import"]) == (True, True)
    assert report["after_entry_import"] is False
    assert report["error"] == "ConfigError"  # a broken configuration still says so on the first call
    assert report["after_first_call"] is True
    assert report["frozen_before"] == 0 < report["frozen_after"]
    assert report["names"] == ["connect", "disconnect", "sweep", "presence", "announce"]


def test_the_functions_handler_strings_name_the_entry_module() -> None:
    """Every function of the module (lambda.tf, connect.tf, presence.tf, events.tf) names an entry point
    (lambda_entry wraps the handler of the same name; importing it here would switch the collector off)."""
    module = "".join(path.read_text() for path in sorted(ROOT.glob("*.tf")))
    handler_strings = re.findall(r'handler\s+=\s+"([^"]+)"', module)

    names = ("announce", "connect", "disconnect", "presence", "sweep")
    assert sorted(handler_strings) == [f"remediation_registry.lambda_entry.{name}" for name in names]
    assert all(callable(getattr(handlers, string.rsplit(".", 1)[1])) for string in handler_strings)
