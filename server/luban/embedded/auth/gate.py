"""The per-request check of the embedded cluster: authenticate, impersonate, authorize.

``ClusterSecurity`` owns the authenticators, the RBAC authorizer, the aggregation
controller and the token file watcher; ``ClusterApp`` asks it about every request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from luban.auth.bearer import bearer_token
from luban.auth.user import MASTERS_GROUP, UserInfo
from luban.embedded.auth.aggregation import AggregationController
from luban.embedded.auth.authn import ANONYMOUS_USER, Authenticator
from luban.embedded.auth.bootstrap import cluster_role_bindings, cluster_roles
from luban.embedded.auth.rbac import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, RBACAuthorizer
from luban.embedded.auth.reviews import Reviews
from luban.embedded.auth.rules import Attributes, forbidden
from luban.embedded.auth.serviceaccounts import (
    KEY_FILE,
    ServiceAccountTokens,
    load_or_create_key,
)
from luban.embedded.auth.tokens import TokenFile
from luban.embedded.impersonation import impersonated_user
from luban.embedded.store import Store, Write
from luban.kube.errors import APIError
from luban.kube.requestinfo import RequestInfo, parse_request_info

TOKEN_AUTH_FILE = "tokens.csv"  # noqa: S105 - a file name, not a secret
USER_KEY = "luban.user"
_SA_PREFIX = "system:serviceaccount:"
_AUTHENTICATION = "authentication.k8s.io"


def unauthorized() -> APIError:
    """The 401 every unknown, malformed or expired credential gets."""
    return APIError(401, "Unauthorized", "Unauthorized")


def _impersonation_checks(headers: list[tuple[bytes, bytes]], user: UserInfo) -> list[Attributes]:
    """What the caller must be allowed to ``impersonate`` for the requested identity."""
    checks: list[Attributes] = []
    if user.name.startswith(_SA_PREFIX) and user.name.count(":") == 3:
        namespace, name = user.name[len(_SA_PREFIX) :].split(":", 1)
        checks.append(Attributes("impersonate", True, "", "serviceaccounts", "", namespace, name))
    else:
        checks.append(Attributes("impersonate", True, "", "users", name=user.name))
    for key, value in headers:
        if key == b"impersonate-group":
            group = value.decode("utf-8", "replace")
            checks.append(Attributes("impersonate", True, "", "groups", name=group))
        elif key == b"impersonate-uid":
            uid = value.decode("utf-8", "replace")
            checks.append(Attributes("impersonate", True, _AUTHENTICATION, "uids", name=uid))
        elif key.startswith(b"impersonate-extra-"):
            extra = unquote(key[len(b"impersonate-extra-") :].decode("latin-1")).lower()
            checks.append(
                Attributes(
                    "impersonate",
                    True,
                    _AUTHENTICATION,
                    "userextras",
                    extra,
                    name=value.decode("utf-8", "replace"),
                )
            )
    return checks


class ClusterSecurity:
    """Authentication, impersonation and RBAC authorization for one embedded cluster."""

    def __init__(self, store: Store, state_dir: Path, admin_token: str) -> None:
        self.store = store
        self.state_dir = state_dir
        self.rbac = RBACAuthorizer(store)
        self.aggregation = AggregationController(store)
        self.token_file = TokenFile(state_dir / TOKEN_AUTH_FILE)
        self._admin_token = admin_token
        self.authenticator: Authenticator | None = None
        self.reviews: Reviews | None = None

    async def start(self) -> None:
        """Load keys and tokens, create the bootstrap policy, start the controllers."""
        key = await asyncio.to_thread(load_or_create_key, self.state_dir / KEY_FILE)
        tokens = ServiceAccountTokens(key, self.store)
        self.authenticator = Authenticator(self._admin_token, self.token_file, tokens)
        self.reviews = Reviews(self.store, self.rbac, self.authenticator)
        await self._bootstrap()
        await self.token_file.start()
        await self.aggregation.start()

    async def stop(self) -> None:
        """Stop the controllers and the token file watcher."""
        await self.aggregation.stop()
        await self.token_file.stop()
        self.rbac.close()

    async def _bootstrap(self) -> None:
        writes = [
            Write(kind, "", obj["metadata"]["name"], obj)
            for kind, objects in (
                (CLUSTER_ROLES, cluster_roles()),
                (CLUSTER_ROLE_BINDINGS, cluster_role_bindings()),
            )
            for obj in objects
            if self.store.get(kind, "", obj["metadata"]["name"]) is None
        ]
        if writes:
            _, durable = self.store.write(writes)
            await durable

    def _authenticate(self, scope: Scope, public: bool) -> UserInfo:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        if authorization is None:
            if public:
                return ANONYMOUS_USER
            raise unauthorized()
        token = bearer_token(authorization)
        assert self.authenticator is not None, "ClusterSecurity.start() was not awaited"
        user = self.authenticator.authenticate(token) if token else None
        if user is None:
            raise unauthorized()
        return user

    def _impersonate(self, scope: Scope, user: UserInfo) -> UserInfo:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if not any(key.startswith(b"impersonate-") for key, _ in headers):
            return user
        requested = impersonated_user(headers)
        if requested is None:
            return user
        if MASTERS_GROUP not in user.groups:
            for attributes in _impersonation_checks(headers, requested):
                allowed, _ = self.rbac.authorize(user, attributes)
                if not allowed:
                    raise forbidden(user.name, attributes)
        return requested

    def admit(self, scope: Scope, public: bool) -> None:
        """Authenticate and authorize one request; raises the Status to answer otherwise.

        The acting user is left at ``scope["luban.user"]``; ``public`` paths (health,
        version) admit callers without credentials as ``system:anonymous``.
        """
        user = self._impersonate(scope, self._authenticate(scope, public))
        scope[USER_KEY] = user
        if MASTERS_GROUP in user.groups:
            return
        query = scope.get("query_string", b"")
        watch = {}
        if b"watch" in query:
            watch = {k: v for k, v in parse_qsl(query.decode("latin-1")) if k == "watch"}
        info = parse_request_info(scope["method"], scope["path"], watch)
        attributes = Attributes.of(info)
        allowed, _ = self.rbac.authorize(user, attributes)
        if not allowed:
            raise forbidden(user.name, attributes)

    async def serve(self, request: Request, info: RequestInfo) -> Response | None:
        """Answer the review APIs and TokenRequest; ``None`` for everything else."""
        assert self.reviews is not None, "ClusterSecurity.start() was not awaited"
        return await self.reviews.handle(request, info)
