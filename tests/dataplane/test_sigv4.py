"""SigV4 verification of a WebSocket handshake (scripts/sigv4_verify.py) and the client helper that signs
one (scripts/sigv4_presign.py): what API Gateway accepts for an AWS_IAM `$connect`, and what it refuses."""

from __future__ import annotations

import time
import urllib.parse
from typing import Dict, Tuple

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scripts.sigv4_presign import presign, signed_headers
from scripts.sigv4_verify import SignatureRejected, verify
from scripts.ws_credentials import CredentialStore

HOST = "127.0.0.1:8765"
REGION = "us-east-1"
KEY, SECRET, TOKEN = "ASIAEXAMPLEKEY000001", "secret/with+chars", "session-token-value"


@pytest.fixture
def store() -> CredentialStore:
    keys = CredentialStore()
    keys.register(KEY, SECRET, TOKEN, "arn:aws:sts::123456789012:assumed-role/agent/agent-07", "123456789012")
    return keys


def target_of(url: str) -> Tuple[str, Dict[str, str]]:
    """What the gateway receives for a URL: the request-target and the Host header."""
    split = urllib.parse.urlsplit(url)
    return split.path + ("?" + split.query if split.query else ""), {"Host": split.netloc}


def signed(url: str = f"ws://{HOST}/live?clientType=agent", **overrides: object) -> str:
    options: Dict[str, object] = {"credentials": Credentials(KEY, SECRET, TOKEN), "region": REGION, "expires": 300}
    options.update(overrides)
    return presign(url, options["credentials"], str(options["region"]), int(str(options["expires"])))


def test_a_url_presigned_by_botocore_itself_is_accepted(store: CredentialStore) -> None:
    """SigV4QueryAuth on https://<host>/<stage>, service execute-api, then the ws scheme: as an agent would."""
    request = AWSRequest(method="GET", url=f"https://{HOST}/live")
    SigV4QueryAuth(Credentials(KEY, SECRET, TOKEN), "execute-api", REGION, 300).add_auth(request)
    url = "ws://" + str(request.url).partition("://")[2]
    target, headers = target_of(url)
    assert verify(target, headers, store, REGION).arn.endswith("assumed-role/agent/agent-07")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert set(query) == {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    }


def test_the_helper_keeps_other_query_parameters_signed(store: CredentialStore) -> None:
    target, headers = target_of(signed(f"ws://{HOST}/live?clientType=agent&note=a%20b%2Fc"))
    assert verify(target, headers, store, REGION).access_key_id == KEY


def test_header_signing_is_accepted(store: CredentialStore) -> None:
    url = f"ws://{HOST}/live"
    target, headers = target_of(url)
    headers.update(signed_headers(url, Credentials(KEY, SECRET, TOKEN), REGION))
    assert set(headers) >= {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"}
    assert verify(target, headers, store, REGION).access_key_id == KEY


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (signed(credentials=Credentials(KEY, "not-the-secret", TOKEN)), "signature mismatch"),
        (signed(region="eu-west-1"), "region"),
        (signed(credentials=Credentials("AKIAUNKNOWN000000000", SECRET, TOKEN)), "unknown access key"),
        (signed(credentials=Credentials(KEY, SECRET, None)), "security token"),
        (signed(credentials=Credentials(KEY, SECRET, "another-token")), "security token"),
        (signed() + "&agentId=agent-99", "signature mismatch"),
        (signed().replace("clientType=agent", "clientType=dashboard"), "signature mismatch"),
        (signed().replace("/live?", "/other?"), "signature mismatch"),
        (signed().replace("X-Amz-Expires=300", "X-Amz-Expires=3600"), "signature mismatch"),
        (f"ws://{HOST}/live?clientType=agent", "not signed"),
        (signed().replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"), "algorithm"),
        (signed(expires=0), "X-Amz-Expires"),
        (signed(expires=604801), "X-Amz-Expires"),
    ],
)
def test_refused(store: CredentialStore, url: str, why: str) -> None:
    target, headers = target_of(url)
    with pytest.raises(SignatureRejected, match=why):
        verify(target, headers, store, REGION)


def test_another_service_is_refused(store: CredentialStore) -> None:
    request = AWSRequest(method="GET", url=f"https://{HOST}/live")
    SigV4QueryAuth(Credentials(KEY, SECRET, TOKEN), "apigateway", REGION, 300).add_auth(request)
    target, headers = target_of(str(request.url))
    with pytest.raises(SignatureRejected, match="service 'apigateway'"):
        verify(target, headers, store, REGION)


def test_a_signature_for_another_host_is_refused(store: CredentialStore) -> None:
    target, _ = target_of(signed())
    with pytest.raises(SignatureRejected, match="signature mismatch"):
        verify(target, {"Host": "127.0.0.1:9999"}, store, REGION)


def test_an_expired_url_is_refused(store: CredentialStore) -> None:
    target, headers = target_of(signed(expires=60))
    verify(target, headers, store, REGION, now=time.time() + 59)
    with pytest.raises(SignatureRejected, match="expired"):
        verify(target, headers, store, REGION, now=time.time() + 61)


def test_a_date_too_far_ahead_is_refused(store: CredentialStore) -> None:
    target, headers = target_of(signed())
    verify(target, headers, store, REGION, now=time.time() - 240)  # within the 5-minute skew
    with pytest.raises(SignatureRejected, match="future"):
        verify(target, headers, store, REGION, now=time.time() - 360)


def test_an_old_header_signature_is_refused(store: CredentialStore) -> None:
    url = f"ws://{HOST}/live"
    target, headers = target_of(url)
    headers.update(signed_headers(url, Credentials(KEY, SECRET, TOKEN), REGION))
    with pytest.raises(SignatureRejected, match="too far"):
        verify(target, headers, store, REGION, now=time.time() + 360)


def test_a_revoked_key_is_refused(store: CredentialStore) -> None:
    target, headers = target_of(signed())
    store.revoke(KEY)
    with pytest.raises(SignatureRejected, match="unknown access key"):
        verify(target, headers, store, REGION)
