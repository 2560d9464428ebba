"""Sign a WebSocket URL for an API Gateway `$connect` with AWS_IAM authorization (botocore only).

A real agent can use this as it is:

    from botocore.session import Session
    url = presign("wss://abc123.execute-api.eu-west-1.amazonaws.com/live",
                  Session().get_credentials(), "eu-west-1")
    websockets.sync.client.connect(url)

`presign` adds SigV4 query authentication (botocore's SigV4QueryAuth, service `execute-api`): signed
on the http(s) form of the URL, then given back its ws(s) scheme; only the host header is signed, so
any WebSocket client can open it. `signed_headers` gives the header form instead (Authorization,
X-Amz-Date, X-Amz-Security-Token), for clients that can add headers to the handshake.
"""

from __future__ import annotations

from typing import Any, Dict

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest

SERVICE = "execute-api"
_SIGNING_SCHEME = {"wss": "https", "ws": "http", "https": "https", "http": "http"}


def _signable(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _SIGNING_SCHEME:
        raise ValueError(f"not a ws://, wss://, http:// or https:// URL: {url!r}")
    return f"{_SIGNING_SCHEME[scheme]}://{rest}"


def presign(url: str, credentials: Any, region: str, expires: int = 300) -> str:
    """The URL with X-Amz-* query authentication, valid for `expires` seconds (botocore credentials)."""
    request = AWSRequest(method="GET", url=_signable(url))
    SigV4QueryAuth(credentials, SERVICE, region, expires).add_auth(request)
    scheme = url.partition("://")[0]
    return scheme + "://" + str(request.url).partition("://")[2]


def signed_headers(url: str, credentials: Any, region: str) -> Dict[str, str]:
    """Headers that sign the handshake of `url` (its host is signed too: connect to exactly this URL)."""
    request = AWSRequest(method="GET", url=_signable(url))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return {key: str(value) for key, value in request.headers.items() if key.lower() != "host"}
