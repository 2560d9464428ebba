"""Connection URLs: SigV4 query signing (execute-api) and the insecure query-string identity."""

from __future__ import annotations

import urllib.parse
from typing import Dict

import pytest
from botocore.credentials import Credentials

from remediation_agent.client import _redacted
from remediation_agent.urls import Presigner, fixed, insecure_query_string_url, presign, region_of, with_query

API = "wss://abc123defg.execute-api.eu-west-1.amazonaws.com/live"


def query(url: str) -> Dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (API, "eu-west-1"),
        ("wss://x1.execute-api.us-gov-west-1.amazonaws.com/prod", "us-gov-west-1"),
        ("wss://x1.execute-api.cn-north-1.amazonaws.com.cn/prod", "cn-north-1"),
        ("wss://agents.example.com/live", None),
        ("ws://127.0.0.1:8080/live", None),
    ],
)
def test_region_comes_from_an_execute_api_host_only(url: str, region: str) -> None:
    assert region_of(url) == region


def test_presigned_url_carries_sigv4_query_authentication_for_execute_api() -> None:
    signed = presign(API, Credentials("AKIDEXAMPLE", "secret"), "eu-west-1", expires=60)
    parts = urllib.parse.urlsplit(signed)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "wss",
        "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "/live",
    )
    params = query(signed)
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert params["X-Amz-Credential"].endswith("/eu-west-1/execute-api/aws4_request")
    assert (params["X-Amz-Expires"], params["X-Amz-SignedHeaders"]) == ("60", "host")
    assert len(params["X-Amz-Signature"]) == 64
    assert "X-Amz-Security-Token" not in params


def test_temporary_credentials_add_their_session_token() -> None:
    signed = presign(API, Credentials("ASIAEXAMPLE", "secret", "the-token"), "eu-west-1")
    assert query(signed)["X-Amz-Security-Token"] == "the-token"


def test_presigner_signs_afresh_with_the_region_of_the_url() -> None:
    presigner = Presigner(API, credentials=Credentials("AKIDEXAMPLE", "secret"))
    assert presigner.region == "eu-west-1"
    assert "/eu-west-1/execute-api/" in query(presigner())["X-Amz-Credential"]


def test_presigner_needs_a_region_it_cannot_read_from_the_url() -> None:
    with pytest.raises(ValueError, match="--region"):
        Presigner("wss://agents.example.com/live", credentials=Credentials("a", "b"))
    assert Presigner("wss://agents.example.com/live", "us-east-2", credentials=Credentials("a", "b")).region == (
        "us-east-2"
    )


@pytest.mark.parametrize("url", ["https://abc.execute-api.eu-west-1.amazonaws.com/live", "abc/live", "wss://"])
def test_only_websocket_urls_are_signed(url: str) -> None:
    with pytest.raises(ValueError, match="ws://"):
        presign(url, Credentials("a", "b"), "eu-west-1")


def test_query_string_identity_is_appended_to_the_query() -> None:
    url = insecure_query_string_url(API + "?v=2", "agent", "agent-07 ü")
    assert query(url) == {"v": "2", "clientType": "agent", "agentId": "agent-07 ü"}
    assert query(insecure_query_string_url(API, "dashboard")) == {"clientType": "dashboard"}


def test_logs_never_show_a_signature() -> None:
    signed = presign(API, Credentials("AKIDEXAMPLE", "secret", "token"), "eu-west-1")
    assert _redacted(signed) == API


def test_the_reconnect_report_is_signed_with_the_rest_of_the_query() -> None:
    """downMs goes into the URL before signing: added after, it would void the signature (API Gateway: 403)."""
    presigner = Presigner(API, credentials=Credentials("AKIDEXAMPLE", "secret"))
    params = query(presigner({"downMs": "31250"}))
    assert params["downMs"] == "31250"
    assert len(params["X-Amz-Signature"]) == 64
    assert "downMs" not in query(presigner())


def test_extra_parameters_are_appended_to_a_fixed_or_identity_url() -> None:
    url = insecure_query_string_url(API, "agent", "agent-07")
    assert query(fixed(url)({"downMs": "12"})) == {"clientType": "agent", "agentId": "agent-07", "downMs": "12"}
    assert fixed(url)() == url == with_query(url, {})
