"""The authenticated caller, as Kubernetes' ``user.Info`` describes one."""

from __future__ import annotations

from dataclasses import dataclass, field

MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"


@dataclass(frozen=True)
class UserInfo:
    """A caller's identity: name, uid, groups and extra attributes."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        """Members of ``system:masters`` may do anything."""
        return MASTERS_GROUP in self.groups


ANONYMOUS_USER = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))


def authenticated(user: UserInfo) -> UserInfo:
    """``user`` with ``system:authenticated`` among its groups (as the API server adds it)."""
    if AUTHENTICATED_GROUP in user.groups:
        return user
    return UserInfo(user.name, user.uid, (*user.groups, AUTHENTICATED_GROUP), user.extra)
