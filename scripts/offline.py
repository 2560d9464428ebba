"""Shared by `make demo`, the end-to-end tests and the benchmarks: run Terraform against a moto server,
read what was deployed, and shape realistic connections and events. The deployed functions run under
AWS's Lambda runtime emulator (scripts/lambda_rie.py) behind the local gateway (scripts/ws_gateway.py).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import boto3

from scripts import standin_tree

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "function" / "dist"
PACKAGE_ZIPS = {function: DIST / f"{function}.zip" for function in ("connect", "disconnect", "sweeper")}
REGION = "us-east-1"
GRACE_SECONDS = 300
MAX_CONNECTION_SECONDS = 7200


class TerraformError(RuntimeError):
    pass


class Terraform:
    """The `terraform` CLI in one working directory, with -var values applied to plan/apply/destroy."""

    def __init__(self, workdir: Path, variables: Optional[Mapping[str, str]] = None, echo: bool = False) -> None:
        self.workdir = workdir
        self.variables = dict(variables or {})
        self.echo = echo
        self.transcript: List[str] = []

    def _vars(self) -> List[str]:
        return [f"-var={key}={value}" for key, value in self.variables.items()]

    def run(self, *args: str, check: bool = True, ok_codes: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        argv = ["terraform", f"-chdir={self.workdir}", *args]
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        took = time.monotonic() - started
        self.transcript.append(f"$ {' '.join(argv)}  ({took:.1f}s, exit {proc.returncode})\n{proc.stdout}{proc.stderr}")
        if self.echo:
            print(f"  terraform {args[0]}: exit {proc.returncode} in {took:.0f}s", flush=True)
        if check and proc.returncode not in ok_codes:
            raise TerraformError(
                f"terraform {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")

    def apply(self) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *self._vars())

    def plan_exit_code(self) -> subprocess.CompletedProcess[str]:
        """`plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error."""
        return self.run("plan", "-detailed-exitcode", "-input=false", "-no-color", *self._vars(), check=False)

    def destroy(self) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", *self._vars())

    def outputs(self) -> Dict[str, Any]:
        raw = json.loads(self.run("output", "-json", "-no-color").stdout)
        return {name: value["value"] for name, value in raw.items()}


TREE_DIRS = ("modules", "function", "examples")


def copy_tree(dest: Path, subdirs: Sequence[str] = TREE_DIRS) -> Path:
    """A copy of the module and its examples (what a fresh clone holds), without working state, as
    hashicorp/aws 3.39.0 can run it: the stand-in tree (scripts/standin_tree.py swaps the files naming
    resource types 3.39.0 lacks for their declared stand-ins, and writes examples/local's override)."""
    return standin_tree.build(dest, subdirs)


def moto_override(endpoint: str, region: str = REGION) -> str:
    """Provider override (Terraform `*_override.tf` semantics) sending every call of an example to moto."""
    # ec2: hashicorp/aws 3.x looks up EC2 platforms at startup (see examples/local/main.tf).
    services = [
        "apigateway",
        "cloudwatch",
        "cloudwatchevents",
        "cloudwatchlogs",
        "dynamodb",
        "ec2",
        "iam",
        "kms",
        "lambda",
        "sns",
        "sqs",
        "sts",
    ]
    lines = "\n".join(f'    {service} = "{endpoint}"' for service in services)
    return f"""provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true

  endpoints {{
{lines}
  }}
}}
"""


def aws_env(endpoint: str, region: str = REGION) -> Dict[str, str]:
    """Environment for boto3 (and the deployed code run locally) to talk to moto only."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


def client(service: str, endpoint: str, region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def committed_zip(code_sha256: str) -> Optional[Path]:
    """The committed function/dist zip whose base64 sha256 is this CodeSha256, if any."""
    manifest = json.loads((DIST / "manifest.json").read_text())
    for package in manifest["packages"].values():
        if package["zip_base64sha256"] == code_sha256:
            return DIST / str(package["zip"])
    return None


def deployed_function(name: str, endpoint: str, region: str = REGION) -> Dict[str, Any]:
    """Environment and code hash of a function as the emulator stores it."""
    config = client("lambda", endpoint, region).get_function_configuration(FunctionName=name)
    return {
        "env": config.get("Environment", {}).get("Variables", {}),
        "code_sha256": config["CodeSha256"],
    }


def now_ms() -> int:
    return int(time.time() * 1000)


def connection_item(
    cid: str,
    client_type: str,
    agent_id: Optional[str] = None,
    connected_at_ms: Optional[int] = None,
    grace_seconds: int = GRACE_SECONDS,
) -> Dict[str, Dict[str, str]]:
    """The item a `$connect` handler writes (see docs/identity.md, "The connection item contract")."""
    connected = now_ms() if connected_at_ms is None else connected_at_ms
    item = {
        "connectionId": {"S": cid},
        "clientType": {"S": client_type},
        "connectedAt": {"N": str(connected)},
        "expiresAt": {"N": str(connected // 1000 + MAX_CONNECTION_SECONDS + grace_seconds)},
    }
    if agent_id is not None:
        item["agentId"] = {"S": agent_id}
    return item


def disconnect_event(
    cid: str,
    api_id: str,
    stage: str,
    connected_at_ms: int,
    status_code: int = 1001,
    reason: str = "Going away",
    request_time_ms: Optional[int] = None,
    region: str = REGION,
) -> Dict[str, Any]:
    """A `$disconnect` event as API Gateway sends it (values as in AWS's documentation)."""
    request_time = now_ms() if request_time_ms is None else request_time_ms
    return {
        "headers": {"Host": f"{api_id}.execute-api.{region}.amazonaws.com", "x-api-key": "", "X-Forwarded-For": ""},
        "multiValueHeaders": {"Host": [f"{api_id}.execute-api.{region}.amazonaws.com"]},
        "requestContext": {
            "routeKey": "$disconnect",
            "disconnectStatusCode": status_code,
            "eventType": "DISCONNECT",
            "extendedRequestId": uuid.uuid4().hex[:16] + "=",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request_time / 1000)),
            "messageDirection": "IN",
            "disconnectReason": reason,
            "stage": stage,
            "connectedAt": connected_at_ms,
            "requestTimeEpoch": request_time,
            "identity": {"userAgent": "remediation-agent/2.4", "sourceIp": "198.51.100.23"},
            "requestId": uuid.uuid4().hex[:16] + "=",
            "domainName": f"{api_id}.execute-api.{region}.amazonaws.com",
            "connectionId": cid,
            "apiId": api_id,
        },
        "isBase64Encoded": False,
    }


def scheduled_event(rule_arn: str, region: str = REGION) -> Dict[str, Any]:
    """The event EventBridge sends for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def scan_table(table: str, endpoint: str, region: str = REGION) -> List[Dict[str, Any]]:
    """Every item, attribute values unwrapped, sorted by connectedAt."""
    dynamodb = client("dynamodb", endpoint, region)
    items: List[Dict[str, Any]] = []
    kwargs: Dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            items.append({key: next(iter(value.values())) for key, value in item.items()})
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: int(item.get("connectedAt", 0)))


def drain_queue(queue_url: str, endpoint: str, region: str = REGION, wait_seconds: float = 3.0) -> List[Dict[str, Any]]:
    """All EventBridge events delivered to an SQS queue (parsed), waiting briefly for stragglers."""
    sqs = client("sqs", endpoint, region)
    events: List[Dict[str, Any]] = []
    deadline = time.monotonic() + wait_seconds
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            if time.monotonic() > deadline:
                return events
            time.sleep(0.2)
