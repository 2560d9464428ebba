"""examples/complete's `$connect` REQUEST authorizer (examples/complete/authorizer/) against moto's KMS.

Tokens are minted with mint_token.mint (kms:GenerateMac) on a moto HMAC_256 key and checked by the
handler (kms:VerifyMac), exactly as deployed: valid agent and Dashboard tokens; expired, not yet valid
(with the clock skew tolerance on both edges), too long-lived, forged (another key), tampered,
misplaced, missing, ambiguous, oversized and malformed tokens (401, most without a KMS call); a genuine
token for another API (explicit Deny); KMS failing (500, never an Allow); the context carrying only
verified claims under the writer's keys; logs never holding the token; the operators' CLI.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import boto3
import connect_authorizer
import connect_token
import mint_token
import pytest
from botocore.exceptions import ClientError
from connect_token import Claims

from tests.support.environment import REGION

API_ID = "a1b2c3d4e5"
METHOD_ARN = f"arn:aws:execute-api:{REGION}:123456789012:{API_ID}/live/$connect"
NOW = 1_800_000_000
AUTHORIZER_DIR = Path(connect_authorizer.__file__).resolve().parent


class CountingKms:
    """moto's KMS client, counting VerifyMac calls (to prove which refusals cost no KMS request)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.verify_calls = 0

    def verify_mac(self, **kwargs: Any) -> Any:
        self.verify_calls += 1
        return self.client.verify_mac(**kwargs)


