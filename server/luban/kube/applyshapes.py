"""What the built-in types' schemas say about maps, for server-side apply.

List semantics come from :mod:`luban.kube.patchmeta`; this module adds which maps are
structs (named fields), granular maps (labels, data...) or atomic (`+structType=atomic`,
e.g. LabelSelector), and the Go zero value a create of a built-in type starts from.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from luban.kube.patchmeta import schema_at, schema_items
from luban.kube.structured import FieldPath, MapKind, MapKindFn

# map[string]X fields: their keys are not struct fields (no "." implied for them).
_GRANULAR_MAPS = frozenset(
    {
        "labels",
        "annotations",
        "nodeSelector",
        "data",
        "binaryData",
        "stringData",
        "limits",
        "requests",
        "capacity",
        "allocatable",
        "hard",
        "used",
        "matchLabels",
        "parameters",
        "overhead",
        "allocatedResources",
    }
)
# +structType=atomic fields and items (LabelSelector, object and key references...).
_ATOMIC_STRUCTS = frozenset(
    {
        "labelSelector",
        "namespaceSelector",
        "podSelector",
        "secretKeyRef",
        "configMapKeyRef",
        "fieldRef",
        "resourceFieldRef",
        "fileKeyRef",
        "roleRef",
        "scaleTargetRef",
        "targetRef",
        "ownerReferences",
        "imagePullSecrets",
        "subjects",
        "scopeSelector",
        "paramRef",
        "paramKind",
    }
)
_MAP_SELECTOR_KINDS = frozenset({"Service", "ReplicationController"})


def builtin_map_kind(kind: str) -> MapKindFn:
    """Which maps of a built-in kind are structs, granular maps or atomic."""

    def map_kind(path: FieldPath) -> MapKind:
        if not path:
            return "struct"
        name = path[-1]
        if name == "selector" and path == ("spec", "selector"):
            return "map" if kind in _MAP_SELECTOR_KINDS else "atomic"
        if name == "requiredDuringSchedulingIgnoredDuringExecution" and "nodeAffinity" in path:
            return "atomic"
        if name in _ATOMIC_STRUCTS:
            return "atomic"
        if name in _GRANULAR_MAPS:
            return "map"
        return "struct"

    return map_kind


def map_kind_from_schema(schema: Mapping[str, Any]) -> MapKindFn:
    """Map kinds from a CRD's openAPIV3Schema (`properties` = struct, `x-kubernetes-map-type`)."""
    meta = builtin_map_kind("")

    def map_kind(path: FieldPath) -> MapKind:
        if path and path[0] == "metadata":
            return meta(path)
        node = schema_items(schema_at(schema, path))
        if node is None:
            return "map"
        if node.get("x-kubernetes-map-type") == "atomic":
            return "atomic"
        return "struct" if isinstance(node.get("properties"), Mapping) or not path else "map"

    return map_kind


def is_builtin(api_version: str) -> bool:
    """A guess: built-in groups are the legacy core group, dot-less groups and *.k8s.io."""
    group = api_version.rpartition("/")[0]
    return not group or "." not in group or group.endswith(".k8s.io")


_POD_TEMPLATE: tuple[tuple[FieldPath, Any], ...] = (
    (("template",), {}),
    (("template", "metadata"), {}),
    (("template", "spec"), {}),
    (("template", "spec", "containers"), None),
)


def _under(
    prefix: FieldPath, paths: Iterable[tuple[FieldPath, Any]]
) -> list[tuple[FieldPath, Any]]:
    return [((*prefix, *p), v) for p, v in paths]


# Fields a Go zero value of the type still serializes (non-pointer structs, non-omitempty lists).
_TYPED_ZERO: dict[str, list[tuple[FieldPath, Any]]] = {
    "Pod": [(("spec", "containers"), None)],
    "PodTemplate": list(_POD_TEMPLATE[:3]),
    "Deployment": [*_under(("spec",), _POD_TEMPLATE), (("spec", "strategy"), {})],
    "ReplicaSet": _under(("spec",), _POD_TEMPLATE),
    "ReplicationController": [],
    "StatefulSet": [*_under(("spec",), _POD_TEMPLATE), (("spec", "updateStrategy"), {})],
    "DaemonSet": [*_under(("spec",), _POD_TEMPLATE), (("spec", "updateStrategy"), {})],
    "Job": _under(("spec",), _POD_TEMPLATE),
    "CronJob": [
        (("spec", "jobTemplate"), {}),
        (("spec", "jobTemplate", "metadata"), {}),
        (("spec", "jobTemplate", "spec"), {}),
        *_under(("spec", "jobTemplate", "spec"), _POD_TEMPLATE),
    ],
    "PersistentVolumeClaim": [(("spec", "resources"), {})],
}


def typed_zero(obj: Mapping[str, Any], builtin: bool) -> dict[str, Any]:
    """The "empty object" a create is compared against.

    A custom resource starts from nothing but apiVersion/kind; a built-in type starts from
    its Go zero value, whose non-pointer structs (spec, status, a pod template...) already
    exist, so creating them does not make the creator own the struct itself.
    """
    zero: dict[str, Any] = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
    if not builtin:
        return zero
    zero["metadata"] = {}
    paths = [(("spec",), {}), (("status",), {}), *_TYPED_ZERO.get(str(obj.get("kind", "")), [])]
    for path, empty in paths:
        src: Any = obj
        dst: Any = zero
        for depth, name in enumerate(path):
            if not isinstance(src, dict) or name not in src:
                break
            src = src[name]
            if depth == len(path) - 1:
                if type(src) is type(empty) or (empty is None and isinstance(src, list)):
                    dst.setdefault(name, copy.deepcopy(empty))
            else:
                if not isinstance(src, dict) or not isinstance(dst.get(name, {}), dict):
                    break
                dst = dst.setdefault(name, {})
    return zero


def fill_missing(obj: dict[str, Any], zero: Mapping[str, Any]) -> dict[str, Any]:
    """Add what `zero` has and `obj` lacks (in place); returns `obj`."""
    for k, v in zero.items():
        if k not in obj:
            obj[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(obj[k], dict):
            fill_missing(obj[k], v)
    return obj
