"""ServiceAccount tokens: JWTs the cluster issues (TokenRequest) and verifies on each request.

The signing key (EC P-256, ES256) is generated at first start and kept in the data dir.
A token is accepted while it is unexpired, names this issuer, is meant for one of the
accepted audiences, and its ServiceAccount still exists with the same uid (deleting the
ServiceAccount revokes every token issued for it). Signatures are verified once per token
(a bounded cache); the claims and the ServiceAccount are checked on every use.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import ECKey

from luban.auth.user import AUTHENTICATED_GROUP, UserInfo
from luban.embedded.store import Store
from luban.files import write_private

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
ALGORITHM = "ES256"
KEY_FILE = "service-account.key"
SERVICE_ACCOUNTS = "/serviceaccounts"
USER_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
CACHE_LIMIT = 4096
MAX_JWT_LENGTH = 8192


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups every ServiceAccount of ``namespace`` is in."""
    return (ALL_GROUP, f"{ALL_GROUP}:{namespace}", AUTHENTICATED_GROUP)


def load_or_create_key(path: Path) -> ECKey:
    """The signing key stored at ``path``, generated (and stored privately) when missing."""
    if path.exists():
        return ECKey.import_key(path.read_bytes())
    key = ECKey.generate_key("P-256")
    write_private(path, key.as_pem(private=True))
    return key


def _key_id(key: ECKey) -> str:
    # Like kube-apiserver: the unpadded base64url SHA-256 of the DER public key.
    der = key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class _Claims:
    issuer: str
    audiences: tuple[str, ...]
    expires: float
    not_before: float
    namespace: str
    name: str
    uid: str
    token_id: str


def _claims(raw: dict[str, Any]) -> _Claims | None:
    k8s = raw.get("kubernetes.io")
    if not isinstance(k8s, dict):
        return None
    account = k8s.get("serviceaccount")
    if not isinstance(account, dict):
        return None
    audiences = raw.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    exp, nbf = raw.get("exp"), raw.get("nbf", 0)
    values = (raw.get("iss"), k8s.get("namespace"), account.get("name"), account.get("uid"))
    if not all(isinstance(v, str) for v in values):
        return None
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        return None
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        return None
    issuer, namespace, name, uid = (str(v) for v in values)
    return _Claims(
        issuer,
        tuple(audiences),
        float(exp),
        float(nbf),
        namespace,
        name,
        uid,
        str(raw.get("jti", "")),
    )


class ServiceAccountTokens:
    """Issues and verifies ServiceAccount JWTs for one cluster."""

    def __init__(self, key: ECKey, store: Store, audiences: Sequence[str] = API_AUDIENCES) -> None:
        self.key = key
        self.store = store
        self.audiences = tuple(audiences)
        self._kid = _key_id(key)
        self._verified: dict[str, _Claims] = {}

    def issue(
        self, namespace: str, name: str, uid: str, audiences: Sequence[str], seconds: int
    ) -> tuple[str, float]:
        """A signed token for a ServiceAccount; returns it and its expiry (epoch seconds)."""
        now = int(time.time())
        expires = now + seconds
        claims = {
            "aud": list(audiences),
            "exp": expires,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "nbf": now,
            "sub": f"{USER_PREFIX}{namespace}:{name}",
        }
        token = jwt.encode({"alg": ALGORITHM, "kid": self._kid}, claims, self.key)
        return token, float(expires)

    def _verify_signature(self, token: str) -> _Claims | None:
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        if len(token) > MAX_JWT_LENGTH or token.count(".") != 2:
            return None
        try:
            decoded = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        except Exception:  # any malformed token is just not ours (joserfc raises many types)
            return None
        if decoded.header.get("alg") != ALGORITHM:
            return None
        claims = _claims(decoded.claims)
        if claims is None:
            return None
        if len(self._verified) >= CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def authenticate(
        self, token: str, audiences: Sequence[str] | None = None
    ) -> tuple[UserInfo, tuple[str, ...]] | None:
        """The ServiceAccount a token stands for and the audiences it was accepted for."""
        claims = self._verify_signature(token)
        if claims is None or claims.issuer != ISSUER:
            return None
        now = time.time()
        if now >= claims.expires or now < claims.not_before:
            self._verified.pop(token, None)
            return None
        wanted = self.audiences if audiences is None else tuple(audiences)
        accepted = tuple(a for a in wanted if a in claims.audiences)
        if not accepted:
            return None
        account = self.store.get(SERVICE_ACCOUNTS, claims.namespace, claims.name)
        if account is None or account.obj["metadata"].get("uid") != claims.uid:
            return None
        if account.obj["metadata"].get("deletionTimestamp"):
            return None
        extra: dict[str, tuple[str, ...]] = (
            {CREDENTIAL_ID: (f"JTI={claims.token_id}",)} if claims.token_id else {}
        )
        user = UserInfo(
            name=f"{USER_PREFIX}{claims.namespace}:{claims.name}",
            uid=claims.uid,
            groups=service_account_groups(claims.namespace),
            extra=extra,
        )
        return user, accepted
