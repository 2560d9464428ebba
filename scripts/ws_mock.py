"""MOCK integrations of a WebSocket API, as the local gateway answers them (nothing is invoked).

From the API Gateway Developer Guide (/work/notes/aws-facts.md section 1):
- a MOCK integration is "a loopback endpoint without invoking any backend";
- its request template (chosen by the integration's TemplateSelectionExpression, falling back to the
  `$default` template) must produce `{"statusCode": NNN}`; that status selects the integration
  response (IntegrationResponseSelectionExpression `${integration.response.statuscode}`): a key
  `/regex/` matched against it, else the `$default` key;
- one-way route (no route response): "no response will be returned over the WebSocket channel";
- two-way route (a `$default` route response): the client receives the selected integration
  response's response template (chosen by its TemplateSelectionExpression, else `$default`).
Assumed where AWS documents nothing: no template at all -> status 200; an integration response with
no matching template -> nothing is sent. Templates are used as written: VTL is not evaluated (a
template that needs it is out of scope for the module's heartbeat, `{"statusCode": 200}`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, NamedTuple, Optional


class IntegrationResponse(NamedTuple):
    key: str  # "$default" or "/regex/"
    templates: Dict[str, str]
    template_selection: Optional[str]


class MockIntegration(NamedTuple):
    request_templates: Dict[str, str]
    template_selection: Optional[str]
    responses: List[IntegrationResponse]

    @classmethod
    def from_api(cls, integration: Dict[str, Any], responses: List[Dict[str, Any]]) -> MockIntegration:
        return cls(
            dict(integration.get("RequestTemplates") or {}),
            integration.get("TemplateSelectionExpression"),
            [
                IntegrationResponse(
                    item["IntegrationResponseKey"],
                    dict(item.get("ResponseTemplates") or {}),
                    item.get("TemplateSelectionExpression"),
                )
                for item in responses
            ],
        )


def selection_value(expression: Optional[str], body: str) -> Optional[str]:
    """A template selection expression's value: `\\$default` / `$default` is the literal "$default";
    `${request.body.a.b}` / `$request.body.a.b` the JSON value at that path; anything else, itself."""
    if expression is None:
        return None
    if expression in ("\\$default", "$default"):
        return "$default"
    match = re.fullmatch(r"\$\{?request\.body\.([\w.]+)\}?", expression)
    if match is None:
        return expression
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in match.group(1).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _template(templates: Dict[str, str], expression: Optional[str], body: str) -> Optional[str]:
    key = selection_value(expression, body)
    if key is not None and key in templates:
        return templates[key]
    return templates.get("$default")


def status_of(mock: MockIntegration, body: str) -> int:
    """The status code the request template makes of the message."""
    template = _template(mock.request_templates, mock.template_selection, body)
    if template is None:
        return 200
    try:
        rendered = json.loads(template)
    except ValueError:
        return 500
    code = rendered.get("statusCode") if isinstance(rendered, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else 500


def reply(mock: MockIntegration, body: str, two_way: bool) -> tuple[int, Optional[str]]:
    """(the integration's status, what the client receives: None for nothing)."""
    status = status_of(mock, body)
    if not two_way:
        return status, None
    chosen: Optional[IntegrationResponse] = None
    for response in mock.responses:
        key = response.key
        if len(key) >= 2 and key.startswith("/") and key.endswith("/") and re.fullmatch(key[1:-1], str(status)):
            chosen = response
            break
    if chosen is None:
        chosen = next((response for response in mock.responses if response.key == "$default"), None)
    if chosen is None:
        return status, None
    return status, _template(chosen.templates, chosen.template_selection, body)
