"""What API Gateway's WebSocket data plane reads and sends, for the local gateway (scripts/ws_gateway.py).

- `Routes.load`: the API's routes and their integrations (Lambda proxy or MOCK, scripts/ws_mock.py),
  authorization type (NONE, CUSTOM with a Lambda REQUEST authorizer, AWS_IAM) and route responses,
  read back from the emulated control plane (apigatewayv2 GetApi / GetRoutes / GetIntegrations /
  GetIntegrationResponses / GetRouteResponses), as the data plane would use them.
- `connect_event` / `message_event` / `disconnect_event`: the Lambda proxy events, shaped as API
  Gateway sends them (AWS docs, "WebSocket API: Lambda proxy integration input format").
- `new_connection_id`: 16 characters of API Gateway's form ("L0SM9cOFvHcCIhw=").
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import time
import urllib.parse
import uuid
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from scripts.offline import REGION, client, now_ms
from scripts.ws_mock import MockIntegration


class GatewaySetupError(RuntimeError):
    """The API cannot be served as configured (unknown API, integration that is not a Lambda, ...)."""


class Route(NamedTuple):
    route_key: str
    function_name: Optional[str]  # the Lambda of an AWS_PROXY integration; None for MOCK
    authorizer_id: Optional[str]
    authorization_type: str = "NONE"  # NONE | CUSTOM | AWS_IAM
    mock: Optional[MockIntegration] = None
    two_way: bool = False  # a route response exists: the integration's answer goes back to the client


class Authorizer(NamedTuple):
    """A REQUEST authorizer: its Lambda and the identity sources that must be present."""

    authorizer_id: str
    function_name: str
    identity_sources: List[str]


class Routes(NamedTuple):
    api_id: str
    selection_expression: str
    routes: Dict[str, Route]
    authorizers: Dict[str, Authorizer]
    account: str
    region: str = REGION
    endpoint: str = ""  # the emulated control plane it was read from (IAM policies are read there too)

    @classmethod
    def load(cls, api_id: str, endpoint: str, region: str = REGION) -> Routes:
        api = client("apigatewayv2", endpoint, region)
        described = api.get_api(ApiId=api_id)
        if described.get("ProtocolType") != "WEBSOCKET":
            raise GatewaySetupError(f"API {api_id} is not a WebSocket API")
        integrations = {item["IntegrationId"]: item for item in api.get_integrations(ApiId=api_id)["Items"]}
        routes: Dict[str, Route] = {}
        authorizers: Dict[str, Authorizer] = {}
        for item in api.get_routes(ApiId=api_id)["Items"]:
            target = item.get("Target", "")
            if not target.startswith("integrations/"):
                raise GatewaySetupError(f"route {item['RouteKey']} has no integration target ({target!r})")
            integration = integrations.get(target.split("/", 1)[1])
            if integration is None:
                raise GatewaySetupError(f"route {item['RouteKey']} targets a missing integration ({target})")
            kind = integration.get("IntegrationType")
            mock: Optional[MockIntegration] = None
            if kind == "MOCK":
                responses = api.get_integration_responses(ApiId=api_id, IntegrationId=integration["IntegrationId"])
                mock = MockIntegration.from_api(integration, responses.get("Items", []))
            elif kind != "AWS_PROXY":
                raise GatewaySetupError(f"route {item['RouteKey']}: only Lambda proxy and MOCK integrations are served")
            authorization = item.get("AuthorizationType") or "NONE"
            authorizer = item.get("AuthorizerId") if authorization == "CUSTOM" else None
            if authorizer is not None and authorizer not in authorizers:
                found = api.get_authorizer(ApiId=api_id, AuthorizerId=authorizer)
                if found.get("AuthorizerType") != "REQUEST":
                    raise GatewaySetupError(f"authorizer {authorizer}: only Lambda REQUEST authorizers are served")
                sources = found.get("IdentitySource") or []
                authorizers[authorizer] = Authorizer(authorizer, function_name(found["AuthorizerUri"]), list(sources))
            two_way = False
            if item.get("RouteResponseSelectionExpression"):
                listed = api.get_route_responses(ApiId=api_id, RouteId=item["RouteId"]).get("Items", [])
                two_way = any(response.get("RouteResponseKey") == "$default" for response in listed)
            routes[item["RouteKey"]] = Route(
                item["RouteKey"],
                None if mock is not None else function_name(integration["IntegrationUri"]),
                authorizer,
                authorization,
                mock,
                two_way,
            )
        account = client("sts", endpoint, region).get_caller_identity()["Account"]
        selection = described.get("RouteSelectionExpression", "$request.body.action")
        return cls(api_id, selection, routes, authorizers, account, region, endpoint)

    def for_message(self, body: str) -> Optional[Route]:
        """Route selection: `$request.body.<field>` of a JSON message, else `$default`."""
        prefix = "$request.body."
        if self.selection_expression.startswith(prefix):
            try:
                value: Any = json.loads(body)
                for part in self.selection_expression[len(prefix) :].split("."):
                    value = value.get(part) if isinstance(value, dict) else None
            except ValueError:
                value = None
            if isinstance(value, str) and value in self.routes and not value.startswith("$"):
                return self.routes[value]
        return self.routes.get("$default")


def function_name(integration_uri: str) -> str:
    """arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations -> name."""
    marker = "/functions/"
    if marker in integration_uri:
        arn = integration_uri.split(marker, 1)[1].rsplit("/invocations", 1)[0]
    else:
        arn = integration_uri
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    raise GatewaySetupError(f"integration URI {integration_uri!r} does not name a Lambda function")


def new_connection_id() -> str:
    """API Gateway's form: 11 random bytes in base64, 16 characters ending in '=' ("L0SM9cOFvHcCIhw=")."""
    return base64.b64encode(os.urandom(11)).decode()


