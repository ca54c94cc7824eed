"""Server-side apply and managedFields, checked against what the real API server does."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from luban.kube import fieldsets as fs
from luban.kube.apply import (
    LAST_APPLIED,
    ApplyBadRequest,
    ApplyConflict,
    default_manager,
    map_kind_from_schema,
    record_update,
    server_side_apply,
)
from luban.kube.fieldsets import FieldSet
from luban.kube.structured import Shape, compare, merge, to_field_set

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"


@dataclass(frozen=True)
class LS:
    """A local stand-in for patchmeta.ListStrategy."""

    kind: Literal["map", "set", "atomic"]
    keys: tuple[str, ...] = ()


_LISTS = {
    ("metadata", "finalizers"): LS("set"),
    ("metadata", "ownerReferences"): LS("map", ("uid",)),
    ("spec", "template", "spec", "containers"): LS("map", ("name",)),
    ("spec", "template", "spec", "containers", "ports"): LS("map", ("containerPort", "protocol")),
    ("spec", "template", "spec", "containers", "env"): LS("map", ("name",)),
}


def strategy(path: tuple[str, ...]) -> LS | None:
    return _LISTS.get(path)


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
            },
        },
    }
    base["spec"].update(spec)
    return base


def apply(
    live: dict[str, Any] | None,
    obj: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    now: str = T0,
    **kw: Any,
) -> dict[str, Any]:
    return server_side_apply(live, obj, manager, force, strategy, now=now, **kw)


def update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = T0, **kw: Any
) -> dict[str, Any]:
    return record_update(old, new, manager, "Update", strategy, now=now, **kw)


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- exact managedFields shapes


def test_create_by_apply_writes_the_servers_entry() -> None:
    obj = deployment()
    containers(obj)[0]["ports"] = [{"containerPort": 80}]
    out = apply(None, obj, "kubectl")
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"nginx"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["name"] == "web"


def test_create_by_update_owns_new_maps_and_lists_themselves() -> None:
    obj = deployment()
    containers(obj)[0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    out = update(None, obj, "kubectl-create")
    # Maps and lists that did not exist in the empty typed object get ".": labels, ports;
    # spec/template/containers are part of the Go zero value and do not.
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"nginx"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        ".": {},
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                            "f:protocol": {},
                                        },
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_custom_resource_create_owns_spec_itself() -> None:
    cr = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "extra": {"a": {"b": 1}}},
    }
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    out = record_update(
        None,
        cr,
        "kubectl-create",
        "Update",
        lambda p: None,
        map_kind=map_kind_from_schema(schema),
        now=T0,
    )
    assert entries(out)[("kubectl-create", "Update")] == {
        "f:spec": {".": {}, "f:extra": {".": {}, "f:a": {".": {}, "f:b": {}}}, "f:size": {}}
    }
    applied = apply(None, cr, "mgr", map_kind=map_kind_from_schema(schema))
    # Under an untyped map, a non-empty child map is a member too ("." on f:a).
    assert entries(applied)[("mgr", "Apply")] == {
        "f:spec": {"f:extra": {"f:a": {".": {}, "f:b": {}}}, "f:size": {}}
    }


# ---------------------------------------------------------------- apply semantics


def test_reapply_without_a_field_removes_it() -> None:
    first = deployment()
    first["metadata"]["labels"]["tier"] = "front"
    live = apply(None, first, "mgr")
    second = deployment()
    del second["spec"]["replicas"]
    out = apply(live, second, "mgr", now=T1)
    assert "replicas" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "web"}
    fields = entries(out)[("mgr", "Apply")]
    assert "f:replicas" not in fields["f:spec"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert out["metadata"]["managedFields"][0]["time"] == T1


def test_field_shared_by_two_appliers_survives_one_dropping_it() -> None:
    live = apply(None, deployment(), "a")
    live = apply(live, deployment(), "b", now=T1)  # same values: shared, no conflict
    assert set(entries(live)) == {("a", "Apply"), ("b", "Apply")}
    dropped = deployment()
    del dropped["spec"]["replicas"]
    out = apply(live, dropped, "a", now=T2)
    assert out["spec"]["replicas"] == 2
    assert "f:replicas" in entries(out)[("b", "Apply")]["f:spec"]
    assert "f:replicas" not in entries(out)[("a", "Apply")]["f:spec"]


def test_field_set_by_an_updater_is_not_removed_by_prune() -> None:
    live = apply(None, deployment(), "a")
    edited = copy.deepcopy(live)
    edited["metadata"]["annotations"] = {"note": "hi"}
    live = update(live, edited, "kubectl-annotate", now=T1)
    out = apply(live, deployment(), "a", now=T2)
    assert out["metadata"]["annotations"] == {"note": "hi"}


def test_conflict_with_an_update_manager_is_a_409() -> None:
    live = update(None, deployment(), "kubectl-client-side-apply")
    with pytest.raises(ApplyConflict) as err:
        apply(live, deployment(replicas=5), "mgr")
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:'
        " .spec.replicas"
    )
    status = err.value.status()
    assert status["code"] == 409
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_conflicts_with_appliers_and_many_fields() -> None:
    live = apply(None, deployment(), "a")
    changed = deployment(replicas=9)
    containers(changed)[0]["image"] = "nginx:2"
    with pytest.raises(ApplyConflict) as err:
        apply(live, changed, "b")
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    )
    assert [c.field for c in err.value.conflicts] == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="nginx"].image',
    ]


def test_force_takes_ownership() -> None:
    live = update(None, deployment(), "kubectl-client-side-apply")
    out = apply(live, deployment(replicas=5), "mgr", force=True, now=T1)
    assert out["spec"]["replicas"] == 5
    assert "f:replicas" in entries(out)[("mgr", "Apply")]["f:spec"]
    assert "f:replicas" not in entries(out)[("kubectl-client-side-apply", "Update")]["f:spec"]


def test_containers_are_owned_per_merge_key() -> None:
    a = deployment()
    live = apply(None, a, "a")
    b = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}},
    }
    live = apply(live, b, "b", now=T1)
    assert [c["name"] for c in containers(live)] == ["nginx", "sidecar"]
    assert entries(live)[("b", "Apply")] == {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"sidecar"}': {".": {}, "f:image": {}, "f:name": {}}}
                }
            }
        }
    }
    # a stops applying its container: it goes, b's stays (live-only items merge first).
    a2 = deployment()
    containers(a2)[0] = {"name": "web2", "image": "httpd"}
    out = apply(live, a2, "a", now=T2)
    assert [c["name"] for c in containers(out)] == ["sidecar", "web2"]


def test_finalizers_are_a_set() -> None:
    def with_finalizers(*names: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "finalizers": list(names)},
        }

    live = apply(None, with_finalizers("x.io/a"), "a")
    live = apply(live, with_finalizers("x.io/b"), "b", now=T1)
    assert live["metadata"]["finalizers"] == ["x.io/a", "x.io/b"]
    assert entries(live)[("b", "Apply")] == {"f:metadata": {"f:finalizers": {'v:"x.io/b"': {}}}}
    out = apply(live, with_finalizers(), "a", now=T2)
    assert out["metadata"]["finalizers"] == ["x.io/b"]


def test_label_and_annotation_keys_are_owned_one_by_one() -> None:
    def cm(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": labels, "annotations": annotations},
        }

    live = apply(None, cm({"a": "1", "shared": "s"}, {"note": "x"}), "a")
    live = apply(live, cm({"b": "2", "shared": "s"}, {}), "b", now=T1)
    out = apply(live, cm({}, {}), "a", now=T2)
    assert out["metadata"]["labels"] == {"b": "2", "shared": "s"}
    assert "annotations" not in out["metadata"]


def test_apply_of_unchanged_config_keeps_the_time() -> None:
    live = apply(None, deployment(), "a")
    again = apply(live, deployment(), "a", now=T2)
    assert again["metadata"]["managedFields"][0]["time"] == T0


def test_apply_over_untracked_object_conflicts_with_before_first_apply() -> None:
    live = deployment()
    live["metadata"]["uid"] = "u1"
    with pytest.raises(ApplyConflict) as err:
        apply(live, deployment(replicas=3), "mgr")
    assert err.value.message.endswith('"before-first-apply" using apps/v1: .spec.replicas')
    out = apply(live, deployment(), "mgr")
    assert {m for m, _ in entries(out)} == {"mgr", "before-first-apply"}


def test_kubectl_takes_over_client_side_apply_fields() -> None:
    created = deployment()
    created["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(deployment()) + "\n"}
    live = update(None, created, "kubectl-client-side-apply")
    out = apply(live, deployment(replicas=4), "kubectl", now=T1)
    assert out["spec"]["replicas"] == 4
    last = json.loads(out["metadata"]["annotations"][LAST_APPLIED])
    assert last["spec"]["replicas"] == 4
    assert out["metadata"]["annotations"][LAST_APPLIED].endswith("}\n")
    # A field changed since the last client-side apply still conflicts.
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 7
    live2 = update(live, edited, "kubectl-edit", now=T1)
    with pytest.raises(ApplyConflict) as err:
        apply(live2, deployment(replicas=4), "kubectl", now=T2)
    assert 'conflict with "kubectl-edit" using apps/v1: .spec.replicas' in err.value.message


def test_apply_rejects_managed_fields_and_duplicate_keys() -> None:
    obj = deployment()
    obj["metadata"]["managedFields"] = []
    with pytest.raises(ApplyBadRequest, match="managedFields must be nil"):
        apply(None, obj, "m")
    dup = deployment()
    containers(dup).append({"name": "nginx", "image": "x"})
    with pytest.raises(ApplyBadRequest, match="duplicate entries"):
        apply(None, dup, "m")


def test_reset_fields_are_never_owned() -> None:
    obj = deployment()
    obj["status"] = {"replicas": 1}
    out = apply(None, obj, "m", reset_fields=[("status",)])
    assert "f:status" not in entries(out)[("m", "Apply")]


# ---------------------------------------------------------------- Update bookkeeping


def test_edit_moves_ownership_to_the_editor() -> None:
    live = apply(None, deployment(), "kubectl")
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 3
    edited["metadata"]["labels"]["env"] = "dev"
    out = update(live, edited, "kubectl-edit", now=T1)
    assert out["metadata"]["managedFields"][1] == {
        "manager": "kubectl-edit",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:env": {}}}, "f:spec": {"f:replicas": {}}},
    }
    assert "f:replicas" not in entries(out)[("kubectl", "Apply")]["f:spec"]
    # A second edit by the same manager merges into its entry.
    again = copy.deepcopy(out)
    again["metadata"]["labels"]["team"] = "x"
    out2 = update(out, again, "kubectl-edit", now=T2)
    assert entries(out2)[("kubectl-edit", "Update")]["f:metadata"] == {
        "f:labels": {"f:env": {}, "f:team": {}}
    }


def test_update_that_changes_nothing_leaves_entries_alone() -> None:
    live = update(None, deployment(), "creator")
    same = update(live, copy.deepcopy(live), "other", now=T2)
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_removed_field_leaves_every_owner() -> None:
    live = apply(None, deployment(), "a")
    edited = copy.deepcopy(live)
    del edited["metadata"]["labels"]
    out = update(live, edited, "kubectl-label", now=T1)
    assert "f:metadata" not in entries(out)[("a", "Apply")]
    assert ("kubectl-label", "Update") not in entries(out)


def test_client_managed_fields_empty_list_clears_and_invalid_is_ignored() -> None:
    live = apply(None, deployment(), "a")
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = []
    out = update(live, cleared, "kubectl-edit")
    assert "managedFields" not in out["metadata"]
    # Without entries, updates stay untracked.
    edited = copy.deepcopy(out)
    edited["spec"]["replicas"] = 9
    assert "managedFields" not in update(out, edited, "x")["metadata"]
    bogus = copy.deepcopy(live)
    bogus["metadata"]["managedFields"] = [{"manager": "x", "operation": "Nope"}]
    kept = update(live, bogus, "kubectl-edit")
    assert kept["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_managers_are_capped_at_ten() -> None:
    live = update(
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k0": "v"}},
        "m0",
        now="2024-01-01T00:00:00Z",
    )
    for i in range(1, 12):
        new = copy.deepcopy(live)
        new["data"][f"k{i}"] = "v"
        live = update(live, new, f"m{i}", now=f"2024-01-01T00:00:{i:02d}Z")
    names = [e["manager"] for e in live["metadata"]["managedFields"]]
    assert len(names) == 10
    assert "ancient-changes" in names
    ancient = entries(live)[("ancient-changes", "Update")]
    # Capping runs on every update: m1 joined m0 after the 11th, m2 after the 12th.
    assert ancient == {"f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}}


def test_subresource_entries_are_separate() -> None:
    live = apply(None, deployment(), "a")
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2}
    out = update(live, new, "kube-controller-manager", subresource="status")
    entry = out["metadata"]["managedFields"][-1]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


@pytest.mark.parametrize(
    ("agent", "manager"),
    [
        ("kubectl-edit/v1.30.0 (linux/amd64) kubernetes/7c48c2b", "kubectl-edit"),
        (
            "kubectl-client-side-apply/v1.30.0 (linux/amd64) kubernetes/7c48c2b",
            "kubectl-client-side-apply",
        ),
        ("OpenAPI-Generator/29.0.0/python", "OpenAPI-Generator"),
        ("python-requests/2.31", "python-requests"),
        ("tab\there", "tabhere"),
        ("x" * 200, "x" * 128),
        ("", ""),
    ],
)
def test_default_manager_from_user_agent(agent: str, manager: str) -> None:
    assert default_manager(agent) == manager


# ---------------------------------------------------------------- field sets


def test_fields_v1_round_trip_and_ordering() -> None:
    data = {
        "f:metadata": {"f:finalizers": {".": {}, 'v:"a"': {}, "v:2": {}}},
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
            "f:list": {"i:0": {}},
        },
    }
    s = FieldSet.from_fields_v1(data)
    out = s.to_fields_v1()
    # Numbers sort before strings; fields sort by name.
    assert list(out["f:metadata"]["f:finalizers"]) == [".", "v:2", 'v:"a"']
    assert list(out["f:spec"]) == ["f:list", "f:ports"]
    assert FieldSet.from_fields_v1(out) == s
    assert [fs.path_string(p) for p in s] == [
        ".metadata.finalizers",
        ".metadata.finalizers[=2]",
        '.metadata.finalizers[="a"]',
        ".spec.list[0]",
        '.spec.ports[port=80,protocol="TCP"]',
        '.spec.ports[port=80,protocol="TCP"].port',
    ]
    with pytest.raises(ValueError, match="invalid FieldsV1 key"):
        FieldSet.from_fields_v1({"k:{bad": {}})


def test_compare_and_merge_keep_live_only_items_in_place() -> None:
    shape = Shape(strategy)
    live = {"metadata": {"finalizers": ["a", "b", "c"]}}
    cfg = {"metadata": {"finalizers": ["c", "d"]}}
    assert merge(live, cfg, shape) == {"metadata": {"finalizers": ["a", "b", "c", "d"]}}
    cmp = compare(live, cfg, shape)
    assert [fs.path_string(p) for p in cmp.removed] == [
        '.metadata.finalizers[="a"]',
        '.metadata.finalizers[="b"]',
    ]
    assert [fs.path_string(p) for p in cmp.added] == ['.metadata.finalizers[="d"]']
    assert to_field_set({"spec": {"x": None, "y": {}, "z": []}}, shape) == FieldSet.of(
        fs.path_of("spec", "x"), fs.path_of("spec", "y"), fs.path_of("spec", "z")
    )


def test_with_patchmeta_tables() -> None:
    from luban.kube.patchmeta import list_strategy

    def st(path: tuple[str, ...]) -> Any:
        return list_strategy("apps/v1", "Deployment", path)

    obj = deployment()
    containers(obj)[0]["env"] = [{"name": "A", "value": "1"}]
    containers(obj)[0]["args"] = ["--x"]
    out = server_side_apply(None, obj, "m", False, st, now=T0)
    c = entries(out)[("m", "Apply")]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert c['k:{"name":"nginx"}'] == {
        ".": {},
        "f:args": {},
        "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
        "f:image": {},
        "f:name": {},
    }


def test_client_sent_managed_fields_replace_the_live_ones() -> None:
    # kubectl's client-side -> server-side upgrade rewrites managedFields with a JSON patch.
    live = update(None, deployment(), "kubectl-client-side-apply")
    upgraded = copy.deepcopy(live)
    entry = upgraded["metadata"]["managedFields"][0]
    entry.update(manager="kubectl", operation="Apply")
    out = update(live, upgraded, "kubectl-client-side-apply", now=T1)
    assert [(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]] == [
        ("kubectl", "Apply")
    ]
    again = apply(out, deployment(replicas=3), "kubectl", now=T2)
    assert again["spec"]["replicas"] == 3
