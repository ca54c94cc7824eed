"""Structural schema validation, pruning, defaulting and CRD validation (apiextensions parity)."""

from __future__ import annotations

import copy
from typing import Any

from luban.kube.schema import apply_defaults, prune, prune_with_paths, validate, validate_crd

CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["cronSpec"],
            "properties": {
                "cronSpec": {
                    "type": "string",
                    "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$",
                },
                "image": {"type": "string", "minLength": 3, "maxLength": 20},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "port": {"x-kubernetes-int-or-string": True},
                "ratio": {
                    "type": "number",
                    "multipleOf": 0.5,
                    "exclusiveMaximum": True,
                    "maximum": 2,
                },
                "size": {"type": "integer", "format": "int32"},
                "startAt": {"type": "string", "format": "date-time"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                    "minItems": 1,
                    "maxItems": 3,
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "labels": {
                    "type": "object",
                    "maxProperties": 2,
                    "additionalProperties": {"type": "string"},
                },
                "extra": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "known": {"type": "object", "properties": {"a": {"type": "integer"}}}
                    },
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "nullableNote": {"type": "string", "nullable": True},
                "mode": {"type": "string", "oneOf": [{"enum": ["a"]}, {"enum": ["b"]}]},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def msgs(obj: Any, schema: dict[str, Any] = CRONTAB_SCHEMA, path: str = "") -> list[str]:
    return [e.message() for e in validate(obj, schema, path)]


def test_valid_crontab_has_no_errors() -> None:
    obj = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "x"},
        "spec": {
            "cronSpec": "* * * * */5",
            "image": "my-image",
            "replicas": 3,
            "port": "http",
            "ratio": 1.5,
            "tags": ["a"],
            "ports": [{"name": "a"}, {"name": "b"}],
            "nullableNote": None,
            "mode": "a",
            "startAt": "2024-01-02T03:04:05Z",
        },
    }
    assert msgs(obj) == []


def test_type_errors_match_kube_openapi() -> None:
    spec = {"cronSpec": "* * * * *"}
    assert msgs({"spec": {**spec, "replicas": "string"}}) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: '
        '"string"'
    ]
    assert msgs({"spec": {**spec, "port": True}}) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: '
        '"boolean"'
    ]
    assert msgs({"spec": {**spec, "image": None}}) == [
        'spec.image: Invalid value: "null": spec.image in body must be of type string: "null"'
    ]
    assert msgs({"spec": {**spec, "replicas": 4.0}}) == []


def test_required_enum_lengths_pattern() -> None:
    assert msgs({"spec": {}}) == ["spec.cronSpec: Required value"]
    base = {"cronSpec": "* * * * *"}
    assert msgs({"spec": {**base, "color": "pink"}}) == [
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"'
    ]
    assert msgs({"spec": {**base, "image": "x" * 21}}) == [
        "spec.image: Too long: may not be more than 20 bytes"
    ]
    assert msgs({"spec": {**base, "image": "ab"}}) == [
        'spec.image: Invalid value: "ab": spec.image in body should be at least 3 chars long'
    ]
    pattern = CRONTAB_SCHEMA["properties"]["spec"]["properties"]["cronSpec"]["pattern"]
    assert msgs({"spec": {"cronSpec": "bad"}}) == [
        f"spec.cronSpec: Invalid value: \"bad\": spec.cronSpec in body should match '{pattern}'"
    ]