@pytest.fixture
def kms(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, Any]]:
    client = boto3.client("kms", region_name=REGION)
    key = client.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    other = client.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("TOKEN_KEY_ID", key)
    monkeypatch.setenv("API_ID", API_ID)
    for name in ("CLIENT_TYPE_KEY", "AGENT_ID_KEY", "AGENT_TOKEN_HEADER", "DASHBOARD_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(time, "time", lambda: float(NOW))  # the clock of both sides
    connect_authorizer.reset()
    counting = CountingKms(client)
    monkeypatch.setattr(connect_authorizer, "kms", lambda: counting)
    yield {"client": client, "key": key, "other": other, "counting": counting}
    connect_authorizer.reset()


def mint(kms: Dict[str, Any], sub: str = "agent-07", typ: str = "agent", **changes: Any) -> str:
    fields: Dict[str, Any] = {"sub": sub, "typ": typ, "aud": API_ID, "iat": NOW - 10, "exp": NOW + 600}
    fields.update(changes)
    key = fields.pop("key", kms["key"])
    if typ == "dashboard" and "exp" not in changes:
        fields["exp"] = fields["iat"] + 120
    return mint_token.mint(kms["client"], key, Claims(**fields))


def event(
    header: Optional[str] = None, query: Optional[Dict[str, List[str]]] = None, method_arn: str = METHOD_ARN
) -> Dict[str, Any]:
    """A WebSocket REQUEST authorizer event as API Gateway sends it (headers in both shapes)."""
    headers = {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com", "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="}
    if header is not None:
        headers["Authorization"] = header
    shaped: Dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": {"connectionId": "L0SM9cOFvHcCIhw=", "requestId": "req-1", "routeKey": "$connect"},
        "stageVariables": {},
    }
    if query:
        shaped["queryStringParameters"] = {key: values[-1] for key, values in query.items()}
        shaped["multiValueQueryStringParameters"] = query
    return shaped


def authorize(shaped: Dict[str, Any]) -> Dict[str, Any]:
    return connect_authorizer.handler(shaped, None)


def refused(shaped: Dict[str, Any]) -> None:
    with pytest.raises(connect_authorizer.Unauthorized) as raised:
        authorize(shaped)
    assert str(raised.value) == "Unauthorized"  # the exact message API Gateway turns into 401


def log_lines(capsys: pytest.CaptureFixture[str]) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def allow(principal: str, context: Dict[str, str]) -> Dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
    return {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": context,
    }


# --- accepted -----------------------------------------------------------------------------------------


def test_agent_token_in_the_header_allows_exactly_this_connect(kms: Dict[str, Any]) -> None:
    answer = authorize(event(header=f"Bearer {mint(kms)}"))
    assert answer == allow("agent-07", {"clientType": "agent", "agentId": "agent-07"})
    assert kms["counting"].verify_calls == 1


def test_dashboard_token_in_the_query_string_gives_a_dashboard_without_agent_id(kms: Dict[str, Any]) -> None:
    token = mint(kms, sub="alice@example.com", typ="dashboard")
    answer = authorize(event(query={"token": [token]}))
    assert answer == allow("alice@example.com", {"clientType": "dashboard"})


def test_context_holds_only_verified_claims_whatever_else_the_request_says(kms: Dict[str, Any]) -> None:
    shaped = event(
        header=f"bearer {mint(kms)}",  # the scheme is case-insensitive
        query={"clientType": ["dashboard"], "agentId": ["agent-99"], "principalId": ["root"]},
    )
    shaped["headers"]["X-Agent-Id"] = "agent-99"
    shaped["requestContext"]["authorizer"] = {"agentId": "agent-99"}
    answer = authorize(shaped)
    assert answer["context"] == {"clientType": "agent", "agentId": "agent-07"}
    assert answer["principalId"] == "agent-07"


def test_context_uses_the_keys_the_writer_is_configured_with(
    kms: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENT_TYPE_KEY", "role")
    monkeypatch.setenv("AGENT_ID_KEY", "agent")
    connect_authorizer.reset()
    answer = authorize(event(header=f"Bearer {mint(kms)}"))
    assert answer["context"] == {"role": "agent", "agent": "agent-07"}


def test_non_ascii_agent_id_survives_intact(kms: Dict[str, Any]) -> None:
    answer = authorize(event(header=f"Bearer {mint(kms, sub='agent-zürich-7')}"))
    assert answer["context"]["agentId"] == "agent-zürich-7"


@pytest.mark.parametrize("offset", [-59, 59])
def test_clock_skew_of_up_to_60_seconds_is_tolerated(kms: Dict[str, Any], offset: int) -> None:
    """A token whose iat is 59 s ahead of Lambda's clock, or whose exp passed 59 s ago, still works."""
    if offset > 0:
        token = mint(kms, iat=NOW + offset, exp=NOW + offset + 600)
    else:
        token = mint(kms, iat=NOW - 600, exp=NOW + offset)
    assert authorize(event(header=f"Bearer {token}"))["principalId"] == "agent-07"


# --- refused: 401 -------------------------------------------------------------------------------------


def test_expired_token_is_unauthorized_without_asking_kms(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    refused(event(header=f"Bearer {mint(kms, iat=NOW - 700, exp=NOW - 60)}"))
    assert kms["counting"].verify_calls == 0
    assert [line["reason"] for line in log_lines(capsys)] == ["expired"]


def test_not_yet_valid_token_is_unauthorized(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    refused(event(header=f"Bearer {mint(kms, iat=NOW + 61, exp=NOW + 600)}"))
    assert [line["reason"] for line in log_lines(capsys)] == ["not_yet_valid"]


@pytest.mark.parametrize(
    ("typ", "lifetime", "where"),
    [("dashboard", 301, "query"), ("agent", 604801, "header")],
)
def test_token_living_longer_than_its_type_allows_is_unauthorized(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str], typ: str, lifetime: int, where: str
) -> None:
    token = mint(kms, typ=typ, iat=NOW - 10, exp=NOW - 10 + lifetime)
    refused(event(header=f"Bearer {token}") if where == "header" else event(query={"token": [token]}))
    assert [line["reason"] for line in log_lines(capsys)] == ["bad_lifetime"]


def test_token_signed_with_another_key_is_unauthorized(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    refused(event(header=f"Bearer {mint(kms, key=kms['other'])}"))
    assert kms["counting"].verify_calls == 1
    assert [line["reason"] for line in log_lines(capsys)] == ["bad_signature"]


def _tamper(token: str, **claims: Any) -> str:
    version, payload, mac = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document.update(claims)
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return f"{version}.{connect_token.b64url(raw)}.{mac}"


@pytest.mark.parametrize(
    "claims",
    [{"sub": "agent-99"}, {"exp": NOW + 3600}, {"aud": "otherapi01"}, {"typ": "dashboard"}],
)
def test_tampered_claims_are_unauthorized(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str], claims: Dict[str, Any]
) -> None:
    token = _tamper(mint(kms, exp=NOW + 110), **claims)  # short-lived: valid as either type
    if claims.get("typ") == "dashboard":
        refused(event(query={"token": [token]}))
    else:
        refused(event(header=f"Bearer {token}"))
    assert [line["reason"] for line in log_lines(capsys)] == ["bad_signature"]


def test_missing_token_is_unauthorized(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    refused(event(query={"clientType": ["agent"], "agentId": ["agent-07"]}))
    assert [line["reason"] for line in log_lines(capsys)] == ["missing"]
    assert kms["counting"].verify_calls == 0


def test_two_tokens_are_unauthorized(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    agent = mint(kms)
    dashboard = mint(kms, sub="alice", typ="dashboard")
    refused(event(header=f"Bearer {agent}", query={"token": [dashboard]}))
    refused(event(query={"token": [dashboard, dashboard]}))
    assert [line["reason"] for line in log_lines(capsys)] == ["ambiguous", "ambiguous"]


def test_tokens_must_be_where_their_type_belongs(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A long-lived agent token never works from a URL (logged along the way); a Dashboard token only does."""
    refused(event(query={"token": [mint(kms)]}))
    refused(event(header=f"Bearer {mint(kms, sub='alice', typ='dashboard')}"))
    assert [line["reason"] for line in log_lines(capsys)] == ["wrong_place", "wrong_place"]
    assert kms["counting"].verify_calls == 0


def test_dashboard_tokens_can_be_turned_off(kms: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_TOKEN_PARAMETER", "")
    connect_authorizer.reset()
    refused(event(query={"token": [mint(kms, sub="alice", typ="dashboard")]}))


def test_oversized_token_is_unauthorized_before_anything_is_decoded(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    token = mint(kms)
    version, payload, mac = token.split(".")
    refused(event(header=f"Bearer {version}.{payload}{'A' * connect_token.MAX_TOKEN_CHARS}.{mac}"))
    assert [line["reason"] for line in log_lines(capsys)] == ["oversized"]
    assert kms["counting"].verify_calls == 0


def _payload(document: Any) -> str:
    return connect_token.b64url(json.dumps(document).encode())


GOOD = {"sub": "agent-07", "typ": "agent", "aud": API_ID, "iat": NOW, "exp": NOW + 60}
MAC = connect_token.b64url(b"\x00" * 32)
DUPLICATE_SUB = connect_token.b64url(b'{"aud":"a1b2c3d4e5","exp":1,"iat":0,"sub":"a","sub":"b","typ":"agent"}')
NOT_UTF8 = connect_token.b64url(b"\xff")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        f"v2.{_payload(GOOD)}.{MAC}",
        f"v1.{_payload(GOOD)}",
        f"v1.{_payload(GOOD)}.{MAC}.extra",
        f"v1.{_payload(GOOD)}=.{MAC}",  # padding
        f"v1.{_payload(GOOD)}.{connect_token.b64url(b'short')}",
        f"v1.{_payload(GOOD)}.{MAC[:-1]}B",  # non-canonical trailing bits
        f"v1.{_payload({**GOOD, 'exp': NOW + 60.5})}.{MAC}",
        f"v1.{_payload({**GOOD, 'iat': True})}.{MAC}",
        f"v1.{_payload({**GOOD, 'admin': True})}.{MAC}",
        f"v1.{_payload({k: v for k, v in GOOD.items() if k != 'aud'})}.{MAC}",
        f"v1.{_payload({**GOOD, 'typ': 'admin'})}.{MAC}",
        f"v1.{_payload({**GOOD, 'sub': ' agent-07'})}.{MAC}",
        f"v1.{_payload({**GOOD, 'sub': 'agent' + chr(10)})}.{MAC}",
        f"v1.{_payload({**GOOD, 'sub': ''})}.{MAC}",
        f"v1.{_payload([GOOD])}.{MAC}",
        f"v1.{DUPLICATE_SUB}.{MAC}",
        f"v1.{NOT_UTF8}.{MAC}",
    ],
)
def test_malformed_tokens_are_unauthorized_without_asking_kms(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str], token: str
) -> None:
    refused(event(header=f"Bearer {token}"))
    assert kms["counting"].verify_calls == 0
    assert [line["reason"] for line in log_lines(capsys)] in (["malformed"], ["missing"])


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "Bearer"])
def test_other_authorization_schemes_are_unauthorized(kms: Dict[str, Any], header: str) -> None:
    refused(event(header=header))


def test_no_method_arn_is_unauthorized(kms: Dict[str, Any]) -> None:
    shaped = event(header=f"Bearer {mint(kms)}")
    del shaped["methodArn"]
    refused(shaped)


# --- denied: 403 --------------------------------------------------------------------------------------


def test_genuine_token_for_another_api_is_denied_explicitly(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    answer = authorize(event(header=f"Bearer {mint(kms, aud='otherapi01')}"))
    assert answer == {
        "principalId": "agent-07",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": METHOD_ARN}],
        },
    }
    [line] = log_lines(capsys)
    assert (line["message"], line["reason"], line["aud"]) == ("token denied", "wrong_audience", "otherapi01")


@pytest.mark.parametrize(
    "method_arn",
    [
        f"arn:aws:execute-api:{REGION}:123456789012:otherapi01/live/$connect",
        f"arn:aws:execute-api:{REGION}:123456789012:{API_ID}/live/sendmessage",
        f"arn:aws:execute-api:{REGION}:123456789012:{API_ID}/*/$connect",
        "not-an-arn",
    ],
)
def test_a_method_arn_other_than_this_apis_connect_is_denied(kms: Dict[str, Any], method_arn: str) -> None:
    answer = authorize(event(header=f"Bearer {mint(kms)}", method_arn=method_arn))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in answer


# --- failing closed: 500 ------------------------------------------------------------------------------


def test_kms_failure_fails_the_handshake_never_allows_it(
    kms: Dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "VerifyMac")

    monkeypatch.setattr(kms["counting"], "verify_mac", throttled)
    with pytest.raises(RuntimeError, match="token check failed"):
        authorize(event(header=f"Bearer {mint(kms)}"))
    [line] = log_lines(capsys)
    assert (line["level"], line["errorType"]) == ("ERROR", "ClientError")


def test_verify_mac_on_a_key_of_the_wrong_kind_fails_closed(
    kms: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    symmetric = kms["client"].create_key()["KeyMetadata"]["Arn"]
    token = mint(kms)
    monkeypatch.setenv("TOKEN_KEY_ID", symmetric)
    connect_authorizer.reset()
    with pytest.raises(RuntimeError):
        authorize(event(header=f"Bearer {token}"))


def test_logs_never_hold_the_token(kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    good, expired = mint(kms), mint(kms, iat=NOW - 700, exp=NOW - 100)
    forged = mint(kms, key=kms["other"])
    authorize(event(header=f"Bearer {good}"))
    for token in (expired, forged):
        refused(event(header=f"Bearer {token}"))
    out = capsys.readouterr().out
    for token in (good, expired, forged):
        assert token not in out
        assert token.split(".")[2] not in out
    accepted = json.loads(out.splitlines()[0])
    assert {key: accepted[key] for key in ("message", "typ", "sub", "place")} == {
        "message": "token accepted",
        "typ": "agent",
        "sub": "agent-07",
        "place": "header",
    }


# --- the operators' CLI ---------------------------------------------------------------------------------


def test_mint_cli_prints_a_token_the_authorizer_accepts(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--key-id", kms["key"], "--audience", API_ID, "--type", "dashboard", "--subject", "alice"]
    assert mint_token.main(argv, kms=kms["client"]) == 0
    token = capsys.readouterr().out.strip()
    assert authorize(event(query={"token": [token]}))["context"] == {"clientType": "dashboard"}


def test_mint_cli_warns_about_a_lifetime_the_authorizer_refuses(
    kms: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--key-id", kms["key"], "--audience", API_ID, "--type", "dashboard", "--subject", "alice", "--ttl", "3600"]
    mint_token.main(argv, kms=kms["client"])
    assert "above the example's default limit" in capsys.readouterr().err


@pytest.mark.parametrize("subject", [" agent-07", "agent\n07", "x" * 257])
def test_mint_cli_refuses_a_subject_the_authorizer_would_refuse(kms: Dict[str, Any], subject: str) -> None:
    argv = ["--key-id", kms["key"], "--audience", API_ID, "--type", "agent", "--subject", subject]
    with pytest.raises(SystemExit) as exited:
        mint_token.main(argv, kms=kms["client"])
    assert exited.value.code == 2


# --- the package ----------------------------------------------------------------------------------------


def test_committed_zip_is_a_rebuild_of_the_sources() -> None:
    """examples/complete deploys authorizer.zip: it must be exactly what package.py builds now."""
    import package  # examples/complete/authorizer/package.py

    committed = (AUTHORIZER_DIR / "authorizer.zip").read_bytes()
    assert committed == package.build(), "authorizer.zip is stale: run python3 examples/complete/authorizer/package.py"
    with zipfile.ZipFile(AUTHORIZER_DIR / "authorizer.zip") as archive:
        assert archive.namelist() == ["connect_authorizer.py", "connect_token.py"]


def test_zip_alone_imports_the_handler(tmp_path: Path) -> None:
    """The zip is all the function has: its handler imports from it with nothing else on the path."""
    code = "import connect_authorizer; print(connect_authorizer.handler.__module__)"
    env = {"PYTHONPATH": str(AUTHORIZER_DIR / "authorizer.zip"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(AUTHORIZER_DIR / 'authorizer.zip')!r}); {code}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "connect_authorizer"
