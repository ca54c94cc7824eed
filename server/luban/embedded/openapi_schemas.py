"""OpenAPI v3 component schemas: built-in kinds from the ``kubernetes`` client, CRDs from theirs.

Built-in schemas are derived from ``kubernetes.client.models`` (``openapi_types`` for field
types, ``attribute_map`` for JSON names, pydantic field descriptions and class docstrings for
``kubectl explain``), named the way the real API server names them
(``V1Deployment`` -> ``io.k8s.api.apps.v1.Deployment``). The client loses a few Go types
(Quantity, IntOrString, Time, RawExtension ...); small tables below put them back. Merge facts
(``x-kubernetes-patch-*``, ``x-kubernetes-list-*``) come from :mod:`luban.kube.patchmeta`.
"""

from __future__ import annotations

import copy
import functools
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import kubernetes.client.models as k8s_models

from luban.kube import patchmeta
from luban.kube.resources import ResourceType

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
FIELDS_V1 = f"{META}.FieldsV1"
PATCH = f"{META}.Patch"
_APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"

# Types the client models as plain strings / dicts that are Go types of their own.
# Each is (python class, python attribute).
_QUANTITY_FIELDS = frozenset(
    {
        ("V1ResourceRequirements", "limits"),
        ("V1ResourceRequirements", "requests"),
        ("V1VolumeResourceRequirements", "limits"),
        ("V1VolumeResourceRequirements", "requests"),
        ("V1ResourceQuotaSpec", "hard"),
        ("V1ResourceQuotaStatus", "hard"),
        ("V1ResourceQuotaStatus", "used"),
        ("V1LimitRangeItem", "default"),
        ("V1LimitRangeItem", "default_request"),
        ("V1LimitRangeItem", "max"),
        ("V1LimitRangeItem", "min"),
        ("V1LimitRangeItem", "max_limit_request_ratio"),
        ("V1NodeStatus", "allocatable"),
        ("V1NodeStatus", "capacity"),
        ("V1PersistentVolumeSpec", "capacity"),
        ("V1PersistentVolumeClaimStatus", "capacity"),
        ("V1PersistentVolumeClaimStatus", "allocated_resources"),
        ("V1ContainerStatus", "allocated_resources"),
        ("V1EmptyDirVolumeSource", "size_limit"),
        ("V1ResourceFieldSelector", "divisor"),
        ("V1PodSpec", "overhead"),
        ("V1Overhead", "pod_fixed"),
        ("V1CSIStorageCapacity", "capacity"),
        ("V1CSIStorageCapacity", "maximum_volume_size"),
        ("V1NodeAllocatableResourceClaimStatus", "resources"),
    }
)
_MICRO_TIME_FIELDS = frozenset(
    {
        ("CoreV1Event", "event_time"),
        ("EventsV1Event", "event_time"),
        ("CoreV1EventSeries", "last_observed_time"),
        ("EventsV1EventSeries", "last_observed_time"),
        ("V1LeaseSpec", "acquire_time"),
        ("V1LeaseSpec", "renew_time"),
    }
)
_OBJECT_FIELDS: dict[tuple[str, str], str] = {
    ("V1ControllerRevision", "data"): RAW_EXTENSION,
    ("V1WatchEvent", "object"): RAW_EXTENSION,
    ("V1ManagedFieldsEntry", "fields_v1"): FIELDS_V1,
    ("V1JSONSchemaProps", "default"): f"{_APIEXT}.JSON",
    ("V1JSONSchemaProps", "example"): f"{_APIEXT}.JSON",
    ("V1JSONSchemaProps", "items"): f"{_APIEXT}.JSONSchemaPropsOrArray",
    ("V1JSONSchemaProps", "additional_items"): f"{_APIEXT}.JSONSchemaPropsOrBool",
    ("V1JSONSchemaProps", "additional_properties"): f"{_APIEXT}.JSONSchemaPropsOrBool",
    ("V1CustomResourceSubresources", "status"): f"{_APIEXT}.CustomResourceSubresourceStatus",
}
# Go packages of client classes that live outside the group of the kind that uses them.
_META_CLASSES = frozenset(
    {
        "ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement",
        "ManagedFieldsEntry", "OwnerReference", "Condition", "Status", "StatusDetails",
        "StatusCause", "DeleteOptions", "Preconditions", "WatchEvent", "APIResourceList",
        "APIResource", "APIGroup", "APIGroupList", "APIVersions", "GroupVersionForDiscovery",
        "ServerAddressByClientCIDR",
    }
)  # fmt: skip
_CLASS_PACKAGES = {
    "V1Scale": "io.k8s.api.autoscaling.v1",
    "V1ScaleSpec": "io.k8s.api.autoscaling.v1",
    "V1ScaleStatus": "io.k8s.api.autoscaling.v1",
    "V1Eviction": "io.k8s.api.policy.v1",
    "V1TopologySelectorTerm": "io.k8s.api.core.v1",
    "V1TopologySelectorLabelRequirement": "io.k8s.api.core.v1",
}
# Core kinds whose closure decides which client classes are core (io.k8s.api.core.v1).
_CORE_ROOTS = (
    "V1Pod", "V1PodTemplate", "V1Service", "V1Endpoints", "V1ConfigMap", "V1Secret",
    "V1ServiceAccount", "CoreV1Event", "V1Node", "V1PersistentVolume",
    "V1PersistentVolumeClaim", "V1ResourceQuota", "V1LimitRange", "V1ReplicationController",
    "V1Namespace", "V1Binding", "V1ComponentStatus",
)  # fmt: skip
# Fields the client keeps no description for (they are references to other types).
_FIELD_DESCRIPTIONS = {
    "metadata": "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata",
}
_LIST_META_DESCRIPTION = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources"
)
_KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#types-kinds"
)

