"""Stage: honour a caller's ``Impersonate-*`` headers only if RBAC lets them impersonate.

Like the API server's impersonation filter: every requested user, group, uid and extra
value is checked with a SubjectAccessReview (verb ``impersonate``); if all are allowed
the request continues as the impersonated user (the proxy then forwards the caller's
headers), otherwise it is refused with 403. The original caller stays in
``scope["luban.impersonator"]`` for the audit log.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.authorizer import Attributes, Authorizer
from luban.auth.user import AUTHENTICATED_GROUP, UserInfo
from luban.kube.errors import bad_request
from luban.pipeline.authentication import USER_KEY
from luban.pipeline.authorization import DECISION_KEY, refusal
from luban.pipeline.denial import deny
from luban.proxy.paths import is_proxied

MAY_IMPERSONATE_KEY = "luban.may_impersonate"
IMPERSONATOR_KEY = "luban.impersonator"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_AUTHN_GROUP = "authentication.k8s.io"


def requested_identity(headers: list[tuple[bytes, bytes]]) -> UserInfo | None:
    """The identity the ``Impersonate-*`` headers ask for (``None`` when there are none).

    Raises ``ValueError`` for groups, uid or extras without a user.
    """
    user = uid = None
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    seen = False
    for raw_name, raw_value in headers:
        if not raw_name.startswith(b"impersonate-"):
            continue
        seen = True
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1").strip()
        if name == "impersonate-user":
            user = value
        elif name == "impersonate-group":
            groups.append(value)
        elif name == "impersonate-uid":
            uid = value
        elif name.startswith("impersonate-extra-"):
            extra.setdefault(unquote(name[len("impersonate-extra-") :]).lower(), []).append(value)
    if not seen:
        return None
    if not user:
        raise ValueError("requested impersonation without a user (Impersonate-User)")
    return UserInfo(user, uid or "", tuple(groups), {k: tuple(v) for k, v in extra.items()})


def checks(target: UserInfo) -> list[Attributes]:
    """The ``impersonate`` reviews the API server makes for ``target``."""
    result: list[Attributes] = []
    if target.name.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace, _, name = target.name[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
        result.append(Attributes("impersonate", "serviceaccounts", namespace=namespace, name=name))
    else:
        result.append(Attributes("impersonate", "users", name=target.name))
    result += [Attributes("impersonate", "groups", name=group) for group in target.groups]
    if target.uid:
        result.append(Attributes("impersonate", "uids", _AUTHN_GROUP, name=target.uid))
    for key, values in target.extra.items():
        result += [
            Attributes("impersonate", "userextras", _AUTHN_GROUP, name=value, subresource=key)
            for value in values
        ]
    return result


def effective_user(target: UserInfo) -> UserInfo:
    """The impersonated user with the groups the API server adds."""
    groups = list(target.groups)
    if target.name.startswith(SERVICE_ACCOUNT_PREFIX) and not groups:
        namespace = target.name[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")[0]
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    if target.name != "system:anonymous" and AUTHENTICATED_GROUP not in groups:
        groups.append(AUTHENTICATED_GROUP)
    return UserInfo(target.name, target.uid, tuple(groups), target.extra)


class ImpersonationMiddleware:
    """Checks ``Impersonate-*`` headers; refuses (403) callers not allowed to impersonate."""

    def __init__(
        self, app: ASGIApp, authorizer: Authorizer, upstream_decides: bool = False
    ) -> None:
        self.app = app
        self.authorizer = authorizer
        # Passthrough proxying: the upstream sees the caller's own credentials and checks.
        self.upstream_decides = upstream_decides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get(USER_KEY) is None:
            await self.app(scope, receive, send)
            return
        if self.upstream_decides and is_proxied(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            target = requested_identity(scope["headers"])
        except ValueError as exc:
            await deny(scope, send, bad_request(str(exc)))
            return
        if target is None:
            await self.app(scope, receive, send)
            return
        caller: UserInfo = scope[USER_KEY]
        for attributes in checks(target):
            decision = await self.authorizer.check(caller, attributes)
            if not decision.allowed:
                scope[DECISION_KEY] = decision
                await deny(scope, send, refusal(caller, attributes, decision))
                return
        scope[IMPERSONATOR_KEY] = caller
        scope[USER_KEY] = effective_user(target)
        scope[MAY_IMPERSONATE_KEY] = True
        await self.app(scope, receive, send)
