"""``Impersonate-*`` headers: who a request acts as when its caller may impersonate.

Follows the API server's impersonation filter: ``Impersonate-User`` is required when any
other ``Impersonate-*`` header is present; the impersonated user joins
``system:authenticated`` (service accounts also their ``system:serviceaccounts`` groups);
``Impersonate-Extra-{key}`` keys are percent-decoded and lower-cased.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

from luban.auth.user import AUTHENTICATED_GROUP, UserInfo
from luban.kube.errors import APIError

_USER = b"impersonate-user"
_GROUP = b"impersonate-group"
_UID = b"impersonate-uid"
_EXTRA = b"impersonate-extra-"
_SERVICE_ACCOUNT = "system:serviceaccount:"


def impersonated_user(headers: Iterable[tuple[bytes, bytes]]) -> UserInfo | None:
    """The user the ``Impersonate-*`` headers ask for; ``None`` when there are none.

    Raises a 400 ``APIError`` for groups, uid or extras without a user.
    """
    name: str | None = None
    uid = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    seen = False
    for key, raw in headers:
        if not key.startswith(b"impersonate-"):
            continue
        seen = True
        value = raw.decode("utf-8", "replace")
        if key == _USER:
            name = value
        elif key == _GROUP:
            groups.append(value)
        elif key == _UID:
            uid = value
        elif key.startswith(_EXTRA):
            extra_key = unquote(key[len(_EXTRA) :].decode("latin-1")).lower()
            extra.setdefault(extra_key, []).append(value)
    if not seen:
        return None
    if not name:
        raise APIError(400, "requested impersonation without impersonating a user", "BadRequest")
    if name.startswith(_SERVICE_ACCOUNT):
        namespace = name[len(_SERVICE_ACCOUNT) :].split(":", 1)[0]
        for group in ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"):
            if group not in groups:
                groups.append(group)
    if name != "system:anonymous" and AUTHENTICATED_GROUP not in groups:
        groups.append(AUTHENTICATED_GROUP)
    return UserInfo(
        name=name,
        uid=uid,
        groups=tuple(groups),
        extra={k: tuple(v) for k, v in extra.items()},
    )
