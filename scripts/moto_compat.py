"""`moto_server`, answering as AWS does where moto's answer differs only in form and Terraform's offline
stand-in provider (hashicorp/aws 3.39.0) compares answers literally.

- SQS GetQueueAttributes RedrivePolicy: AWS returns compact JSON
  (`{"deadLetterTargetArn":"arn:...","maxReceiveCount":10}`, as in the AWS CLI reference's
  get-queue-attributes example); moto re-serialises it with Python's default ", " / ": " separators.
  3.39.0 stores the answer as is and compares it with its compact normalisation of the configuration,
  so every plan after an apply would propose a whitespace-only change to a queue with a dead-letter
  queue (hashicorp/aws >= 5 compares the two as JSON).

Usage: as `moto_server` (same arguments); tests/support/servers.py starts it so.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict

from moto.server import main
from moto.sqs.models import Queue

_attributes = Queue.attributes


def _compact_redrive_policy(self: Queue) -> Dict[str, Any]:
    result: Dict[str, Any] = _attributes.fget(self)  # type: ignore[attr-defined]
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
    return result


Queue.attributes = property(_compact_redrive_policy)  # type: ignore[assignment,method-assign]

if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]
