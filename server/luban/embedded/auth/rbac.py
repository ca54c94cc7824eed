"""The RBAC authorizer: Roles, ClusterRoles and their bindings, indexed in memory.

The index (bindings by subject, compiled rules by role) is rebuilt lazily after any RBAC
object changes (a store listener marks it stale); the rules that apply to one
(user, groups, namespace) are memoised until the next change. A decision is then a scan of
that user's few rules, never of all bindings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from luban.auth.user import MASTERS_GROUP, UserInfo
from luban.embedded.auth.rules import Attributes, Rule, compile_rules
from luban.embedded.store import Event, Store

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES = f"{RBAC_GROUP}/roles"
ROLE_BINDINGS = f"{RBAC_GROUP}/rolebindings"
CLUSTER_ROLES = f"{RBAC_GROUP}/clusterroles"
CLUSTER_ROLE_BINDINGS = f"{RBAC_GROUP}/clusterrolebindings"
RBAC_KEYS = frozenset({ROLES, ROLE_BINDINGS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS})
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
MEMO_LIMIT = 10_000

_Subject = tuple[str, str]  # ("User" | "Group", name); ServiceAccounts become their user name


@dataclass(frozen=True, slots=True)
class _Grant:
    """A binding's role reference, with the description used in decision reasons."""

    binding: str  # 'ClusterRoleBinding "x"' or 'RoleBinding "x/ns"'
    kind: str
    role: str
    namespace: str  # where a RoleBinding's Role lives ("" for ClusterRoles)
    subject: str


@dataclass(slots=True)
class _Index:
    cluster_roles: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    roles: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    cluster_grants: dict[_Subject, list[_Grant]] = field(default_factory=lambda: defaultdict(list))
    grants: dict[tuple[str, _Subject], list[_Grant]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _subject_keys(subject: Any, binding_namespace: str) -> tuple[_Subject, str] | None:
    if not isinstance(subject, dict):
        return None
    kind, name = subject.get("kind"), subject.get("name")
    if not isinstance(name, str) or not name:
        return None
    if kind == "User":
        return ("User", name), f'User "{name}"'
    if kind == "Group":
        return ("Group", name), f'Group "{name}"'
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not namespace:
            return None
        user = f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
        return ("User", user), f'ServiceAccount "{name}/{namespace}"'
    return None


def _user_keys(user: UserInfo) -> list[_Subject]:
    return [("User", user.name), *(("Group", group) for group in user.groups)]


class RBACAuthorizer:
    """Answers authorization questions from the RBAC objects in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._index: _Index | None = None
        self._memo: dict[tuple[str, tuple[str, ...], str], tuple[tuple[_Grant, Rule], ...]] = {}
        store.add_listener(self._on_events)

    def close(self) -> None:
        """Stop following the store."""
        self.store.remove_listener(self._on_events)

    def _on_events(self, events: list[Event]) -> None:
        if any(event.type_key in RBAC_KEYS for event in events):
            self._index = None
            self._memo.clear()

    def _build(self) -> _Index:
        index = _Index()
        for stored in self.store.list_objects(CLUSTER_ROLES):
            index.cluster_roles[stored.obj["metadata"]["name"]] = compile_rules(
                stored.obj.get("rules")
            )
        for stored in self.store.list_objects(ROLES):
            meta = stored.obj["metadata"]
            index.roles[(meta.get("namespace", ""), meta["name"])] = compile_rules(
                stored.obj.get("rules")
            )
        for stored in self.store.list_objects(CLUSTER_ROLE_BINDINGS):
            self._add_binding(index, stored.obj, "")
        for stored in self.store.list_objects(ROLE_BINDINGS):
            self._add_binding(index, stored.obj, stored.obj["metadata"].get("namespace", ""))
        return index

    @staticmethod
    def _add_binding(index: _Index, obj: dict[str, Any], namespace: str) -> None:
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            return
        kind, role = ref.get("kind"), ref.get("name")
        if kind not in ("ClusterRole", "Role") or not isinstance(role, str):
            return
        if kind == "Role" and not namespace:
            return  # a ClusterRoleBinding may only reference ClusterRoles
        name = obj["metadata"]["name"]
        binding = (
            f'RoleBinding "{name}/{namespace}"' if namespace else (f'ClusterRoleBinding "{name}"')
        )
        for subject in obj.get("subjects") or ():
            keyed = _subject_keys(subject, namespace)
            if keyed is None:
                continue
            key, description = keyed
            grant = _Grant(binding, kind, role, namespace if kind == "Role" else "", description)
            if namespace:
                index.grants[(namespace, key)].append(grant)
            else:
                index.cluster_grants[key].append(grant)

    def _rules_of(self, index: _Index, grant: _Grant) -> tuple[Rule, ...]:
        if grant.kind == "ClusterRole":
            return index.cluster_roles.get(grant.role, ())
        return index.roles.get((grant.namespace, grant.role), ())

    def _applicable(self, user: UserInfo, namespace: str) -> tuple[tuple[_Grant, Rule], ...]:
        key = (user.name, user.groups, namespace)
        found = self._memo.get(key)
        if found is not None:
            return found
        index = self._index
        if index is None:
            index = self._index = self._build()
        pairs: list[tuple[_Grant, Rule]] = []
        subjects = _user_keys(user)
        for subject in subjects:
            for grant in index.cluster_grants.get(subject, ()):
                pairs.extend((grant, rule) for rule in self._rules_of(index, grant))
        if namespace:
            for subject in subjects:
                for grant in index.grants.get((namespace, subject), ()):
                    pairs.extend((grant, rule) for rule in self._rules_of(index, grant))
        found = tuple(pairs)
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = found
        return found

    def authorize(self, user: UserInfo, attributes: Attributes) -> tuple[bool, str]:
        """Whether ``user`` may do what ``attributes`` describe, and why it may."""
        if MASTERS_GROUP in user.groups:
            return True, ""
        for grant, rule in self._applicable(user, attributes.namespace):
            if rule.allows(attributes):
                return True, (
                    f'RBAC: allowed by {grant.binding} of {grant.kind} "{grant.role}" '
                    f"to {grant.subject}"
                )
        return False, ""

    def rules_for(self, user: UserInfo, namespace: str) -> Iterable[Rule]:
        """Every rule that applies to ``user`` in ``namespace`` (cluster-wide ones included)."""
        return (rule for _, rule in self._applicable(user, namespace))
