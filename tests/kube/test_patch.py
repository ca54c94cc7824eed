"""The three patch types, as the API server applies them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from luban.kube.patch import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
    supports_strategic_merge,
)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "tier": "front"},
            "finalizers": ["a.example.com/x", "b.example.com/y"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                },
            },
        },
    }


def smp(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return strategic_merge_patch(target, patch, target["apiVersion"], target["kind"])


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


# --- JSON merge patch ---


def test_merge_patch_labels_and_null_deletes() -> None:
    # kubectl label deploy web tier- env=prod  sends a merge patch like this one.
    obj = deployment()
    out = json_merge_patch(obj, {"metadata": {"labels": {"tier": None, "env": "prod"}}})
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert obj["metadata"]["labels"]["tier"] == "front"  # input untouched


def test_merge_patch_replaces_lists_and_scale() -> None:
    out = json_merge_patch(
        deployment(),
        {
            "spec": {
                "replicas": 5,
                "template": {"spec": {"containers": [{"name": "only", "image": "x"}]}},
            }
        },
    )
    assert out["spec"]["replicas"] == 5
    assert containers(out) == [{"name": "only", "image": "x"}]


def test_merge_patch_prunes_nulls_in_new_values() -> None:
    # evanphx/json-patch merge.go: values added where nothing was get their nulls pruned.
    out = json_merge_patch({"a": 1}, {"b": {"c": None, "d": 1}, "e": [{"f": None}]})
    assert out == {"a": 1, "b": {"d": 1}, "e": [{}]}


def test_merge_patch_null_patch_is_bad_request() -> None:
    with pytest.raises(PatchError) as err:
        json_merge_patch({"a": 1}, None)
    assert err.value.code == 400


def test_merge_patch_non_object_replaces() -> None:
    assert json_merge_patch({"a": 1}, [1, 2]) == [1, 2]
    assert json_merge_patch({"a": {"b": 1}}, {"a": "x"}) == {"a": "x"}


# --- JSON patch ---


def test_json_patch_all_operations() -> None:
    obj = deployment()
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "w"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "c.example.com/z"},
        {"op": "add", "path": "/metadata/finalizers/0", "value": "first"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations"},
        {"op": "move", "from": "/metadata/annotations", "path": "/metadata/labels/moved"},
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/env/-",
            "value": {"name": "C", "value": "3"},
        },
        {"op": "remove", "path": "/spec/template/spec/containers/-1"},
    ]
    out = json_patch(obj, ops)
    assert out["spec"]["replicas"] == 3
    assert out["metadata"]["labels"] == {
        "app": "web",
        "app.kubernetes.io/name": "w",
        "moved": "web",
    }
    assert out["metadata"]["finalizers"] == [
        "first",
        "a.example.com/x",
        "b.example.com/y",
        "c.example.com/z",
    ]
    assert [c["name"] for c in containers(out)] == ["app"]
    assert containers(out)[0]["env"][-1] == {"name": "C", "value": "3"}
    assert obj == deployment()


def test_json_patch_replace_of_missing_member_adds_it() -> None:
    # evanphx/json-patch v4 patch.go: partialDoc.get never fails, so replace acts as add.
    out = json_patch(
        {"metadata": {"labels": {}}},
        [{"op": "replace", "path": "/metadata/labels/new", "value": "x"}],
    )
    assert out == {"metadata": {"labels": {"new": "x"}}}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [{"op": "test", "path": "/spec/replicas", "value": 9}],
            "testing value /spec/replicas failed: test failed",
        ),
        (
            [{"op": "test", "path": "/spec/replicas", "value": "2"}],
            "testing value /spec/replicas failed: test failed",
        ),
        (
            [{"op": "remove", "path": "/metadata/labels/nope"}],
            "error in remove for path: '/metadata/labels/nope': "
            "Unable to remove nonexistent key: nope: missing value",
        ),
        (
            [{"op": "add", "path": "/missing/deeper/x", "value": 1}],
            'add operation does not apply: doc is missing path: "/missing/deeper/x": missing value',
        ),
        (
            [{"op": "add", "path": "/metadata/finalizers/7", "value": "x"}],
            "error in add for path: '/metadata/finalizers/7': "
            "Unable to access invalid index: 7: invalid index referenced",
        ),
        (
            [{"op": "replace", "path": "/metadata/finalizers/5", "value": "x"}],
            "replace operation does not apply: doc is missing key: /metadata/finalizers/5: "
            "missing value",
        ),
        (
            [{"op": "remove", "path": "/metadata/finalizers/-"}],
            "error in remove for path: '/metadata/finalizers/-': "
            'strconv.Atoi: parsing "-": invalid syntax',
        ),
        ([{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
        ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
    ],
)
def test_json_patch_failures_are_422(ops: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PatchError) as err:
        json_patch(deployment(), ops)
    assert err.value.code == 422
    assert str(err.value) == message


def test_json_patch_test_of_absent_member_with_null_passes() -> None:
    assert json_patch({"a": 1}, [{"op": "test", "path": "/b", "value": None}]) == {"a": 1}


def test_json_patch_body_errors() -> None:
    with pytest.raises(PatchError) as err:
        json_patch({}, {"op": "add"})
    assert err.value.code == 400
    with pytest.raises(PatchError) as err:
        json_patch({}, [{"op": "test", "path": "/a"}] * 10001)
    assert err.value.code == 413


def test_json_patch_is_atomic_for_callers() -> None:
    obj = {"a": [1, 2]}
    with pytest.raises(PatchError):
        json_patch(
            obj, [{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a", "value": []}]
        )
    assert obj == {"a": [1, 2]}


# --- strategic merge patch ---


def test_smp_kubectl_set_image_merges_containers_by_name() -> None:
    # kubectl set image deploy/web app=nginx:1.27
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}
    }
    obj = deployment()
    out = smp(obj, patch)
    assert [c["name"] for c in containers(out)] == ["app", "sidecar"]
    assert containers(out)[0]["image"] == "nginx:1.27"
    assert containers(out)[0]["env"] == containers(obj)[0]["env"]
    assert obj == deployment()


def test_smp_new_list_items_go_before_server_only_ones() -> None:
    # strategicpatch/patch.go mergeSortedSlice: an item absent from the live list is placed
    # before the remaining server-only items when no $setElementOrder is sent.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}}
    assert [c["name"] for c in containers(smp(deployment(), patch))] == ["new", "app", "sidecar"]


def test_smp_env_merge_delete_and_null_field() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [
                                {"name": "A", "$patch": "delete"},
                                {
                                    "name": "B",
                                    "value": None,
                                    "valueFrom": {"fieldRef": {"fieldPath": "x"}},
                                },
                            ],
                        }
                    ]
                }
            }
        }
    }
    env = containers(smp(deployment(), patch))[0]["env"]
    assert env == [{"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]


def test_smp_atomic_lists_are_replaced() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "tolerations": [{"key": "other", "operator": "Exists"}],
                    "containers": [{"name": "sidecar", "args": ["sleep", "2d"]}],
                }
            }
        }
    }
    out = smp(deployment(), patch)
    assert out["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "other", "operator": "Exists"}
    ]
    assert containers(out)[1]["args"] == ["sleep", "2d"]


def test_smp_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    out = smp(deployment(), {"metadata": {"finalizers": ["b.example.com/y", "c.example.com/z"]}})
    assert out["metadata"]["finalizers"] == [
        "a.example.com/x",
        "b.example.com/y",
        "c.example.com/z",
    ]
    out = smp(
        deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]}}
    )
    assert out["metadata"]["finalizers"] == ["b.example.com/y"]


def test_smp_patch_replace_directive_on_list_and_map() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "solo", "image": "x"}, {"$patch": "replace"}]}
            }
        }
    }
    assert containers(smp(deployment(), patch)) == [{"name": "solo", "image": "x"}]
    out = smp(deployment(), {"metadata": {"labels": {"$patch": "replace", "only": "me"}}})
    assert out["metadata"]["labels"] == {"only": "me"}
    out = smp(deployment(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert out["metadata"]["labels"] == {}


def test_smp_merge_directive_is_rejected() -> None:
    # patch.go: "$patch: merge" is not handled for maps nor list items.
    with pytest.raises(PatchError):
        smp(deployment(), {"metadata": {"labels": {"$patch": "merge"}}})
    with pytest.raises(PatchError, match="merging lists cannot yet be specified"):
        smp(deployment(), {"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}})


def test_smp_kubectl_apply_three_way_patch_with_set_element_order() -> None:
    # What kubectl apply sends after removing the sidecar and adding env C before B.
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                            "env": [{"name": "C", "value": "3"}],
                            "name": "app",
                        },
                        {"$patch": "delete", "name": "sidecar"},
                    ],
                }
            }
        },
    }
    out = smp(deployment(), patch)
    assert [c["name"] for c in containers(out)] == ["app"]
    assert [e["name"] for e in containers(out)[0]["env"]] == ["A", "C", "B"]
    assert "$setElementOrder/env" not in containers(out)[0]


def test_smp_set_element_order_keeps_server_only_items() -> None:
    # patch_test.go "set elements order in a list with server-only items".
    obj = deployment()
    containers(obj).append({"name": "injected", "image": "mesh"})
    patch = {
        "spec": {
            "template": {
                "spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}
            }
        }
    }
    assert [c["name"] for c in containers(smp(obj, patch))] == ["sidecar", "app", "injected"]


def test_smp_retain_keys_clears_other_strategy_fields() -> None:
    # kubectl apply switching the strategy to Recreate sends $retainKeys (DeploymentSpec.strategy
    # is patchStrategy=retainKeys).
    patch = {
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}
    }
    assert smp(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError) as err:
        smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}})
    assert err.value.code == 400


def test_smp_retain_keys_on_volume_items() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "volumes": [
                        {
                            "name": "data",
                            "$retainKeys": ["name", "configMap"],
                            "configMap": {"name": "cm"},
                        }
                    ]
                }
            }
        }
    }
    volumes = smp(deployment(), patch)["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "data", "configMap": {"name": "cm"}}]


def test_smp_service_ports_merge_by_port() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }
    out = smp(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}})
    # Every merged item is in the patch, so the patch order wins.
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"port": 443},
    ]


def test_smp_pod_and_cronjob_paths() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}]},
    }
    out = smp(pod, {"spec": {"containers": [{"name": "a", "image": "y"}]}})
    assert out["spec"]["containers"] == [{"name": "a", "image": "y"}]
    cj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]
                        }
                    }
                }
            }
        },
    }
    out = smp(
        cj,
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}
                }
            }
        },
    )
    got = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert got == [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]


def test_smp_pdb_selector_is_replaced_whole() -> None:
    # PodDisruptionBudgetSpec.selector has patchStrategy=replace.
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p"},
        "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}},
    }
    out = smp(pdb, {"spec": {"selector": {"matchLabels": {"c": "3"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"c": "3"}}


def test_smp_errors_and_codes() -> None:
    with pytest.raises(PatchError) as err:
        smp(deployment(), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    assert err.value.code == 500
    assert "does not contain declared merge key: name" in str(err.value)
    with pytest.raises(PatchError) as err:
        smp(deployment(), {"metadata": {"$deleteFromPrimitiveList": ["x"]}})
    assert err.value.code == 400
    # patch.go sliceElementType: a mismatch against the live items is a plain (500) error,
    # a list as the first element is ErrNoListOfLists, which the apiserver maps to 422.
    with pytest.raises(PatchError) as err:
        smp(deployment(), {"metadata": {"finalizers": [["nested"]]}})
    assert err.value.code == 500
    obj = deployment()
    obj["metadata"]["finalizers"] = []
    with pytest.raises(PatchError) as err:
        smp(obj, {"metadata": {"finalizers": [["nested"]]}})
    assert err.value.code == 422


def test_smp_refused_for_custom_resources() -> None:
    assert supports_strategic_merge("apps/v1", "Deployment")
    assert not supports_strategic_merge("example.com/v1", "Widget")
    with pytest.raises(PatchError) as err:
        strategic_merge_patch({"a": 1}, {"a": 2}, "example.com/v1", "Widget")
    assert err.value.code == 415


def test_smp_does_not_mutate_inputs() -> None:
    obj, patch = deployment(), {"metadata": {"labels": {"$patch": "replace", "x": "y"}}}
    before = copy.deepcopy(patch)
    smp(obj, patch)
    assert obj == deployment()
    assert patch == before


def test_smp_null_deletes_and_absent_nulls_are_ignored() -> None:
    out = smp(deployment(), {"metadata": {"labels": {"tier": None, "ghost": None}}})
    assert out["metadata"]["labels"] == {"app": "web"}
