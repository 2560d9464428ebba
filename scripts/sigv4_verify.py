"""Verify a SigV4-signed WebSocket handshake as API Gateway does for an AWS_IAM `$connect`.

Two forms are accepted (both work against API Gateway: /work/notes/aws-facts.md section 4):
- query signing (a presigned URL): X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
  X-Amz-SignedHeaders, X-Amz-Security-Token (temporary credentials), X-Amz-Signature;
- header signing: Authorization "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...",
  with X-Amz-Date and X-Amz-Security-Token headers.
The credential scope must name the gateway's region and service `execute-api`; the access key must be
in the key store (scripts/ws_credentials.py) with the session token the request carries. The signature
is recomputed by botocore's own signer (SigV4QueryAuth / SigV4Auth: canonical request, string to sign,
HMAC chain) from the request as received, with the stored secret and the request's timestamp, and
compared with hmac.compare_digest: a changed query parameter, path or signed header fails it.
Time: a presigned URL is valid from X-Amz-Date for X-Amz-Expires seconds (1..604800); a signed
header request for MAX_SKEW_SECONDS; either is refused when X-Amz-Date lies more than MAX_SKEW_SECONDS
ahead. Assumed: 5 minutes (AWS documents 5 minutes for some services' signatures and 15 for others,
nothing for execute-api; "Signature expired: ... (... - 5 min.)" is the error users report).
Any failure is a `SignatureRejected`; the gateway answers it with HTTP 403 and invokes nothing.
"""

from __future__ import annotations

import calendar
import hmac
import time
import urllib.parse
from typing import Dict, List, Mapping, Optional, Tuple

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

from scripts.ws_credentials import CredentialStore, Principal

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
MAX_EXPIRES_SECONDS = 604800
QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")


class SignatureRejected(Exception):
    """The handshake's signature does not authenticate it (the reason is for logs, never for the client)."""


def is_signed(target: str, headers: Mapping[str, str]) -> bool:
    query = urllib.parse.urlsplit(target).query
    return "X-Amz-Signature=" in query or any(key.lower() == "authorization" for key in headers)


def _epoch(amz_date: str) -> int:
    try:
        return calendar.timegm(time.strptime(amz_date, SIGV4_TIMESTAMP))
    except ValueError:
        raise SignatureRejected(f"malformed X-Amz-Date {amz_date!r}") from None


