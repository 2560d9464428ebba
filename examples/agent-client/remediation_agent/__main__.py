"""python -m remediation_agent URL (--iam | --insecure-query-string-identity --agent-id ID) [options]"""

import sys

from remediation_agent.cli import main

sys.exit(main())