def test_numeric_bounds_and_formats() -> None:
    base = {"cronSpec": "* * * * *"}
    assert msgs({"spec": {**base, "replicas": 0}}) == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal "
        "to 1"
    ]
    assert msgs({"spec": {**base, "replicas": 11}}) == [
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    ]
    assert msgs({"spec": {**base, "ratio": 2.0}}) == [
        "spec.ratio: Invalid value: 2: spec.ratio in body should be less than 2"
    ]
    # kube-openapi truncates a fractional multipleOf to int64 for integer values.
    assert msgs({"spec": {**base, "ratio": 1}}) == [
        "spec.ratio: Invalid value: 0: factor MultipleOf declared for spec.ratio must be "
        "positive: 0"
    ]
    assert msgs({"spec": {**base, "ratio": 0.3}}) == [
        "spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.5"
    ]
    assert msgs({"spec": {**base, "size": 2**31}}) == [
        '<nil>: Invalid value: "": Checked value must be of type integer with format int32 in '
        "spec.size"
    ]
    assert msgs({"spec": {**base, "startAt": "yesterday"}}) == [
        'spec.startAt: Invalid value: "yesterday": spec.startAt in body must be of type date-time: '
        '"yesterday"'
    ]


def test_arrays_maps_and_list_types() -> None:
    base = {"cronSpec": "* * * * *"}
    assert msgs({"spec": {**base, "tags": []}}) == [
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"
    ]
    assert msgs({"spec": {**base, "tags": ["a", "b", "c", "d"]}}) == [
        "spec.tags: Too many: 4: must have at most 3 items"
    ]
    assert msgs({"spec": {**base, "tags": ["a", "b", "a"]}}) == [
        'spec.tags[2]: Duplicate value: "a"'
    ]
    ports = [{"name": "a", "port": 1}, {"port": 2}, {"name": "a", "port": 3}]
    assert msgs({"spec": {**base, "ports": ports}}) == [
        "spec.ports[1].name: Required value",
        'spec.ports[2]: Duplicate value: {"name":"a"}',
    ]
    assert msgs({"spec": {**base, "labels": {"a": "1", "b": 2, "c": "3"}}}) == [
        "spec.labels: Too many: 3: must have at most 2 items",
        'spec.labels.b: Invalid value: "integer": spec.labels.b in body must be of type string: '
        '"integer"',
    ]


def test_one_of_and_embedded_resource() -> None:
    base = {"cronSpec": "* * * * *"}
    out = msgs({"spec": {**base, "mode": "c"}})
    assert (
        '<nil>: Invalid value: "": "spec.mode" must validate one and only one schema (oneOf). '
        "Found none valid" in out
    )
    out = msgs({"spec": {**base, "template": {"kind": "Pod", "metadata": {"name": "a/b"}}}})
    assert out == [
        "spec.template.apiVersion: Required value",
        "spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'",
    ]


def test_status_path_prefix() -> None:
    status_schema = CRONTAB_SCHEMA["properties"]["status"]
    assert msgs({"ready": "yes"}, status_schema, "status") == [
        'status.ready: Invalid value: "string": ready in body must be of type boolean: "string"'
    ]


def test_prune_removes_unknown_and_keeps_meta() -> None:
    obj = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "x", "junk": 1, "labels": {"a": "b"}},
        "spec": {
            "cronSpec": "*",
            "unknown": 1,
            "ports": [{"name": "a", "bogus": True}],
            "extra": {"free": {"x": 1}, "known": {"a": 1, "b": 2}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "zz": 1},
                "spec": {"anything": True},
            },
        },
        "topLevel": "gone",
    }
    before = copy.deepcopy(obj)
    pruned, unknown = prune_with_paths(obj, CRONTAB_SCHEMA)
    assert obj == before
    assert pruned == {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {
            "cronSpec": "*",
            "ports": [{"name": "a"}],
            "extra": {"free": {"x": 1}, "known": {"a": 1}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"anything": True},
            },
        },
    }
    assert unknown == [
        "metadata.junk",
        "spec.extra.known.b",
        "spec.ports[0].bogus",
        "spec.template.metadata.zz",
        "spec.unknown",
        "topLevel",
    ]
    nested = {"type": "object", "properties": {"spec": {"type": "object"}}}
    assert prune({"spec": {"kind": "x", "metadata": {}}}, nested) == {"spec": {}}