# Go types the client has no class for (they marshal as scalars or free-form JSON).
SPECIAL_SCHEMAS: dict[str, Schema] = {
    QUANTITY: {
        "description": "Quantity is a fixed-point representation of a number. It provides "
        "convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and "
        "AsInt64() accessors. Serialized as a string such as 500m, 1Gi or 2.5.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    INT_OR_STRING: {
        "description": "IntOrString is a type that can hold an int32 or a string. When used "
        "in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner "
        "type. This allows you to have, for example, a JSON field that can accept a name or "
        "number.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    },
    TIME: {
        "description": "Time is a wrapper around time.Time which supports correct marshaling "
        "to YAML and JSON. Wrappers are provided for many of the factory methods that the "
        "time package offers.",
        "type": "string",
        "format": "date-time",
    },
    MICRO_TIME: {
        "description": "MicroTime is version of Time with microsecond level precision.",
        "type": "string",
        "format": "date-time",
    },
    RAW_EXTENSION: {
        "description": "RawExtension is used to hold extensions in external versions: a "
        "complete serialized object (with apiVersion and kind) embedded in another.",
        "type": "object",
    },
    FIELDS_V1: {
        "description": "FieldsV1 stores a set of fields in a data structure like a Trie, in "
        "JSON format. Each key is either a '.' representing the field itself, or \"f:<name>\", "
        '"v:<value>", "i:<index>" or "k:<keys>".',
        "type": "object",
    },
    PATCH: {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes "
        "PATCH request body.",
        "type": "object",
    },
    f"{_APIEXT}.JSON": {
        "description": "JSON represents any valid JSON value. These types are supported: "
        "bool, int64, float64, string, []interface{}, map[string]interface{} and nil.",
    },
    f"{_APIEXT}.JSONSchemaPropsOrArray": {
        "description": "JSONSchemaPropsOrArray represents a value that can either be a "
        "JSONSchemaProps or an array of JSONSchemaProps. Mainly here for serialization "
        "purposes.",
    },
    f"{_APIEXT}.JSONSchemaPropsOrBool": {
        "description": "JSONSchemaPropsOrBool represents JSONSchemaProps or a boolean value. "
        "Defaults to true for the boolean property.",
    },
    f"{_APIEXT}.JSONSchemaPropsOrStringArray": {
        "description": "JSONSchemaPropsOrStringArray represents a JSONSchemaProps or a string "
        "array.",
    },
    f"{_APIEXT}.CustomResourceSubresourceStatus": {
        "description": "CustomResourceSubresourceStatus defines how to serve the status "
        "subresource for CustomResources.",
        "type": "object",
    },
}

_CLASS_RE = re.compile(r"^([A-Z][a-z]+)?(V\d+(?:(?:alpha|beta)\d+)?)([A-Z].*)$")
_PACKAGE_SPECIAL = {
    "core": "io.k8s.api.core",
    "apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


def ref(name: str) -> Schema:
    """A JSON reference to component ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def group_package(group: str, version: str) -> str:
    """The Go package of a built-in group version: ``apps``, ``v1`` -> ``io.k8s.api.apps.v1``."""
    label = group.split(".")[0] if group else "core"
    return f"{_PACKAGE_SPECIAL.get(label, f'io.k8s.api.{label}')}.{version}"


def custom_package(group: str, version: str) -> str:
    """The reversed-domain prefix of a custom resource's schemas (``com.example.stable.v1``)."""
    return ".".join([*reversed(group.split(".")), version])


def gvk(group: str, version: str, kind: str) -> dict[str, str]:
    """One ``x-kubernetes-group-version-kind`` entry."""
    return {"group": group, "kind": kind, "version": version}


def model_class(group: str, version: str, kind: str) -> type[Any] | None:
    """The client's model class for a built-in kind (``CoreV1Event`` before ``V1Event``)."""
    label = group.split(".")[0] if group else "core"
    ver = version[0].upper() + version[1:]
    for name in (f"{label.capitalize()}{ver}{kind}", f"{ver}{kind}"):
        cls = getattr(k8s_models, name, None)
        if isinstance(cls, type) and hasattr(cls, "openapi_types"):
            return cls
    return None


def _model(name: str) -> type[Any] | None:
    cls = getattr(k8s_models, name, None)
    return cls if isinstance(cls, type) and hasattr(cls, "openapi_types") else None


def _split_type(t: str) -> tuple[str, str] | None:
    """``List[X]`` -> ("list", "X"), ``Dict[str, X]`` -> ("dict", "X"), else None."""
    if t.startswith("List[") and t.endswith("]"):
        return "list", t[5:-1]
    if t.startswith("Dict[str, ") and t.endswith("]"):
        return "dict", t[10:-1]
    return None


def _referenced_classes(cls: type[Any]) -> Iterator[tuple[str, str]]:
    """(attribute, class name) of every model referenced by ``cls``'s fields."""
    for attr, t in cls.openapi_types.items():
        inner = t
        while (split := _split_type(inner)) is not None:
            inner = split[1]
        if _model(inner) is not None:
            yield attr, inner


@functools.cache
def _core_classes() -> frozenset[str]:
    seen: set[str] = set()
    todo = [name for name in _CORE_ROOTS if _model(name)]
    while todo:
        name = todo.pop()
        if name in seen or _bare(name) in _META_CLASSES:
            continue
        seen.add(name)
        cls = _model(name)
        if cls is not None:
            todo.extend(inner for _, inner in _referenced_classes(cls))
    return frozenset(seen)


def _bare(class_name: str) -> str:
    match = _CLASS_RE.match(class_name)
    return match.group(3) if match else class_name


def schema_name(class_name: str, home: str) -> str:
    """The component name of client class ``class_name`` reached from package ``home``."""
    match = _CLASS_RE.match(class_name)
    if match is None:
        return f"{home}.{class_name}"
    prefix, version, kind = match.groups()
    version = version.lower()
    if prefix:
        return f"{group_package(prefix.lower(), version)}.{kind}"
    if kind in _META_CLASSES:
        return f"{META}.{kind}"
    if class_name in _CLASS_PACKAGES:
        return f"{_CLASS_PACKAGES[class_name]}.{kind}"
    if class_name in _core_classes():
        return f"io.k8s.api.core.{version}.{kind}"
    return f"{home.rsplit('.', 1)[0]}.{version}.{kind}"


def _fields_by_json_name(cls: type[Any]) -> dict[str, Any]:
    """Pydantic field infos of ``cls`` by JSON name (``continue`` is ``var_continue``)."""
    return {info.serialization_alias or name: info for name, info in cls.model_fields.items()}


def _description(cls: type[Any]) -> str:
    doc = (cls.__doc__ or "").split("Attributes:")[0]
    return " ".join(doc.split())


def _is_int_or_string(annotation: Any) -> bool:
    args = set(_flatten_args(annotation))
    return int in args and str in args


def _flatten_args(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _flatten_args(typing.get_args(annotation)[0])
    elif origin is typing.Union:
        for arg in typing.get_args(annotation):
            yield from _flatten_args(arg)
    else:
        yield annotation


class _Builder:
    """Collects the component schemas reachable from some built-in kinds."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}
        self._done: set[str] = set()

    def add_kind(self, t: ResourceType, home: str) -> str | None:
        cls = model_class(t.group, t.version, t.kind)
        if cls is None:
            return None
        name = self._add_class(cls.__name__, home, (t.api_version, t.kind, ()))
        self.schemas[name]["x-kubernetes-group-version-kind"] = [gvk(t.group, t.version, t.kind)]
        list_cls = model_class(t.group, t.version, t.list_kind)
        if list_cls is not None:
            list_name = self._add_class(list_cls.__name__, home, None)
            self.schemas[list_name]["x-kubernetes-group-version-kind"] = [
                gvk(t.group, t.version, t.list_kind)
            ]
        return name

    def add_class(self, class_name: str, home: str) -> str:
        return self._add_class(class_name, home, None)

    def _add_class(
        self, class_name: str, home: str, where: tuple[str, str, tuple[str, ...]] | None
    ) -> str:
        name = schema_name(class_name, home)
        if name in self._done:
            return name
        self._done.add(name)
        cls = _model(class_name)
        assert cls is not None
        own_home = name.rsplit(".", 1)[0]
        properties: dict[str, Schema] = {}
        required: list[str] = []
        fields = _fields_by_json_name(cls)
        for attr, t in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            info = fields[json_name]
            sub = None if where is None else (where[0], where[1], (*where[2], json_name))
            prop = self._type(class_name, attr, t, info.annotation, own_home, sub)
            description = info.description or _FIELD_DESCRIPTIONS.get(json_name)
            if json_name == "metadata" and class_name.endswith("List"):
                description = _LIST_META_DESCRIPTION
            if description:
                prop = _describe(prop, description)
            facts = _merge_facts(sub, prop) if sub is not None else {}
            if facts and "$ref" in prop:
                prop = {"allOf": [prop]}
            prop.update(facts)
            properties[json_name] = prop
            if info.is_required():
                required.append(json_name)
        schema: Schema = {"description": _description(cls), "type": "object"}
        if properties:
            schema["properties"] = properties
        if required:
            schema["required"] = sorted(required)
        self.schemas[name] = schema
        return name

    def _type(
        self,
        owner: str,
        attr: str,
        t: str,
        annotation: Any,
        home: str,
        where: tuple[str, str, tuple[str, ...]] | None,
    ) -> Schema:
        key = (owner, attr)
        if key in _QUANTITY_FIELDS:
            if t.startswith("Dict"):
                return {"type": "object", "additionalProperties": self._special(QUANTITY)}
            return self._special(QUANTITY)
        if key in _MICRO_TIME_FIELDS:
            return self._special(MICRO_TIME)
        if key in _OBJECT_FIELDS:
            return self._special(_OBJECT_FIELDS[key])
        return self._plain(t, annotation, home, where)

    def _plain(
        self, t: str, annotation: Any, home: str, where: tuple[str, str, tuple[str, ...]] | None
    ) -> Schema:
        scalar = _SCALARS.get(t)
        if scalar is not None:
            return dict(scalar)
        if t == "datetime":
            return self._special(TIME)
        if t == "object":
            if _is_int_or_string(annotation):
                return self._special(INT_OR_STRING)
            return {"type": "object"}
        split = _split_type(t)
        if split is not None:
            kind, inner = split
            item = self._plain(inner, None, home, where)
            if kind == "list":
                return {"type": "array", "items": _wrap_default(item)}
            return {"type": "object", "additionalProperties": _wrap_default(item)}
        if _model(t) is not None:
            return ref(self._add_class(t, home, where))
        return {}

    def _special(self, name: str) -> Schema:
        self.schemas.setdefault(name, copy.deepcopy(SPECIAL_SCHEMAS[name]))
        return ref(name)


_SCALARS: dict[str, Schema] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "bytes": {"type": "string", "format": "byte"},
    "date": {"type": "string", "format": "date"},
}


def _wrap_default(item: Schema) -> Schema:
    # Items of struct type are wrapped the way the real server does (allOf + default).
    if "$ref" in item and item["$ref"].rsplit(".", 1)[-1] not in _SCALAR_REF_KINDS:
        return {"allOf": [item], "default": {}}
    return item


_SCALAR_REF_KINDS = {"Quantity", "IntOrString", "Time", "MicroTime", "RawExtension", "JSON"}


def _describe(prop: Schema, description: str) -> Schema:
    if "$ref" in prop:
        return {"allOf": [prop], "description": description}
    return {**prop, "description": description}


def _merge_facts(where: tuple[str, str, tuple[str, ...]], prop: Schema) -> Schema:
    """The ``x-kubernetes-*`` merge extensions ``patchmeta`` knows for the field at ``where``."""
    api_version, kind, path = where
    out: Schema = {}
    strategies: list[str] = []
    if prop.get("type") == "array":
        ssa = patchmeta.list_strategy(api_version, kind, path)
        if ssa is not None:
            out["x-kubernetes-list-type"] = ssa.kind
            if ssa.kind == "map":
                out["x-kubernetes-list-map-keys"] = list(ssa.keys)
        smp = patchmeta.strategic_list_strategy(api_version, kind, path)
        if smp is not None and smp.kind != "atomic":
            strategies.append("merge")
            if smp.kind == "map" and smp.keys:
                out["x-kubernetes-patch-merge-key"] = smp.keys[0]
    if patchmeta.retains_keys(api_version, kind, path):
        strategies.append("retainKeys")
    if patchmeta.replaces_map(api_version, kind, path):
        strategies.append("replace")
    if strategies:
        out["x-kubernetes-patch-strategy"] = ",".join(strategies)
    return out


_SUBRESOURCE_CLASSES = {
    "scale": "V1Scale",
    "eviction": "V1Eviction",
    "binding": "V1Binding",
    "token": "AuthenticationV1TokenRequest",
}


@functools.lru_cache(maxsize=64)
def _builtin_components(
    group: str, version: str, kinds: tuple[str, ...], extra: tuple[str, ...]
) -> tuple[dict[str, Schema], dict[str, str]]:
    builder = _Builder()
    home = group_package(group, version)
    names: dict[str, str] = {}
    for kind in kinds:
        t = ResourceType(group, version, kind.lower(), kind, True)
        name = builder.add_kind(t, home)
        if name is not None:
            names[kind] = name
    for cls in (*extra, "V1Status", "V1DeleteOptions", "V1WatchEvent", "V1APIResourceList"):
        builder.add_class(cls, home)
    builder._special(PATCH)
    return builder.schemas, names


def builtin_components(
    group: str, version: str, types: Sequence[ResourceType]
) -> tuple[dict[str, Schema], dict[str, str]]:
    """Component schemas for built-in ``types`` of one group version, plus kind -> name.

    Memoised per (group, version, kinds); callers get fresh copies they may change.
    """
    kinds = tuple(sorted({t.kind for t in types}))
    extra = {_SUBRESOURCE_CLASSES.get(s, "") for t in types for s in t.subresources}
    schemas, names = _builtin_components(group, version, kinds, tuple(sorted(extra - {""})))
    return copy.deepcopy(schemas), dict(names)


def meta_components() -> dict[str, Schema]:
    """ObjectMeta, ListMeta, Status, DeleteOptions, WatchEvent and what they reference."""
    return builtin_components("", "v1", ())[0]


def custom_components(t: ResourceType) -> dict[str, Schema]:
    """The schema of a custom resource and its list, from the CRD's ``openAPIV3Schema``."""
    prefix = custom_package(t.group, t.version)
    body: Schema = copy.deepcopy(t.schema) if t.schema else {}
    if not body:
        body = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    props = dict(body.get("properties") or {})
    props["apiVersion"] = {"type": "string", "description": _API_VERSION_DESCRIPTION}
    props["kind"] = {"type": "string", "description": _KIND_DESCRIPTION}
    props["metadata"] = {
        "allOf": [ref(f"{META}.ObjectMeta")],
        "description": _FIELD_DESCRIPTIONS["metadata"],
    }
    body["properties"] = props
    body.setdefault("type", "object")
    body["x-kubernetes-group-version-kind"] = [gvk(t.group, t.version, t.kind)]
    list_schema: Schema = {
        "description": f"{t.list_kind} is a list of {t.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION_DESCRIPTION},
            "items": {
                "type": "array",
                "description": f"List of {t.resource}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                "api-conventions.md",
                "items": ref(f"{prefix}.{t.kind}"),
            },
            "kind": {"type": "string", "description": _KIND_DESCRIPTION},
            "metadata": {"allOf": [ref(f"{META}.ListMeta")], "description": _LIST_META_DESCRIPTION},
        },
        "x-kubernetes-group-version-kind": [gvk(t.group, t.version, t.list_kind)],
    }
    return {f"{prefix}.{t.kind}": body, f"{prefix}.{t.list_kind}": list_schema}


def kind_schema_name(t: ResourceType) -> str:
    """The component name of ``t``'s kind."""
    if t.custom:
        return f"{custom_package(t.group, t.version)}.{t.kind}"
    cls = model_class(t.group, t.version, t.kind)
    home = group_package(t.group, t.version)
    return schema_name(cls.__name__, home) if cls else f"{home}.{t.kind}"


def list_schema_name(t: ResourceType) -> str:
    """The component name of ``t``'s list kind."""
    return kind_schema_name(t)[: -len(t.kind)] + t.list_kind


def referenced(schemas: Mapping[str, Schema], roots: Sequence[str]) -> set[str]:
    """The component names reachable from ``roots`` through ``$ref``."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str):
            yield target.rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