def _scope(credential: str, amz_date: str, region: str) -> str:
    """AKID/date/region/service/aws4_request -> the access key id, once every part is right."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureRejected(f"malformed credential scope {credential!r}")
    access_key, date, scope_region, service, _ = parts
    if date != amz_date[:8]:
        raise SignatureRejected("the credential scope's date is not X-Amz-Date's")
    if scope_region != region:
        raise SignatureRejected(f"credential scoped to region {scope_region!r}, the API is in {region!r}")
    if service != SERVICE:
        raise SignatureRejected(f"credential scoped to service {service!r}, not {SERVICE!r}")
    return access_key


def _principal(store: CredentialStore, access_key: str, token: Optional[str]) -> Principal:
    principal = store.get(access_key)
    if principal is None:
        raise SignatureRejected(f"unknown access key {access_key}")
    expected = principal.session_token or ""
    if not hmac.compare_digest((token or "").encode(), expected.encode()):
        raise SignatureRejected("the security token is not the key's")
    return principal


def _request(host: str, path: str, query: List[Tuple[str, str]], headers: Mapping[str, str], signed: str) -> AWSRequest:
    """The request as botocore would have signed it: only the headers the client says it signed."""
    lower = {key.lower(): value for key, value in headers.items()}
    chosen: Dict[str, str] = {}
    for name in signed.split(";"):
        if name not in lower:
            raise SignatureRejected(f"signed header {name!r} is not in the request")
        chosen[name] = lower[name]
    url = f"https://{host}{path}"
    if query:
        url += "?" + percent_encode_sequence(dict(query))  # RFC 3986, as botocore (and SigV4) encode
    return AWSRequest(method="GET", url=url, headers=chosen)


def _compare(signer: SigV4Auth, request: AWSRequest, amz_date: str, signature: str) -> None:
    request.context["timestamp"] = amz_date
    # add_auth() would stamp the current time: run its steps with the client's timestamp instead.
    getattr(signer, "_modify_request_before_signing")(request)  # noqa: B009 - private step of add_auth
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureRejected("signature mismatch")


def verify(
    target: str,
    headers: Mapping[str, str],
    store: CredentialStore,
    region: str,
    now: Optional[float] = None,
) -> Principal:
    """Authenticate a handshake: `target` is the request-target as received ("/stage?..."), `headers` its
    headers (Host included). Returns the principal; raises SignatureRejected."""
    now = time.time() if now is None else now
    split = urllib.parse.urlsplit(target)
    params = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    host = next((value for key, value in headers.items() if key.lower() == "host"), "")
    if any(key == "X-Amz-Signature" for key, _ in params):
        return _verify_query(split.path, params, headers, host, store, region, now)
    authorization = next((value for key, value in headers.items() if key.lower() == "authorization"), None)
    if authorization is not None:
        return _verify_header(split.path, params, headers, host, authorization, store, region, now)
    raise SignatureRejected("the request is not signed")


def _verify_query(
    path: str,
    params: List[Tuple[str, str]],
    headers: Mapping[str, str],
    host: str,
    store: CredentialStore,
    region: str,
    now: float,
) -> Principal:
    auth = {key: value for key, value in params if key.startswith("X-Amz-")}
    missing = [name for name in (*QUERY_AUTH, "X-Amz-Signature") if not auth.get(name)]
    if missing:
        raise SignatureRejected(f"missing {', '.join(missing)}")
    if auth["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureRejected(f"algorithm {auth['X-Amz-Algorithm']!r}")
    amz_date = auth["X-Amz-Date"]
    access_key = _scope(auth["X-Amz-Credential"], amz_date, region)
    try:
        expires = int(auth["X-Amz-Expires"])
    except ValueError:
        raise SignatureRejected("X-Amz-Expires is not a number") from None
    if not 1 <= expires <= MAX_EXPIRES_SECONDS:
        raise SignatureRejected(f"X-Amz-Expires {expires} outside 1..{MAX_EXPIRES_SECONDS}")
    signed_at = _epoch(amz_date)
    if now > signed_at + expires:
        raise SignatureRejected("the presigned URL has expired")
    if signed_at > now + MAX_SKEW_SECONDS:
        raise SignatureRejected("X-Amz-Date is in the future")
    token = auth.get("X-Amz-Security-Token")
    principal = _principal(store, access_key, token)
    rest = [(key, value) for key, value in params if not key.startswith("X-Amz-")]
    request = _request(host, path, rest, headers, auth["X-Amz-SignedHeaders"])
    signer = SigV4QueryAuth(Credentials(access_key, principal.secret_access_key, token), SERVICE, region, expires)
    _compare(signer, request, amz_date, auth["X-Amz-Signature"])
    return principal


def _verify_header(
    path: str,
    params: List[Tuple[str, str]],
    headers: Mapping[str, str],
    host: str,
    authorization: str,
    store: CredentialStore,
    region: str,
    now: float,
) -> Principal:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRejected(f"algorithm {algorithm!r}")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    if not all(fields.get(name) for name in ("Credential", "SignedHeaders", "Signature")):
        raise SignatureRejected("malformed Authorization header")
    lower = {key.lower(): value for key, value in headers.items()}
    amz_date = lower.get("x-amz-date", "")
    access_key = _scope(fields["Credential"], amz_date, region)
    signed_at = _epoch(amz_date)
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise SignatureRejected("X-Amz-Date is too far from now")
    token = lower.get("x-amz-security-token")
    principal = _principal(store, access_key, token)
    request = _request(host, path, params, headers, fields["SignedHeaders"])
    signer = SigV4Auth(Credentials(access_key, principal.secret_access_key, token), SERVICE, region)
    _compare(signer, request, amz_date, fields["Signature"])
    return principal