def test_defaults_and_null_pruning() -> None:
    obj = {
        "spec": {
            "cronSpec": "*",
            "ports": [{"name": "a"}, {"name": "b", "protocol": "UDP"}],
            "image": None,
            "nullableNote": None,
        }
    }
    before = copy.deepcopy(obj)
    out = apply_defaults(obj, CRONTAB_SCHEMA)
    assert obj == before
    assert out == {
        "spec": {
            "cronSpec": "*",
            "replicas": 1,
            "nullableNote": None,
            "ports": [{"name": "a", "protocol": "TCP"}, {"name": "b", "protocol": "UDP"}],
        }
    }
    assert apply_defaults({"spec": {"replicas": None}}, CRONTAB_SCHEMA)["spec"]["replicas"] == 1
    assert apply_defaults({}, CRONTAB_SCHEMA) == {}


def crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "crontabs",
                "singular": "crontab",
                "kind": "CronTab",
                "shortNames": ["ct"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": CRONTAB_SCHEMA},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                }
            ],
        },
    }
    base["spec"].update(spec)
    return base


def test_valid_crd() -> None:
    assert [e.message() for e in validate_crd(crd())] == []


def test_crd_names_scope_versions() -> None:
    bad = crd(scope="Everywhere", names={"plural": "CronTabs", "kind": "Cron Tab"})
    bad["metadata"]["name"] = "wrong.example.com"
    out = [e.message() for e in validate_crd(bad)]
    assert (
        'metadata.name: Invalid value: "wrong.example.com": must be '
        'spec.names.plural+"."+spec.group' in out
    )
    assert (
        'spec.scope: Unsupported value: "Everywhere": supported values: "Cluster", "Namespaced"'
        in out
    )
    assert any(
        m.startswith('spec.names.plural: Invalid value: "CronTabs": a DNS-1035 label') for m in out
    )
    assert any(
        m.startswith('spec.names.kind: Invalid value: "Cron Tab": may have mixed case') for m in out
    )
    two = crd(
        versions=[
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": CRONTAB_SCHEMA},
            },
            {
                "name": "v2",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": CRONTAB_SCHEMA},
            },
        ]
    )
    out = [e.message() for e in validate_crd(two)]
    assert any(
        m.startswith("spec.versions: Invalid value: ")
        and m.endswith("must have exactly one version marked as storage version")
        for m in out
    )
    none = [e.message() for e in validate_crd(crd(versions=[]))]
    assert any(m.endswith("must have exactly one version marked as storage version") for m in none)


def test_crd_structural_schema_required() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"properties": {"x": {"type": "array"}}},
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        },
    }
    c = crd(
        versions=[
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
        ]
    )
    out = [e.message() for e in validate_crd(c)]
    p = "spec.validation.openAPIV3Schema"
    assert out == [
        f"{p}.properties[metadata]: Forbidden: must not specify anything other than name and "
        "generateName, but metadata is implicitly specified",
        f"{p}.properties[spec].properties[x].items: Required value: must be specified",
        f"{p}.properties[spec].type: Required value: must not be empty for specified object fields",
    ]
    missing = crd(versions=[{"name": "v1", "served": True, "storage": True}])
    assert [e.message() for e in validate_crd(missing)] == [
        "spec.versions[0].schema.openAPIV3Schema: Required value"
    ]


def test_crd_subresources_and_list_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "l": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "items": {"type": "string"},
                    }
                },
            }
        },
    }
    c = crd(
        versions=[
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {
                    "scale": {"specReplicasPath": "spec.replicas", "statusReplicasPath": ".spec.x"}
                },
            }
        ]
    )
    out = [e.message() for e in validate_crd(c)]
    p = "spec.validation.openAPIV3Schema.properties[spec].properties[l]"
    assert out == [
        'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: "spec.replicas": '
        "must be a simple json path starting with .",
        'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: ".spec.x": '
        "should be a json path under .status",
        f"{p}.x-kubernetes-list-map-keys: Required value: must not be empty if "
        "x-kubernetes-list-type is map",
        f'{p}.items.type: Invalid value: "string": must be object if parent array\'s '
        "x-kubernetes-list-type is map",
    ]
