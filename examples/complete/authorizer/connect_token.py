"""The `$connect` token: format, claims and their checks, shared by the authorizer and mint_token.py.

    v1.<payload>.<mac>

- payload: base64url (no padding) of a compact JSON object with exactly these claims:
  `sub` (the agent id, or the Dashboard user), `typ` ("agent" or "dashboard"), `aud` (the WebSocket
  API's id), `iat` and `exp` (epoch seconds, integers).
- mac: base64url (no padding) of HMAC-SHA256 over the ASCII bytes of `v1.<payload>`, computed by AWS
  KMS (GenerateMac) with an HMAC_256 key and checked by KMS (VerifyMac): the key never leaves KMS.

Not a JWT on purpose: one version, one algorithm, no header to negotiate (no "alg": "none", no key
confusion). Everything here is pure (no AWS call) so that both sides and the tests use one definition.
Standard library only; runs on Python 3.8+.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from typing import Any, Dict, NamedTuple, Tuple

VERSION = "v1"
MAC_ALGORITHM = "HMAC_SHA_256"
MAC_BYTES = 32
CLIENT_TYPES = ("agent", "dashboard")
CLAIMS = ("aud", "exp", "iat", "sub", "typ")
MAX_SUBJECT_CHARS = 256
# A whole token, checked before anything is decoded or sent to KMS. A 256-character subject of
# 4-byte characters is 1 KiB of JSON; with the other claims and base64 it stays under 1,600.
MAX_TOKEN_CHARS = 2048


class Claims(NamedTuple):
    sub: str
    typ: str
    aud: str
    iat: int
    exp: int


class TokenError(Exception):
    """The token is unusable; `reason` is one of a small fixed set (logged, never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Strict base64url without padding: any other character, or padding, is malformed."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise TokenError("malformed")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise TokenError("malformed") from error
    if b64url(data) != text:  # non-canonical trailing bits: one token, one spelling
        raise TokenError("malformed")
    return data


def subject_problem(sub: object) -> str:
    """Why `sub` is not a usable identity ("" if it is): 1-256 printable characters, NFC, no surrounding
    whitespace. The module's `$connect` writer applies its own agent id rule again."""
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_SUBJECT_CHARS:
        return "sub must be a string of 1 to 256 characters"
    if sub != sub.strip() or not sub.isprintable():
        return "sub must be printable, without surrounding whitespace"
    if unicodedata.normalize("NFC", sub) != sub:
        return "sub must be NFC-normalized Unicode"
    return ""


def encode_claims(claims: Claims) -> str:
    """The payload part for `claims` (validated as the verifier will)."""
    problem = subject_problem(claims.sub)
    if problem:
        raise ValueError(problem)
    if claims.typ not in CLIENT_TYPES:
        raise ValueError(f"typ must be one of {CLIENT_TYPES}")
    if not claims.aud or claims.exp <= claims.iat:
        raise ValueError("aud must be set and exp must be after iat")
    document = {name: getattr(claims, name) for name in CLAIMS}
    return b64url(json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8"))


def signing_input(payload: str) -> bytes:
    """What the MAC covers: the version and the payload exactly as they appear in the token."""
    return f"{VERSION}.{payload}".encode("ascii")


def assemble(payload: str, mac: bytes) -> str:
    return f"{VERSION}.{payload}.{b64url(mac)}"


def _no_duplicates(pairs: Any) -> Dict[str, Any]:
    document: Dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise TokenError("malformed")
        document[key] = value
    return document


def split(token: str) -> Tuple[bytes, bytes, Claims]:
    """(signing input, MAC, claims) of a well-formed token; raises TokenError("oversized"/"malformed").

    The claims are NOT verified yet: nothing may be trusted before the MAC is."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("oversized")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenError("malformed")
    _, payload, mac_text = parts
    mac = unb64url(mac_text)
    if len(mac) != MAC_BYTES:
        raise TokenError("malformed")
    try:
        document = json.loads(unb64url(payload).decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as error:
        raise TokenError("malformed") from error
    if not isinstance(document, dict) or sorted(document) != list(CLAIMS):
        raise TokenError("malformed")
    times = (document["iat"], document["exp"])
    if any(type(value) is not int for value in times):  # not bool, not float
        raise TokenError("malformed")
    if document["typ"] not in CLIENT_TYPES or not isinstance(document["aud"], str) or subject_problem(document["sub"]):
        raise TokenError("malformed")
    claims = Claims(document["sub"], document["typ"], document["aud"], document["iat"], document["exp"])
    return signing_input(payload), mac, claims


def time_problem(claims: Claims, now: float, skew: int, max_lifetime: int) -> str:
    """ "" if the token is valid at `now`, else "bad_lifetime" / "expired" / "not_yet_valid".

    Valid from iat - skew until exp + skew (skew absorbs clocks of the minting host and of Lambda
    that disagree by up to `skew` seconds); exp - iat must be positive and at most `max_lifetime`, the
    limit for its type (so a long-lived token cannot be minted for the query string, say)."""
    if not 0 < claims.exp - claims.iat <= max_lifetime:
        return "bad_lifetime"
    if now >= claims.exp + skew:
        return "expired"
    if now < claims.iat - skew:
        return "not_yet_valid"
    return ""
