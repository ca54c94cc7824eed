"""Field errors, Status bodies, name rules and ObjectMeta validation (apimachinery parity)."""

from __future__ import annotations

import pytest

from luban.kube.validation import (
    FieldError,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    go_float,
    invalid,
    invalid_status,
    label_value,
    name_is_dns_label,
    name_is_dns_subdomain,
    name_rule_for,
    not_supported,
    path_segment_name,
    qualified_name,
    required,
    too_long,
    too_many,
    validate_object_meta,
    validate_object_meta_update,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def test_error_rendering_matches_field_error() -> None:
    assert invalid("metadata.name", "Foo_", SUBDOMAIN_MSG).message() == (
        f'metadata.name: Invalid value: "Foo_": {SUBDOMAIN_MSG}'
    )
    assert required("spec.replicas").message() == "spec.replicas: Required value"
    assert not_supported("spec.color", "pink", ["red", "blue"]).message() == (
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"'
    )
    assert too_long("x", 5).message() == "x: Too long: may not be more than 5 bytes"
    assert too_many("x", 3, 1).message() == "x: Too many: 3: must have at most 1 item"
    assert invalid("x", 3, "d").message() == "x: Invalid value: 3: d"
    assert invalid("x", 1.5, "d").message() == "x: Invalid value: 1.5: d"
    assert invalid("x", True, "d").message() == "x: Invalid value: true: d"
    assert invalid("x", None, "d").message() == "x: Invalid value: null: d"
    assert invalid("x", {"b": 1, "a": "<"}, "d").message() == (
        'x: Invalid value: {"a":"\\u003c","b":1}: d'
    )
    assert invalid("x", 'a"\n', "").message() == 'x: Invalid value: "a\\"\\n"'


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (1e6, "1e+06"), (123456.0, "123456"), (0.0001, "0.0001"), (1e-5, "1e-05")],
)
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_invalid_status_single_and_multiple() -> None:
    one = invalid_status("CronTab", "stable.example.com", "my", [required("spec.replicas")])
    assert one == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'CronTab.stable.example.com "my" is invalid: spec.replicas: Required value',
        "reason": "Invalid",
        "details": {
            "name": "my",
            "group": "stable.example.com",
            "kind": "CronTab",
            "causes": [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": "spec.replicas",
                }
            ],
        },
        "code": 422,
    }
    errs = [required("a"), required("a"), invalid("b", "x", "bad")]
    many = invalid_status("ConfigMap", "", "cm", errs)
    assert many["message"] == (
        'ConfigMap "cm" is invalid: [a: Required value, b: Invalid value: "x": bad]'
    )
    assert "group" not in many["details"]
    assert len(many["details"]["causes"]) == 3


def test_name_validators() -> None:
    assert dns1123_subdomain("example.com") == []
    assert dns1123_subdomain("Foo_") == [SUBDOMAIN_MSG]
    assert dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    assert dns1123_label("a.b") == ["must not contain dots"]
    assert dns1123_label("-a")[0].startswith("a lowercase RFC 1123 label must consist")
    assert dns1035_label("1abc")[0].startswith("a DNS-1035 label must consist")
    assert dns1035_label("abc-1") == []
    assert qualified_name("example.com/MyName") == []
    assert qualified_name("/x") == ["prefix part must be non-empty"]
    assert qualified_name("a/b/c")[0].startswith("a valid label key must consist")
    assert qualified_name("x" * 64) == ["name part must be no more than 63 bytes"]
    assert label_value("") == []
    assert label_value("-x")[0].startswith("a valid label must be an empty string")
    assert path_segment_name("..") == ["may not be '..'"]
    assert path_segment_name("a/b%") == ["may not contain '/'", "may not contain '%'"]
    assert path_segment_name("system:admin") == []
    assert name_is_dns_subdomain("gen-", True) == []
    assert name_is_dns_label("gen-", True) == []


def test_name_rule_table() -> None:
    assert name_rule_for("", "namespaces")("a.b", False) == ["must not contain dots"]
    assert name_rule_for("", "services")("1abc", False)
    assert name_rule_for("", "configmaps")("a.b", False) == []
    assert name_rule_for("rbac.authorization.k8s.io", "clusterroles")("system:x", False) == []
    assert name_rule_for("stable.example.com", "crontabs")("UP", False)


def test_object_meta_name_namespace() -> None:
    errs = validate_object_meta({}, True, name_is_dns_subdomain)
    assert [e.message() for e in errs] == [
        "metadata.name: Required value: name or generateName is required",
        "metadata.namespace: Required value",
    ]
    errs = validate_object_meta({"name": "ok", "namespace": "ns"}, False, name_is_dns_subdomain)
    assert [e.message() for e in errs] == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]
    errs = validate_object_meta({"generateName": "Bad-", "name": "x"}, False, name_is_dns_subdomain)
    assert errs[0].field == "metadata.generateName"


def test_object_meta_labels_annotations_finalizers_owners() -> None:
    meta = {
        "name": "x",
        "labels": {"bad key!": "v", "ok": "-bad"},
        "annotations": {"big": "x" * (256 * 1024)},
        "finalizers": ["orphan", "foregroundDeletion", "a/b/c"],
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "1", "controller": True},
            {"apiVersion": "a/b/c", "kind": "Pod", "name": "q", "uid": "2", "controller": True},
            {"apiVersion": "v1", "kind": "Event", "name": "e"},
        ],
    }
    msgs = [e.message() for e in validate_object_meta(meta, False, name_is_dns_subdomain)]
    assert any(m.startswith('metadata.labels: Invalid value: "bad key!": name part') for m in msgs)
    assert any(m.startswith('metadata.labels: Invalid value: "-bad": a valid label') for m in msgs)
    assert "metadata.annotations: Too long: may not be more than 262144 bytes" in msgs
    assert any("finalizer orphan and foregroundDeletion cannot be both set" in m for m in msgs)
    assert any(m.startswith('metadata.finalizers: Invalid value: "a/b/c"') for m in msgs)
    assert (
        'metadata.ownerReferences[1].apiVersion: Invalid value: "a/b/c": '
        "must be <group>/<version> or <version>"
    ) in msgs
    assert "metadata.ownerReferences[2].uid: Required value: must not be empty" in msgs
    assert any("/v1, Kind=Event is disallowed from being an owner" in m for m in msgs)
    assert any('Found "true" in references for Pod/p and Pod/q' in m for m in msgs)


def test_object_meta_update() -> None:
    old = {"name": "a", "uid": "u", "generation": 3, "deletionTimestamp": "t", "finalizers": []}
    new = {"name": "b", "uid": "u", "generation": 2, "deletionTimestamp": "t", "finalizers": ["x"]}
    msgs = [e.message() for e in validate_object_meta_update(new, old)]
    assert msgs == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"x"}',
        'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        "metadata.generation: Invalid value: 2: must not be decremented",
        'metadata.name: Invalid value: "b": field is immutable',
    ]


def test_field_error_is_frozen() -> None:
    e = FieldError("a", "FieldValueRequired", "", "")
    with pytest.raises(AttributeError):
        e.field = "b"  # type: ignore[misc]
