"""RBAC policy rules: what a request asks for (``Attributes``) and whether a rule allows it.

Matching follows ``k8s.io/component-helpers/auth/rbac/validation`` (``RuleAllows``):
``*`` wildcards for verbs, groups and resources, ``*/status``-style subresource wildcards,
resourceNames only for named requests, and nonResourceURLs with a trailing ``*`` prefix match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from luban.kube.errors import APIError
from luban.kube.requestinfo import RequestInfo


@dataclass(frozen=True, slots=True)
class Attributes:
    """One authorization question: may the user do ``verb`` on this resource or path?"""

    verb: str
    resource_request: bool
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @classmethod
    def of(cls, info: RequestInfo) -> Attributes:
        """The attributes of a parsed request."""
        if not info.is_resource_request:
            return cls(info.verb, False, path=info.path)
        return cls(
            info.verb,
            True,
            info.api_group,
            info.resource,
            info.subresource,
            info.namespace,
            info.name,
            info.path,
        )


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str))


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled ``PolicyRule``."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    urls: tuple[str, ...]
    source: Mapping[str, Any]

    @classmethod
    def compile(cls, rule: Mapping[str, Any]) -> Rule:
        """Compile one rule of a Role or ClusterRole (unknown shapes match nothing)."""
        return cls(
            frozenset(_strings(rule.get("verbs"))),
            frozenset(_strings(rule.get("apiGroups"))),
            frozenset(_strings(rule.get("resources"))),
            frozenset(_strings(rule.get("resourceNames"))),
            _strings(rule.get("nonResourceURLs")),
            rule,
        )

    def allows(self, a: Attributes) -> bool:
        """``RuleAllows``: whether this rule grants the request."""
        if "*" not in self.verbs and a.verb not in self.verbs:
            return False
        if not a.resource_request:
            return any(
                url == "*" or url == a.path or (url.endswith("*") and a.path.startswith(url[:-1]))
                for url in self.urls
            )
        if "*" not in self.groups and a.api_group not in self.groups:
            return False
        if not self._resource_matches(a.resource, a.subresource):
            return False
        return not self.names or a.name in self.names

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        resources = self.resources
        if "*" in resources:
            return True
        if not subresource:
            return resource in resources
        return f"{resource}/{subresource}" in resources or f"*/{subresource}" in resources


def compile_rules(rules: Any) -> tuple[Rule, ...]:
    """Compile a ``rules`` list (anything else compiles to no rules)."""
    if not isinstance(rules, list):
        return ()
    return tuple(Rule.compile(rule) for rule in rules if isinstance(rule, dict))


def forbidden_message(user: str, a: Attributes) -> str:
    """The authorizer part of a 403 message, worded as the API server words it."""
    if not a.resource_request:
        return f'User "{user}" cannot {a.verb} path "{a.path}"'
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    return (
        f'User "{user}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" {where}'
    )


def forbidden(user: str, a: Attributes, reason: str = "") -> APIError:
    """The 403 ``Forbidden`` Status the API server answers a denied request with."""
    why = forbidden_message(user, a)
    if reason:
        why = f"{why}: {reason}"
    if not a.resource_request or not a.resource:
        return APIError(403, f"forbidden: {why}", "Forbidden", {})
    qualified = f"{a.resource}.{a.api_group}" if a.api_group else a.resource
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    details: dict[str, Any] = {}
    if a.name:
        details["name"] = a.name
    if a.api_group:
        details["group"] = a.api_group
    details["kind"] = a.resource
    return APIError(403, f"{subject} is forbidden: {why}", "Forbidden", details)


def describe_rules(rules: Iterable[Rule]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resource and non-resource rules as SelfSubjectRulesReview reports them."""
    resource_rules: list[dict[str, Any]] = []
    url_rules: list[dict[str, Any]] = []
    for rule in rules:
        if rule.resources or rule.groups:
            entry: dict[str, Any] = {"verbs": list(_strings(rule.source.get("verbs")))}
            for key in ("apiGroups", "resources", "resourceNames"):
                values = _strings(rule.source.get(key))
                if values:
                    entry[key] = list(values)
            resource_rules.append(entry)
        if rule.urls:
            url_rules.append(
                {
                    "verbs": list(_strings(rule.source.get("verbs"))),
                    "nonResourceURLs": list(rule.urls),
                }
            )
    return resource_rules, url_rules
