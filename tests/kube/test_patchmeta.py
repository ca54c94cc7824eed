"""Merge facts of built-in list fields (k8s.io/api struct tags)."""

from __future__ import annotations

import pytest

from luban.kube.applyshapes import map_kind_from_schema
from luban.kube.patchmeta import (
    ListStrategy,
    known_kind,
    list_strategy,
    list_strategy_from_schema,
    replaces_map,
    retains_keys,
    schema_at,
    schema_items,
    strategic_list_strategy,
)

_POD_SPEC_ROOTS = [
    ("v1", "Pod", ("spec",)),
    ("v1", "PodTemplate", ("template", "spec")),
    ("v1", "ReplicationController", ("spec", "template", "spec")),
    ("apps/v1", "Deployment", ("spec", "template", "spec")),
    ("apps/v1", "ReplicaSet", ("spec", "template", "spec")),
    ("apps/v1", "StatefulSet", ("spec", "template", "spec")),
    ("apps/v1", "DaemonSet", ("spec", "template", "spec")),
    ("batch/v1", "Job", ("spec", "template", "spec")),
    ("batch/v1", "CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
]


@pytest.mark.parametrize(("api_version", "kind", "root"), _POD_SPEC_ROOTS)
def test_pod_spec_lists_from_every_workload(
    api_version: str, kind: str, root: tuple[str, ...]
) -> None:
    def ssa(*p: str) -> ListStrategy | None:
        return list_strategy(api_version, kind, (*root, *p))

    assert ssa("containers") == ListStrategy("map", ("name",))
    assert ssa("initContainers") == ListStrategy("map", ("name",))
    assert ssa("containers", "env") == ListStrategy("map", ("name",))
    assert ssa("containers", "ports") == ListStrategy("map", ("containerPort", "protocol"))
    assert ssa("containers", "volumeMounts") == ListStrategy("map", ("mountPath",))
    assert ssa("containers", "args") == ListStrategy("atomic")
    assert ssa("volumes") == ListStrategy("map", ("name",))
    assert ssa("tolerations") == ListStrategy("atomic")
    assert ssa("topologySpreadConstraints") == ListStrategy(
        "map", ("topologyKey", "whenUnsatisfiable")
    )
    # Strategic merge keys on patchMergeKey alone.
    smp = strategic_list_strategy(api_version, kind, (*root, "containers", "ports"))
    assert smp == ListStrategy("map", ("containerPort",))
    assert retains_keys(api_version, kind, (*root, "volumes"))


def test_metadata_lists() -> None:
    assert list_strategy("v1", "ConfigMap", ("metadata", "finalizers")) == ListStrategy("set")
    assert strategic_list_strategy("v1", "ConfigMap", ("metadata", "finalizers")) == ListStrategy(
        "set"
    )
    assert list_strategy("apps/v1", "Deployment", ("metadata", "ownerReferences")) == (
        ListStrategy("map", ("uid",))
    )
    assert list_strategy("v1", "Pod", ("metadata", "managedFields")) == ListStrategy("atomic")


def test_where_apply_and_strategic_merge_disagree() -> None:
    # batch/v1 JobStatus.conditions: listType=atomic but patchStrategy=merge on type.
    path = ("status", "conditions")
    assert list_strategy("batch/v1", "Job", path) == ListStrategy("atomic")
    assert strategic_list_strategy("batch/v1", "Job", path) == ListStrategy("map", ("type",))
    # ResourceRequirements.claims: listType=map, no patchStrategy.
    claims = ("spec", "containers", "resources", "claims")
    assert list_strategy("v1", "Pod", claims) == ListStrategy("map", ("name",))
    assert strategic_list_strategy("v1", "Pod", claims) == ListStrategy("atomic")
    # ServiceAccount.imagePullSecrets is atomic, unlike PodSpec's.
    assert list_strategy("v1", "ServiceAccount", ("imagePullSecrets",)) == ListStrategy("atomic")
    assert list_strategy("v1", "Pod", ("spec", "imagePullSecrets")) == ListStrategy(
        "map", ("name",)
    )


def test_other_types() -> None:
    assert list_strategy("v1", "Service", ("spec", "ports")) == ListStrategy(
        "map", ("port", "protocol")
    )
    assert list_strategy("v1", "Endpoints", ("subsets",)) == ListStrategy("atomic")
    assert list_strategy("v1", "Endpoints", ("subsets", "addresses")) == ListStrategy("atomic")
    assert list_strategy("rbac.authorization.k8s.io/v1", "ClusterRole", ("rules",)) == (
        ListStrategy("atomic")
    )
    assert list_strategy("apps/v1", "Deployment", ("status", "conditions")) == ListStrategy(
        "map", ("type",)
    )
    assert list_strategy("v1", "Node", ("spec", "podCIDRs")) == ListStrategy("set")
    assert retains_keys("apps/v1", "Deployment", ("spec", "strategy"))
    assert replaces_map("policy/v1", "PodDisruptionBudget", ("spec", "selector"))
    assert not replaces_map("apps/v1", "Deployment", ("spec", "selector"))


def test_unknown_is_none() -> None:
    assert list_strategy("apps/v1", "Deployment", ("spec", "nope")) is None
    assert list_strategy("apps/v1", "Deployment", ("spec", "replicas", "x")) is None
    assert list_strategy("example.com/v1", "Widget", ("spec", "items")) is None
    assert list_strategy("apps/v1beta1", "Deployment", ("metadata", "finalizers")) is None
    assert known_kind("v1", "Pod")
    assert not known_kind("example.com/v1", "Widget")


def test_from_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "hosts": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                    },
                    "routes": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "filters": {"type": "array", "x-kubernetes-list-type": "atomic"}
                            },
                        },
                    },
                    "plain": {"type": "array", "items": {"type": "string"}},
                    "byName": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {
                                "tags": {"type": "array", "x-kubernetes-list-type": "set"}
                            },
                        },
                    },
                },
            }
        },
    }
    assert list_strategy_from_schema(schema, ("spec", "hosts")) == ListStrategy("set")
    assert list_strategy_from_schema(schema, ("spec", "routes")) == ListStrategy(
        "map", ("name", "port")
    )
    assert list_strategy_from_schema(schema, ("spec", "routes", "filters")) == ListStrategy(
        "atomic"
    )
    assert list_strategy_from_schema(schema, ("spec", "byName", "anykey", "tags")) == (
        ListStrategy("set")
    )
    assert list_strategy_from_schema(schema, ("spec", "plain")) is None
    assert list_strategy_from_schema(schema, ("spec", "missing")) is None
    assert list_strategy_from_schema(schema, ("spec",)) is None

    # the same walk answers apply's map kinds (one walker for both)
    tags = {"type": "array", "x-kubernetes-list-type": "set"}
    assert schema_at(schema, ("spec", "byName", "anykey", "tags")) == tags
    route = schema_items(schema_at(schema, ("spec", "routes")))
    assert route is not None
    assert route["type"] == "object"
    assert schema_at(schema, ("spec", "routes", "name")) is None
    map_kind = map_kind_from_schema(schema)
    assert map_kind(("spec",)) == "struct"
    assert map_kind(("spec", "byName")) == "map"
    assert map_kind(("spec", "routes")) == "struct"
    assert map_kind(("metadata", "labels")) == "map"
