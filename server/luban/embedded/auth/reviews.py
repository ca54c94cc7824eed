"""Create-only APIs answered from identity and policy, never stored.

- ``authorization.k8s.io/v1``: SubjectAccessReview, LocalSubjectAccessReview,
  SelfSubjectAccessReview, SelfSubjectRulesReview (``kubectl auth can-i [--list]``).
- ``authentication.k8s.io/v1``: TokenReview, SelfSubjectReview (``kubectl auth whoami``).
- ``serviceaccounts/{name}/token``: TokenRequest (``kubectl create token``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from luban.auth.user import UserInfo
from luban.embedded.auth.authn import Authenticator
from luban.embedded.auth.rbac import RBACAuthorizer
from luban.embedded.auth.rules import Attributes, describe_rules
from luban.embedded.auth.serviceaccounts import SERVICE_ACCOUNTS
from luban.embedded.bodies import read_object
from luban.embedded.objects import now_rfc3339
from luban.embedded.store import Store
from luban.kube.errors import APIError, bad_request, not_found
from luban.kube.requestinfo import RequestInfo
from luban.kube.resources import ResourceType

AUTHN = "authentication.k8s.io"
AUTHZ = "authorization.k8s.io"
MAX_BODY = 1024 * 1024
DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 2**32
USER_KEY = "luban.user"

# The review resources, for the registry (discovery and OpenAPI list them as create-only).
REVIEW_TYPES: tuple[ResourceType, ...] = (
    ResourceType(AUTHN, "v1", "tokenreviews", "TokenReview", False, verbs=("create",)),
    ResourceType(AUTHN, "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=("create",)),
    ResourceType(
        AUTHZ, "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=("create",)
    ),
    ResourceType(
        AUTHZ, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=("create",)
    ),
    ResourceType(
        AUTHZ, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=("create",)
    ),
    ResourceType(
        AUTHZ,
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        True,
        verbs=("create",),
    ),
)
_KINDS = {(rt.group, rt.resource): rt.kind for rt in REVIEW_TYPES}

_Handler = Callable[[Request, RequestInfo, UserInfo, dict[str, Any]], Awaitable[dict[str, Any]]]


def _invalid(kind: str, group: str, name: str, field: str, message: str) -> APIError:
    details: dict[str, Any] = (
        {"name": name, "group": group, "kind": kind}
        if name
        else {
            "group": group,
            "kind": kind,
        }
    )
    return APIError(
        422, f'{kind}.{group} "{name}" is invalid: {field}: {message}', "Invalid", details
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _user_info(user: UserInfo) -> dict[str, Any]:
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def _spec_user(spec: dict[str, Any]) -> UserInfo:
    groups = spec.get("groups")
    extra = _dict(spec.get("extra"))
    return UserInfo(
        name=_str(spec.get("user")),
        uid=_str(spec.get("uid")),
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        extra={
            k: tuple(str(v) for v in values)
            for k, values in extra.items()
            if isinstance(values, list)
        },
    )


class Reviews:
    """Serves the review APIs and TokenRequest for the acting user."""

    def __init__(self, store: Store, rbac: RBACAuthorizer, authenticator: Authenticator) -> None:
        self.store = store
        self.rbac = rbac
        self.authenticator = authenticator
        self._handlers: dict[tuple[str, str], _Handler] = {
            (AUTHZ, "subjectaccessreviews"): self._subject_access,
            (AUTHZ, "localsubjectaccessreviews"): self._local_subject_access,
            (AUTHZ, "selfsubjectaccessreviews"): self._self_subject_access,
            (AUTHZ, "selfsubjectrulesreviews"): self._self_subject_rules,
            (AUTHN, "tokenreviews"): self._token_review,
            (AUTHN, "selfsubjectreviews"): self._self_subject_review,
        }

    async def handle(self, request: Request, info: RequestInfo) -> Response | None:
        """The response for a review or TokenRequest, or ``None`` for other requests."""
        if info.api_group == "" and info.resource == "serviceaccounts":
            if info.subresource != "token" or not info.name:
                return None
            if info.verb != "create":
                raise _not_allowed()
            return await self._token_request(request, info)
        handler = self._handlers.get((info.api_group, info.resource))
        if handler is None or info.api_version != "v1":
            return None
        if info.verb != "create" or info.name or info.subresource:
            raise _not_allowed()
        user: UserInfo = request.scope[USER_KEY]
        body = await read_object(request, MAX_BODY)
        kind = _KINDS[(info.api_group, info.resource)]
        if body.get("kind") not in (None, "", kind):
            raise bad_request(f"the body of the request must be a {kind}, not {body.get('kind')}")
        result = await handler(request, info, user, body)
        return Response(
            orjson.dumps(
                {
                    "kind": kind,
                    "apiVersion": f"{info.api_group}/v1",
                    "metadata": {"creationTimestamp": None, **_dict(body.get("metadata"))},
                    **result,
                }
            ),
            201,
            media_type="application/json",
        )

    # -- access reviews --------------------------------------------------------------------

    def _access(self, kind: str, user: UserInfo, spec: dict[str, Any]) -> dict[str, Any]:
        resource = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        if resource is not None and non_resource is not None:
            raise _invalid(
                kind,
                AUTHZ,
                "",
                "spec.nonResourceAttributes",
                'Invalid value: "": cannot be specified in combination with resourceAttributes',
            )
        if isinstance(resource, dict):
            attributes = Attributes(
                _str(resource.get("verb")),
                True,
                _str(resource.get("group")),
                _str(resource.get("resource")),
                _str(resource.get("subresource")),
                _str(resource.get("namespace")),
                _str(resource.get("name")),
            )
        elif isinstance(non_resource, dict):
            attributes = Attributes(
                _str(non_resource.get("verb")), False, path=_str(non_resource.get("path"))
            )
        else:
            raise _invalid(
                kind,
                AUTHZ,
                "",
                "spec.resourceAttributes",
                "Required value: exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified",
            )
        allowed, reason = self.rbac.authorize(user, attributes)
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return status

    async def _subject_access(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        spec = _dict(body.get("spec"))
        subject = _spec_user(spec)
        if not subject.name and not subject.groups:
            raise _invalid(
                "SubjectAccessReview",
                AUTHZ,
                "",
                "spec.user",
                'Invalid value: "": at least one of user or group must be specified',
            )
        return {"spec": spec, "status": self._access("SubjectAccessReview", subject, spec)}

    async def _local_subject_access(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        spec = _dict(body.get("spec"))
        kind = "LocalSubjectAccessReview"
        resource = spec.get("resourceAttributes")
        if spec.get("nonResourceAttributes") is not None:
            raise _invalid(
                kind,
                AUTHZ,
                "",
                "spec.nonResourceAttributes",
                'Invalid value: "": disallowed on this kind of request',
            )
        if isinstance(resource, dict):
            namespace = _str(resource.get("namespace"))
            if namespace and namespace != info.namespace:
                raise bad_request(
                    f"spec.resourceAttributes.namespace must match namespace: {info.namespace}"
                )
            resource["namespace"] = info.namespace
        subject = _spec_user(spec)
        if not subject.name and not subject.groups:
            raise _invalid(
                kind,
                AUTHZ,
                "",
                "spec.user",
                'Invalid value: "": at least one of user or group must be specified',
            )
        metadata = {**_dict(body.get("metadata")), "namespace": info.namespace}
        body["metadata"] = metadata
        return {"spec": spec, "status": self._access(kind, subject, spec)}

    async def _self_subject_access(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        spec = _dict(body.get("spec"))
        return {"spec": spec, "status": self._access("SelfSubjectAccessReview", user, spec)}

    async def _self_subject_rules(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        spec = _dict(body.get("spec"))
        resource_rules, url_rules = describe_rules(
            self.rbac.rules_for(user, _str(spec.get("namespace")))
        )
        return {
            "spec": spec,
            "status": {
                "resourceRules": resource_rules,
                "nonResourceRules": url_rules,
                "incomplete": False,
            },
        }

    # -- authentication reviews ------------------------------------------------------------

    async def _token_review(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        spec = _dict(body.get("spec"))
        audiences = spec.get("audiences")
        wanted = [a for a in audiences if isinstance(a, str)] if isinstance(audiences, list) else []
        found = self.authenticator.review(_str(spec.get("token")), wanted or None)
        if found is None:
            status: dict[str, Any] = {
                "authenticated": False,
                "user": {},
                "error": "invalid bearer token",
            }
        else:
            subject, accepted = found
            status = {"authenticated": True, "user": _user_info(subject)}
            if accepted:
                status["audiences"] = list(accepted)
        return {"spec": {k: v for k, v in spec.items() if k != "token"}, "status": status}

    async def _self_subject_review(
        self, request: Request, info: RequestInfo, user: UserInfo, body: dict[str, Any]
    ) -> dict[str, Any]:
        return {"status": {"userInfo": _user_info(user)}}

    # -- TokenRequest ----------------------------------------------------------------------

    async def _token_request(self, request: Request, info: RequestInfo) -> Response:
        body = await read_object(request, MAX_BODY)
        kind = "TokenRequest"
        spec = _dict(body.get("spec"))
        seconds = spec.get("expirationSeconds", DEFAULT_TOKEN_SECONDS)
        if seconds is None:
            seconds = DEFAULT_TOKEN_SECONDS
        if isinstance(seconds, str) and seconds.isdigit():
            seconds = int(seconds)
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise bad_request("spec.expirationSeconds must be an integer")
        if seconds < MIN_TOKEN_SECONDS:
            raise _invalid(
                kind,
                AUTHN,
                info.name,
                "spec.expirationSeconds",
                f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
            )
        if seconds > MAX_TOKEN_SECONDS:
            raise _invalid(
                kind,
                AUTHN,
                info.name,
                "spec.expirationSeconds",
                f"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds",
            )
        if spec.get("boundObjectRef"):
            raise _invalid(
                kind,
                AUTHN,
                info.name,
                "spec.boundObjectRef",
                "Unsupported value: bound tokens are not supported by this server",
            )
        audiences = spec.get("audiences")
        wanted = (
            [a for a in audiences if isinstance(a, str) and a]
            if isinstance(audiences, list)
            else []
        )
        if not wanted:
            wanted = list(self.authenticator.service_accounts.audiences)
        account = self.store.get(SERVICE_ACCOUNTS, info.namespace, info.name)
        if account is None:
            raise not_found("serviceaccounts", "", info.name)
        uid = str(account.obj["metadata"].get("uid", ""))
        token, expires = self.authenticator.service_accounts.issue(
            info.namespace, info.name, uid, wanted, seconds
        )
        expiry = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        result = {
            "kind": kind,
            "apiVersion": f"{AUTHN}/v1",
            "metadata": {
                "name": info.name,
                "namespace": info.namespace,
                "creationTimestamp": now_rfc3339(),
            },
            "spec": {"audiences": wanted, "expirationSeconds": seconds, "boundObjectRef": None},
            "status": {"token": token, "expirationTimestamp": expiry},
        }
        return Response(orjson.dumps(result), 201, media_type="application/json")


def _not_allowed() -> APIError:
    return APIError(
        405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
    )
