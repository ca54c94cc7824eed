"""The default RBAC policy an API server creates at first start (bootstrappolicy).

Follows ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``: ``cluster-admin``
bound to ``system:masters``, the aggregated ``admin``/``edit``/``view`` roles and their
``system:aggregate-to-*`` parts, and the discovery / self-review roles every caller has.
"""

from __future__ import annotations

import uuid
from typing import Any

from luban.embedded.objects import now_rfc3339

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
READ_WRITE = READ + WRITE
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


def _rule(verbs: list[str], groups: list[str], *resources: str) -> dict[str, Any]:
    return {"verbs": verbs, "apiGroups": groups, "resources": list(resources)}


def _urls(verbs: list[str], *urls: str) -> dict[str, Any]:
    return {"verbs": verbs, "nonResourceURLs": list(urls)}


def _aggregated(to: str) -> dict[str, Any]:
    return {"clusterRoleSelectors": [{"matchLabels": {f"{AGGREGATE_TO}{to}": "true"}}]}


_VIEW = [
    _rule(
        READ,
        [""],
        "pods",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "serviceaccounts",
        "services",
        "services/status",
        "endpoints",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "configmaps",
    ),
    _rule(
        READ,
        [""],
        "limitranges",
        "resourcequotas",
        "bindings",
        "events",
        "pods/status",
        "resourcequotas/status",
        "namespaces/status",
        "replicationcontrollers/status",
        "pods/log",
    ),
    _rule(READ, [""], "namespaces"),
    _rule(READ, ["discovery.k8s.io"], "endpointslices"),
    _rule(
        READ,
        ["apps"],
        "controllerrevisions",
        "statefulsets",
        "statefulsets/status",
        "statefulsets/scale",
        "daemonsets",
        "daemonsets/status",
        "deployments",
        "deployments/status",
        "deployments/scale",
        "replicasets",
        "replicasets/status",
        "replicasets/scale",
    ),
    _rule(READ, ["autoscaling"], "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
    _rule(READ, ["batch"], "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
    _rule(
        READ,
        ["extensions"],
        "daemonsets",
        "daemonsets/status",
        "deployments",
        "deployments/scale",
        "deployments/status",
        "ingresses",
        "ingresses/status",
        "networkpolicies",
        "replicasets",
        "replicasets/scale",
        "replicasets/status",
        "replicationcontrollers/scale",
    ),
    _rule(READ, ["policy"], "poddisruptionbudgets", "poddisruptionbudgets/status"),
    _rule(READ, ["networking.k8s.io"], "ingresses", "ingresses/status", "networkpolicies"),
]

_EDIT = [
    _rule(
        READ,
        [""],
        "pods/attach",
        "pods/exec",
        "pods/portforward",
        "pods/proxy",
        "secrets",
        "services/proxy",
    ),
    _rule(["impersonate"], [""], "serviceaccounts"),
    _rule(WRITE, [""], "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
    _rule(["create"], [""], "pods/eviction"),
    _rule(
        WRITE,
        [""],
        "configmaps",
        "events",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "secrets",
        "serviceaccounts",
        "services",
        "services/proxy",
    ),
    _rule(["create"], [""], "serviceaccounts/token"),
    _rule(
        WRITE,
        ["apps"],
        "daemonsets",
        "deployments",
        "deployments/rollback",
        "deployments/scale",
        "replicasets",
        "replicasets/scale",
        "statefulsets",
        "statefulsets/scale",
    ),
    _rule(WRITE, ["autoscaling"], "horizontalpodautoscalers"),
    _rule(WRITE, ["batch"], "cronjobs", "jobs"),
    _rule(
        WRITE,
        ["extensions"],
        "daemonsets",
        "deployments",
        "deployments/rollback",
        "deployments/scale",
        "ingresses",
        "networkpolicies",
        "replicasets",
        "replicasets/scale",
        "replicationcontrollers/scale",
    ),
    _rule(WRITE, ["policy"], "poddisruptionbudgets"),
    _rule(WRITE, ["networking.k8s.io"], "ingresses", "networkpolicies"),
]

_ADMIN = [
    _rule(["create"], ["authorization.k8s.io"], "localsubjectaccessreviews"),
    _rule(READ_WRITE, ["rbac.authorization.k8s.io"], "rolebindings", "roles"),
]

_DISCOVERY_URLS = ("/livez", "/readyz", "/healthz", "/version", "/version/")

# name -> (labels, rules, aggregation rule)
CLUSTER_ROLES: dict[str, tuple[dict[str, str], list[dict[str, Any]], dict[str, Any] | None]] = {
    "cluster-admin": (
        {},
        [_rule(["*"], ["*"], "*"), _urls(["*"], "*")],
        None,
    ),
    "system:discovery": (
        {},
        [
            _urls(
                ["get"],
                *_DISCOVERY_URLS,
                "/openapi",
                "/openapi/*",
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
            )
        ],
        None,
    ),
    "system:public-info-viewer": ({}, [_urls(["get"], *_DISCOVERY_URLS)], None),
    "system:basic-user": (
        {},
        [
            _rule(
                ["create"],
                ["authorization.k8s.io"],
                "selfsubjectaccessreviews",
                "selfsubjectrulesreviews",
            ),
            _rule(["create"], ["authentication.k8s.io"], "selfsubjectreviews"),
        ],
        None,
    ),
    "system:auth-delegator": (
        {},
        [
            _rule(["create"], ["authentication.k8s.io"], "tokenreviews"),
            _rule(["create"], ["authorization.k8s.io"], "subjectaccessreviews"),
        ],
        None,
    ),
    "admin": ({}, [], _aggregated("admin")),
    "edit": ({f"{AGGREGATE_TO}admin": "true"}, [], _aggregated("edit")),
    "view": ({f"{AGGREGATE_TO}edit": "true"}, [], _aggregated("view")),
    "system:aggregate-to-admin": ({f"{AGGREGATE_TO}admin": "true"}, _ADMIN, None),
    "system:aggregate-to-edit": ({f"{AGGREGATE_TO}edit": "true"}, _EDIT, None),
    "system:aggregate-to-view": ({f"{AGGREGATE_TO}view": "true"}, _VIEW, None),
}

# binding (and role) name -> groups bound
CLUSTER_ROLE_BINDINGS: dict[str, tuple[str, ...]] = {
    "cluster-admin": ("system:masters",),
    "system:discovery": (AUTHENTICATED,),
    "system:basic-user": (AUTHENTICATED,),
    "system:public-info-viewer": (AUTHENTICATED, UNAUTHENTICATED),
}


def _meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "uid": str(uuid.uuid4()),
        "creationTimestamp": now_rfc3339(),
        "labels": {**LABELS, **labels},
        "annotations": dict(ANNOTATIONS),
    }


def cluster_roles() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles (aggregated ones start empty; the controller fills them)."""
    result = []
    for name, (labels, rules, aggregation) in CLUSTER_ROLES.items():
        role: dict[str, Any] = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(name, labels),
            "rules": [dict(rule) for rule in rules],
        }
        if aggregation is not None:
            role["aggregationRule"] = aggregation
        result.append(role)
    return result


def cluster_role_bindings() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoleBindings."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(name, {}),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
                for group in groups
            ],
        }
        for name, groups in CLUSTER_ROLE_BINDINGS.items()
    ]
