"""Unknown fields in built-in objects: what ``fieldValidation=Strict`` rejects and Warn reports.

The real API server decodes a built-in kind into its Go struct with the strict JSON decoder of
``sigs.k8s.io/json``: every key the struct does not declare (case-sensitively) is an
``unknown field "<path>"`` error and is dropped from what gets stored. Paths put ``.`` before a
struct field or map key and ``[i]`` after a list (``spec.template.spec.containers[0].imagee``);
errors come in document order, de-duplicated, at most 100 per object. Go types with their own
JSON decoding (Quantity, IntOrString, Time, RawExtension, FieldsV1, apiextensions JSON ...) take
anything. The struct shapes come from :mod:`luban.embedded.openapi_schemas`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from luban.embedded.openapi_schemas import (
    SPECIAL_SCHEMAS,
    Schema,
    builtin_components,
    model_class,
)
from luban.kube.goquote import go_quote
from luban.kube.resources import ResourceType

MAX_REPORTED = 100
"""sigs.k8s.io/json stops collecting strict errors after this many."""

# Go empty structs the client models as free-form ``object`` (every key in them is unknown).
_EMPTY_STRUCTS = frozenset(
    {
        ("io.k8s.api.batch.v1alpha3.WorkloadPodGroupDisruptionMode", "all"),
        ("io.k8s.api.batch.v1alpha3.WorkloadPodGroupDisruptionMode", "single"),
        ("io.k8s.api.batch.v1alpha3.WorkloadPodGroupSchedulingPolicy", "basic"),
    }
)
_NO_FIELDS: Schema = {"type": "object", "properties": {}}
_REF_PREFIX = "#/components/schemas/"


@functools.lru_cache(maxsize=256)
def _kind_schemas(api_version: str, kind: str) -> tuple[str, Mapping[str, Schema]] | None:
    """(root component name, components) for a built-in kind, or None if it is not one."""
    group, _, version = api_version.rpartition("/")
    if model_class(group, version, kind) is None:
        return None
    t = ResourceType(group, version, kind.lower(), kind, True)
    components, names = builtin_components(group, version, [t])
    name = names.get(kind)
    return None if name is None else (name, components)


def _resolve(schema: Schema, components: Mapping[str, Schema]) -> tuple[Schema, str]:
    """``schema`` with ``allOf``/``$ref`` wrappers followed, and its component name (or "")."""
    name = ""
    while True:
        target = schema.get("$ref")
        if isinstance(target, str):
            name = target.removeprefix(_REF_PREFIX)
            schema = components.get(name, {})
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            schema = all_of[0]
            continue
        return schema, name


def _takes_anything(schema: Schema, name: str) -> bool:
    if name in SPECIAL_SCHEMAS or schema.get("x-kubernetes-preserve-unknown-fields"):
        return True
    # An inline schema with no structure is a scalar or free-form (map[string]interface{});
    # a named component without properties is a Go struct with no fields.
    return not name and not {"properties", "additionalProperties", "items"} & schema.keys()


def _scan(obj: Any, root: str, components: Mapping[str, Schema], prune: bool) -> list[str]:
    """Paths of the unknown fields of ``obj`` in document order; deletes them if ``prune``.

    Iterative (not recursive) so that deeply nested bodies cannot exhaust the stack.
    """
    found: list[str] = []
    # Items are (value, schema, path) to visit, or (None, None, path) to report ``path``.
    todo: list[tuple[Any, Schema | None, str]] = [(obj, {"$ref": _REF_PREFIX + root}, "")]
    while todo:
        value, schema, path = todo.pop()
        if schema is None:
            found.append(path)
            continue
        node, name = _resolve(schema, components)
        if _takes_anything(node, name):
            continue
        later: list[tuple[Any, Schema | None, str]] = []
        if isinstance(value, dict):
            props = node.get("properties")
            additional = node.get("additionalProperties")
            for key in list(value):
                sub = f"{path}.{key}" if path else key
                if isinstance(props, dict):
                    child = _NO_FIELDS if (name, key) in _EMPTY_STRUCTS else props.get(key)
                elif isinstance(additional, dict):
                    child = additional
                elif node.get("type") == "object":
                    child = None
                else:
                    break  # a type mismatch, which is not a strict error
                if child is None:
                    later.append((None, None, sub))
                    if prune:
                        del value[key]
                else:
                    later.append((value[key], child, sub))
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            later = [(v, node["items"], f"{path}[{i}]") for i, v in enumerate(value)]
        todo.extend(reversed(later))
    return found


def _report(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(paths))[:MAX_REPORTED]


def unknown_fields(api_version: str, kind: str, obj: Mapping[str, Any]) -> list[str]:
    """Paths of the fields of ``obj`` that built-in ``kind`` does not have, as the server
    reports them (document order, at most 100). Empty for kinds that are not built in."""
    schemas = _kind_schemas(api_version, kind)
    if schemas is None or not isinstance(obj, Mapping):
        return []
    return _report(_scan(obj, schemas[0], schemas[1], prune=False))


def prune_with_unknown(
    api_version: str, kind: str, obj: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``obj`` without its unknown fields, and their paths (as :func:`unknown_fields`)."""
    pruned = copy.deepcopy(dict(obj))
    schemas = _kind_schemas(api_version, kind)
    if schemas is None:
        return pruned, []
    return pruned, _report(_scan(pruned, schemas[0], schemas[1], prune=True))


def prune_unknown(api_version: str, kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without the fields built-in ``kind`` does not have."""
    return prune_with_unknown(api_version, kind, obj)[0]


def unknown_field_message(path: str) -> str:
    """One strict error, also the text of its ``Warning`` under ``fieldValidation=Warn``."""
    return f"unknown field {go_quote(path)}"