def _request_id() -> str:
    return base64.b64encode(os.urandom(12)).decode()[:16]


class ConnectionInfo(NamedTuple):
    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str
    headers: Dict[str, str]
    query: Dict[str, List[str]]
    authorizer: Optional[Dict[str, Any]]
    identity: Optional[Dict[str, str]] = None  # requestContext.identity of an AWS_IAM-authorized connection


def handshake_info(query: str, headers: Dict[str, str], source_ip: str) -> ConnectionInfo:
    """A new connection: its id and connect time, the handshake's source IP, User-Agent, headers, query."""
    user_agent = next((value for key, value in headers.items() if key.lower() == "user-agent"), "")
    return ConnectionInfo(
        new_connection_id(), now_ms(), source_ip or "127.0.0.1", user_agent, headers, urllib.parse.parse_qs(query), None
    )


def _context(
    info: ConnectionInfo,
    api_id: str,
    stage: str,
    route_key: str,
    event_type: str,
    region: str,
    request_time: Optional[int] = None,
) -> Dict[str, Any]:
    request_time = now_ms() if request_time is None else request_time
    context: Dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": _request_id(),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request_time / 1000)),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": info.connected_at_ms,
        "requestTimeEpoch": request_time,
        "identity": dict(info.identity)
        if info.identity
        else {"userAgent": info.user_agent, "sourceIp": info.source_ip},
        "requestId": _request_id(),
        "domainName": f"{api_id}.execute-api.{region}.amazonaws.com",
        "connectionId": info.connection_id,
        "apiId": api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = dict(info.authorizer)
    return context


def connect_event(info: ConnectionInfo, api_id: str, stage: str, region: str = REGION) -> Dict[str, Any]:
    host = f"{api_id}.execute-api.{region}.amazonaws.com"
    headers = {
        **info.headers,
        "Host": host,
        "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        "X-Forwarded-For": info.source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    event: Dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": _context(info, api_id, stage, "$connect", "CONNECT", region),
        "isBase64Encoded": False,
    }
    if info.query:
        event["queryStringParameters"] = {key: values[-1] for key, values in info.query.items()}
        event["multiValueQueryStringParameters"] = {key: list(values) for key, values in info.query.items()}
    return event


