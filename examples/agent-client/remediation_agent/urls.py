"""The URL each connection attempt opens: SigV4-presigned (AWS_IAM `$connect`), or carrying the agent's
identity in the query string (demo stacks only: anyone can claim any id that way).

A presigned URL is made afresh for every attempt (a signature is valid for `expires` seconds and the
credentials may have been refreshed since): botocore's SigV4QueryAuth, service `execute-api`, the
API's region, over the http(s) form of the ws(s) URL with only the host header signed, so any
WebSocket library can open it. API Gateway answers 403 to a missing, wrong or expired signature and
to a principal without `execute-api:Invoke` on `<api>/<stage>/$connect`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Mapping, Optional, Protocol

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.session import Session

SERVICE = "execute-api"
_SIGNING_SCHEME = {"wss": "https", "ws": "http"}
# <api id>.execute-api.<region>.amazonaws.com (and the .com.cn partition)
_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$")


class UrlSource(Protocol):
    """Called once per connection attempt: the URL to open, with `extra` query parameters (the client's
    `downMs` report on a reconnect) inside whatever it signs."""

    def __call__(self, extra: Optional[Mapping[str, str]] = None) -> str: ...


def with_query(url: str, extra: Optional[Mapping[str, str]] = None) -> str:
    """`url` with `extra` appended to its query string (unchanged without)."""
    if not extra:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


def region_of(url: str) -> Optional[str]:
    """The region of an `execute-api` URL; None for a custom domain or a local gateway."""
    host = urllib.parse.urlsplit(url).hostname or ""
    match = _API_HOST.match(host)
    return match.group(1) if match else None


def _checked(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _SIGNING_SCHEME or not parts.netloc:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    return parts


def presign(url: str, credentials: Any, region: str, expires: int = 60) -> str:
    """`url` with SigV4 query authentication (X-Amz-Algorithm, -Credential, -Date, -Expires,
    -SignedHeaders=host, -Security-Token for temporary credentials, -Signature)."""
    parts = _checked(url)
    request = AWSRequest(method="GET", url=parts._replace(scheme=_SIGNING_SCHEME[parts.scheme]).geturl())
    SigV4QueryAuth(credentials, SERVICE, region, expires).add_auth(request)
    return parts.scheme + "://" + str(request.url).partition("://")[2]


class Presigner:
    """A UrlSource that signs `url` with the botocore credential chain (environment, shared config and
    credentials files, SSO, web identity, container and instance metadata, ...), refreshed as botocore
    refreshes temporary credentials. `credentials` overrides the chain (an object with access_key,
    secret_key and token)."""

    def __init__(
        self,
        url: str,
        region: Optional[str] = None,
        *,
        credentials: Any = None,
        profile: Optional[str] = None,
        expires: int = 60,
    ) -> None:
        _checked(url)
        found = region or region_of(url)
        if found is None:
            raise ValueError(f"cannot tell the region from {url!r}: give it (--region)")
        self.url = url
        self.region = found
        self.expires = expires
        self._fixed = credentials
        self._session = None if credentials is not None else Session(profile=profile)

    def _credentials(self) -> Any:
        if self._fixed is not None:
            return self._fixed
        assert self._session is not None  # noqa: S101 - set whenever _fixed is not
        chain = self._session.get_credentials()
        if chain is None:
            raise RuntimeError("no AWS credentials found (botocore's credential chain is empty)")
        return chain.get_frozen_credentials()  # one consistent key, secret and token

    def __call__(self, extra: Optional[Mapping[str, str]] = None) -> str:
        return presign(with_query(self.url, extra), self._credentials(), self.region, self.expires)


def insecure_query_string_url(url: str, client_type: str, agent_id: Optional[str] = None) -> str:
    """`url` with ?clientType=...&agentId=...: identity that a `$connect` configured with
    `connect.identity = "query_string_insecure"` believes. Anyone can send any id: demo stacks only."""
    parts = _checked(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.append(("clientType", client_type))
    if agent_id is not None:
        query.append(("agentId", agent_id))
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


def fixed(url: str) -> UrlSource:
    """A UrlSource that always opens the same URL (plus the attempt's `extra` parameters)."""

    def source(extra: Optional[Mapping[str, str]] = None) -> str:
        return with_query(url, extra)

    return source
