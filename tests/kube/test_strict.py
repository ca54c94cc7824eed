"""Unknown fields of built-in objects, as the API server's strict decoding reports them."""

from __future__ import annotations

import copy
from typing import Any

from luban.kube.strict import (
    MAX_REPORTED,
    prune_unknown,
    prune_with_unknown,
    unknown_field_message,
    unknown_fields,
)
from luban.kube.strictdecoding import StrictErrors, strict_error_message


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app.kubernetes.io/name": "web", "tier": "front"},
            "annotations": {"example.com/any-key": "x"},
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                }
            ],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx",
                            "env": [{"name": "A", "value": "1"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {
                                "limits": {"cpu": "500m", "nvidia.com/gpu": 1},
                                "requests": {"memory": "64Mi"},
                            },
                            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        }
                    ],
                },
            },
        },
        "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]},
    }


def test_valid_deployment_has_no_unknown_fields() -> None:
    obj = _deployment()
    assert unknown_fields("apps/v1", "Deployment", obj) == []
    assert prune_unknown("apps/v1", "Deployment", obj) == obj


def test_deployment_typos_at_every_depth_in_document_order() -> None:
    obj = _deployment()
    obj["spec"]["replicass"] = 3
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["imagee"] = "nginx"
    container["env"].append({"name": "B", "valu": "2"})
    container["ports"][0]["protocl"] = "UDP"
    obj["metadata"]["labelz"] = {"a": "b"}
    assert unknown_fields("apps/v1", "Deployment", obj) == [
        "metadata.labelz",
        "spec.template.spec.containers[0].env[1].valu",
        "spec.template.spec.containers[0].ports[0].protocl",
        "spec.template.spec.containers[0].imagee",
        "spec.replicass",
    ]


def test_prune_removes_only_unknown_fields_and_leaves_input_alone() -> None:
    obj = _deployment()
    obj["spec"]["replicass"] = 3
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "nginx"
    before = copy.deepcopy(obj)
    pruned, paths = prune_with_unknown("apps/v1", "Deployment", obj)
    assert obj == before
    assert paths == ["spec.template.spec.containers[0].imagee", "spec.replicass"]
    assert pruned == _deployment()


def test_field_names_are_case_sensitive() -> None:
    obj = _deployment()
    obj["spec"]["Replicas"] = 2
    assert unknown_fields("apps/v1", "Deployment", obj) == ["spec.Replicas"]


def test_pod_nested_typos_and_free_form_values() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "b"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "env": [
                        {
                            "name": "POD",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "x": 1}},
                        }
                    ],
                    "volumeMounts": [{"name": "v", "mountpath": "/data"}],
                    "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET"]}},
                }
            ],
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi", "medium": ""}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effects": "NoSchedule"}],
            "overhead": {"cpu": "10m"},
        },
    }
    assert unknown_fields("v1", "Pod", pod) == [
        "spec.containers[0].env[0].valueFrom.fieldRef.x",
        "spec.containers[0].volumeMounts[0].mountpath",
        "spec.tolerations[0].effects",
    ]


def test_service_int_or_string_and_typos() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "selector": {"app": "web", "any/key.here": "v"},
            "ports": [
                {"port": 80, "targetPort": "http", "protocol": "TCP"},
                {"port": 443, "targetPort": 8443, "nodeport": 30443},
            ],
            "typ": "ClusterIP",
        },
    }
    assert unknown_fields("v1", "Service", svc) == ["spec.ports[1].nodeport", "spec.typ"]


def test_configmap_data_is_a_free_map_but_top_level_is_strict() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"spec.replicass": "1", "anything": "goes"},
        "binaryData": {"b": "AAEC"},
        "immutable": False,
        "dat": {"x": "y"},
    }
    assert unknown_fields("v1", "ConfigMap", cm) == ["dat"]
    assert prune_unknown("v1", "ConfigMap", cm) == {k: v for k, v in cm.items() if k != "dat"}


def test_raw_extension_takes_anything() -> None:
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r"},
        "revision": 1,
        "data": {"spec": {"template": {"whatever": {"nested": [1, 2]}}}},
    }
    assert unknown_fields("apps/v1", "ControllerRevision", revision) == []


def test_type_mismatches_are_not_strict_errors() -> None:
    obj = _deployment()
    obj["spec"]["replicas"] = {"not": "an int"}
    obj["spec"]["template"]["spec"]["containers"] = {"name": "x"}
    obj["metadata"]["labels"] = ["a"]
    assert unknown_fields("apps/v1", "Deployment", obj) == []


def test_map_keys_and_struct_valued_maps_use_dots() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "foos", "kind": "Foo"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "typo": 1}},
                            "items": {"anything": "goes here"},
                        }
                    },
                }
            ],
        },
    }
    assert unknown_fields("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd) == [
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.typo"
    ]


def test_unknown_kinds_and_non_objects_report_nothing() -> None:
    assert unknown_fields("example.com/v1", "Foo", {"spec": {"x": 1}}) == []
    assert prune_unknown("example.com/v1", "Foo", {"spec": {"x": 1}}) == {"spec": {"x": 1}}


def test_at_most_a_hundred_are_reported_but_all_are_pruned() -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    obj.update({f"x{i:03d}": i for i in range(150)})
    assert len(unknown_fields("v1", "ConfigMap", obj)) == MAX_REPORTED
    pruned, paths = prune_with_unknown("v1", "ConfigMap", obj)
    assert len(paths) == MAX_REPORTED
    assert pruned == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    props: dict[str, Any] = {"type": "object"}
    node = props
    for _ in range(3000):
        child: dict[str, Any] = {"type": "object"}
        node["properties"] = {"a": child}
        node = child
    node["bad"] = True
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {"versions": [{"schema": {"openAPIV3Schema": props}}]},
    }
    (path,) = unknown_fields("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd)
    assert path.endswith(".properties.a.bad")


def test_messages_match_the_api_server() -> None:
    one = StrictErrors(fields=(unknown_field_message("spec.replicass"),))
    assert strict_error_message("Deployment", "v1", one) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replicass"'
    )
    two = StrictErrors(fields=(unknown_field_message("a"), unknown_field_message("b[0].c")))
    assert strict_error_message("Pod", "v1", two).endswith(
        'strict decoding error: unknown field "a", unknown field "b[0].c"'
    )
    assert unknown_field_message("metadata.labelz") == 'unknown field "metadata.labelz"'