def authorizer_event(info: ConnectionInfo, routes: Routes, stage: str, region: str = REGION) -> Dict[str, Any]:
    """What a Lambda REQUEST authorizer of a WebSocket API's `$connect` receives."""
    event = connect_event(info, routes.api_id, stage, region)
    event["type"] = "REQUEST"
    event["methodArn"] = f"arn:aws:execute-api:{region}:{routes.account}:{routes.api_id}/{stage}/$connect"
    event["stageVariables"] = {}
    return event


def identity_present(source: str, info: ConnectionInfo) -> bool:
    """route.request.header.<name> / route.request.querystring.<name>: is it in the request?"""
    if source.startswith("route.request.header."):
        name = source[len("route.request.header.") :].lower()
        return any(key.lower() == name and value for key, value in info.headers.items())
    if source.startswith("route.request.querystring."):
        return bool(info.query.get(source[len("route.request.querystring.") :]))
    return False


def authorizer_verdict(payload: Any, method_arn: str) -> Optional[Dict[str, Any]]:
    """The context to pass on (with principalId) if the policy allows `method_arn`, else None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("policyDocument"), dict):
        return None
    statements = payload["policyDocument"].get("Statement") or []
    allowed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action")
        resources = statement.get("Resource")
        actions = actions if isinstance(actions, list) else [actions]
        resources = resources if isinstance(resources, list) else [resources]
        if not any(action in ("execute-api:Invoke", "execute-api:*", "*") for action in actions):
            continue
        if not any(isinstance(r, str) and fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return None
        allowed = allowed or statement.get("Effect") == "Allow"
    if not allowed:
        return None
    context = payload.get("context")
    values: Dict[str, Any] = context if isinstance(context, dict) else {}
    # API Gateway passes context values on as strings (numbers and booleans are stringified).
    passed = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    return {**passed, "principalId": str(payload.get("principalId"))}


def run_authorizer(
    routes: Routes, authorizer_id: str, info: ConnectionInfo, stage: str, invoke: Callable[[str, Dict[str, Any]], Any]
) -> Tuple[int, Optional[Dict[str, Any]], Any, Dict[str, Any]]:
    """Run a `$connect` REQUEST authorizer: (HTTP status, context to pass on or None, invocation, event).

    401 without invoking when an identity source is missing, 401 on "Unauthorized", 500 on another
    error, 403 unless its policy allows the route, else 200 with its context."""
    authorizer = routes.authorizers[authorizer_id]
    if not all(identity_present(source, info) for source in authorizer.identity_sources):
        return 401, None, None, {}  # API Gateway does not even call the authorizer
    event = authorizer_event(info, routes, stage, routes.region)
    invocation = invoke(authorizer.function_name, event)
    error = getattr(invocation, "error", None)
    context = None if error else authorizer_verdict(getattr(invocation, "payload", None), event["methodArn"])
    if error:
        status = 401 if error.get("errorMessage") == "Unauthorized" else 500
    else:
        status = 200 if context is not None else 403
    return status, context, invocation, event


def message_event(
    info: ConnectionInfo, api_id: str, stage: str, route_key: str, body: str, region: str = REGION
) -> Dict[str, Any]:
    context = _context(info, api_id, stage, route_key, "MESSAGE", region)
    context["messageId"] = _request_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    info: ConnectionInfo,
    api_id: str,
    stage: str,
    status_code: int,
    reason: str,
    region: str = REGION,
    closed_at: Optional[int] = None,
) -> Dict[str, Any]:
    """`$disconnect`'s event; requestTimeEpoch is the close as the gateway saw it (`closed_at`), however
    long the invocation then waits for a thread (API Gateway stamps the request when the close happens)."""
    headers = {
        "Host": f"{api_id}.execute-api.{region}.amazonaws.com",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    context = _context(info, api_id, stage, "$disconnect", "DISCONNECT", region, closed_at)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def status_of(result: Any) -> int:
    """The HTTP status API Gateway derives from a proxy integration's answer (a failed invoke is 500)."""
    if isinstance(result, Mapping):
        code = result.get("statusCode")
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            return code
    return 500 if result is None else 200
