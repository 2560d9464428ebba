"""The key store behind the local gateway's AWS_IAM `$connect`: who an access key id belongs to.

API Gateway looks the secret of a SigV4 request's access key up inside AWS. Locally the caller fills a
`CredentialStore` with the credentials it issued: `register(...)` directly, or `assume_role(...)`,
which asks moto's STS for temporary credentials of a role created in moto's IAM (AssumeRole answers
with the secret; moto has no way to read the secret of any other key) and registers them.
"""

from __future__ import annotations

import threading
from typing import Dict, NamedTuple, Optional

from botocore.credentials import Credentials

from scripts.offline import REGION, client


class Principal(NamedTuple):
    """Who signs with an access key: what API Gateway knows about the key after authentication."""

    access_key_id: str
    secret_access_key: str
    session_token: Optional[str]  # temporary credentials (ASIA...): the token the request must carry
    arn: str  # arn:aws:sts::<acct>:assumed-role/<role>/<session> or arn:aws:iam::<acct>:user/<path/name>
    account: str
    caller: str  # "<role id>:<session>" (assumed role) or the user id (IAM user)

    @property
    def credentials(self) -> Credentials:
        """botocore credentials, for a client that signs with this key."""
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)

    @property
    def role_name(self) -> Optional[str]:
        """The role of an assumed-role ARN (`assumed-role/<role>/<session>`: the role's path is not in it)."""
        resource = self.arn.split(":", 5)[5]
        return resource.split("/")[1] if resource.startswith("assumed-role/") else None

    @property
    def user_name(self) -> Optional[str]:
        resource = self.arn.split(":", 5)[5]
        return resource.rsplit("/", 1)[1] if resource.startswith("user/") else None


class CredentialStore:
    """Access key id -> Principal, thread-safe."""

    def __init__(self) -> None:
        self._keys: Dict[str, Principal] = {}
        self._lock = threading.Lock()

    def register(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: Optional[str],
        principal_arn: str,
        account: str,
        caller: Optional[str] = None,
    ) -> Principal:
        """Make a key known. `caller` defaults to what the ARN implies (role session: "<role>:<session>")."""
        if caller is None:
            resource = principal_arn.split(":", 5)[5]
            caller = ":".join(resource.split("/")[1:3]) if resource.startswith("assumed-role/") else resource
        principal = Principal(access_key_id, secret_access_key, session_token, principal_arn, account, caller)
        with self._lock:
            self._keys[access_key_id] = principal
        return principal

    def get(self, access_key_id: str) -> Optional[Principal]:
        with self._lock:
            return self._keys.get(access_key_id)

    def revoke(self, access_key_id: str) -> None:
        with self._lock:
            self._keys.pop(access_key_id, None)


def assume_role(
    store: CredentialStore,
    endpoint: str,
    role_arn: str,
    session_name: str,
    region: str = REGION,
    duration_seconds: int = 3600,
) -> Principal:
    """Temporary credentials of a role from moto's STS (AssumeRole), registered in `store`.

    The AssumedRoleUser moto returns has AWS's forms: Arn `arn:aws:sts::<acct>:assumed-role/<role>/<session>`
    (no role path), AssumedRoleId `<role id>:<session>` (what API Gateway reports as caller and user).
    """
    answer = client("sts", endpoint, region).assume_role(
        RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=duration_seconds
    )
    credentials, user = answer["Credentials"], answer["AssumedRoleUser"]
    account = user["Arn"].split(":")[4]
    return store.register(
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        user["Arn"],
        account,
        caller=user["AssumedRoleId"],
    )
