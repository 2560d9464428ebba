# The seed's `$disconnect` handler exactly as its design document shows it: the baseline of `make bench`.
# Only blank lines differ (ruff format / isort); the code is the document's, line for line. It is zipped
# by bench/run.py and imported from the zip, like the module's own package, so both pay the same
# per-cold-start compilation (a Lambda zip holds sources only).
# mypy: ignore-errors
import os

import boto3

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["CONNECTIONS_TABLE"])


def lambda_handler(event, context):
    conn_id = event["requestContext"]["connectionId"]
    table.delete_item(Key={"connectionId": conn_id})
    return {"statusCode": 200, "body": "disconnected"}
