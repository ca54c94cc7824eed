"""The OpenAPI documents the embedded cluster serves: ``/openapi/v3[/...]`` and ``/openapi/v2``.

``/openapi/v3`` is an index (k8s.io/kube-openapi ``handler3``): each group version maps to
``/openapi/v3/{api/v1|apis/g/v}?hash=<SHA-512 of the document, upper-case hex>``. Clients
(kubectl, client-go's cached discovery) cache a document by that URL, so a document answered
for the right hash is ``Cache-Control: public, immutable``; a stale hash is redirected (301)
to the current one. See :mod:`luban.embedded.openapi_http` for the HTTP side.

Building a document costs tens of milliseconds, so :class:`OpenAPIDocuments` memoises the
serialised bytes and their ETags per group version. Invalidate it when the served types change
(a CRD created, updated or deleted) by calling :meth:`OpenAPIDocuments.set_types` with the new
table: only group versions whose types changed are rebuilt.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from luban.embedded.openapi_paths import document_paths
from luban.embedded.openapi_schemas import (
    Schema,
    builtin_components,
    custom_components,
    meta_components,
    referenced,
)
from luban.kube.resources import ResourceType

OPENAPI_TITLE = "Kubernetes"
OPENAPI_VERSION = "v1.37.0"
_SECURITY_SCHEME = {
    "type": "apiKey",
    "name": "authorization",
    "in": "header",
    "description": "Bearer Token authentication",
}


def gv_path(group: str, version: str) -> str:
    """The index key of a group version: ``api/v1`` or ``apis/{group}/{version}``."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def etag_of(data: bytes) -> str:
    """The hash kube-openapi uses for ETags and ``?hash=``: SHA-512, upper-case hex."""
    return hashlib.sha512(data).hexdigest().upper()


def dumps(doc: Any) -> bytes:
    """Serialise a document the same way every time (sorted keys), so its hash is stable."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def openapi_v3_index(
    group_versions: Iterable[str], hash_of: Callable[[str], str]
) -> dict[str, Any]:
    """The ``GET /openapi/v3`` body for group versions given as ``api/v1`` / ``apis/g/v`` keys.

    ``hash_of(key)`` is the document's current hash (see :func:`etag_of`).
    """
    return {
        "paths": {
            key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={hash_of(key)}"}
            for key in sorted(set(group_versions))
        }
    }


def openapi_v3_document(group: str, version: str, types: Sequence[ResourceType]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one group version (``types`` of other versions are ignored)."""
    mine = [t for t in types if t.group == group and t.version == version]
    schemas: dict[str, Schema] = meta_components()
    builtin = [t for t in mine if not t.custom]
    if builtin:
        schemas.update(builtin_components(group, version, builtin)[0])
    for t in mine:
        if t.custom:
            schemas.update(custom_components(t))
            if "scale" in t.subresources:
                schemas.update(_scale_components())
    return {
        "openapi": "3.0.0",
        "info": {"title": OPENAPI_TITLE, "version": OPENAPI_VERSION},
        "paths": document_paths(group, version, mine),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": dict(_SECURITY_SCHEME)},
        },
        "security": [{"BearerToken": []}],
    }


def _scale_components() -> dict[str, Schema]:
    scale = ResourceType("apps", "v1", "deployments", "Deployment", True, subresources=("scale",))
    schemas, _ = builtin_components("apps", "v1", [scale])
    keep = referenced(schemas, ["io.k8s.api.autoscaling.v1.Scale"])
    return {name: schemas[name] for name in keep}


def openapi_v2_document(types: Sequence[ResourceType]) -> dict[str, Any]:
    """The Swagger 2.0 document of every served type (``definitions`` + ``paths``), as JSON.

    kubectl itself only reads v2 as protobuf (see :mod:`luban.embedded.openapi_v2_proto`);
    this JSON form serves other clients and is what the protobuf form encodes.
    """
    definitions: dict[str, Schema] = {}
    paths: dict[str, Schema] = {}
    for group, version in sorted({(t.group, t.version) for t in types}):
        doc = openapi_v3_document(group, version, types)
        for name, schema in doc["components"]["schemas"].items():
            definitions.setdefault(name, _v2_schema(schema))
        for path, item in doc["paths"].items():
            paths[path] = _v2_path_item(item)
    return {
        "swagger": "2.0",
        "info": {"title": OPENAPI_TITLE, "version": OPENAPI_VERSION},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": dict(_SECURITY_SCHEME)},
        "security": [{"BearerToken": []}],
    }


_V2_UNSUPPORTED = frozenset({"oneOf", "anyOf", "not", "nullable"})


def _v2_schema(node: Any) -> Any:
    """A v3 schema in Swagger 2.0 terms: ``#/definitions/`` refs, no oneOf/anyOf/nullable."""
    if isinstance(node, list):
        return [_v2_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        out["type"] = "string"
    elif "oneOf" in node and "type" not in node:
        types = [o.get("type") for o in node["oneOf"] if isinstance(o, dict)]
        if "string" in types:
            out["type"] = "string"
    all_of = node.get("allOf")
    for key, value in node.items():
        if key in _V2_UNSUPPORTED:
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif (
            key == "allOf" and isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]
        ):
            out.update(_v2_schema(all_of[0]))
        elif key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {k: _v2_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = _v2_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    if "$ref" in out:
        # Swagger 2.0 ignores siblings of $ref except the description kubectl explain shows.
        out = {k: v for k, v in out.items() if k in ("$ref", "description") or k.startswith("x-")}
    return out


def _v2_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            out[key] = [_v2_param(p) for p in value]
        else:
            out[key] = _v2_operation(value)
    return out


def _v2_param(p: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k != "schema"}
    out.update(p.get("schema", {}))
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    produces: list[str] = []
    for key, value in op.items():
        if key == "parameters":
            out[key] = [_v2_param(p) for p in value]
        elif key == "requestBody":
            out["consumes"] = list(value["content"])
            body = next(iter(value["content"].values()))["schema"]
            param = {"name": "body", "in": "body", "required": True, "schema": _v2_schema(body)}
            out.setdefault("parameters", []).insert(0, param)
        elif key == "responses":
            responses: dict[str, Any] = {}
            for code, response in value.items():
                entry: dict[str, Any] = {"description": response["description"]}
                content = response.get("content")
                if content:
                    entry["schema"] = _v2_schema(next(iter(content.values()))["schema"])
                    produces.extend(c for c in content if c not in produces)
                responses[code] = entry
            out[key] = responses
        else:
            out[key] = copy.deepcopy(value)
    out["schemes"] = ["https"]
    if produces:
        out["produces"] = produces
    return out


class OpenAPIDocuments:
    """Memoised, serialised OpenAPI documents for the current table of served types.

    Thread-safe; documents are built lazily on first request and kept until
    :meth:`set_types` reports a change to their group version.
    """

    def __init__(self, types: Sequence[ResourceType] = ()) -> None:
        self._lock = threading.Lock()
        self._types: tuple[ResourceType, ...] = ()
        self._fingerprints: dict[str, bytes] = {}
        self._v3: dict[str, tuple[bytes, str]] = {}
        self._v2: tuple[bytes, str] | None = None
        self._index: tuple[bytes, str] | None = None
        self.set_types(types)

    def set_types(self, types: Sequence[ResourceType]) -> None:
        """Replace the served types (call after any CRD change); drops stale documents only."""
        by_gv: dict[str, list[ResourceType]] = {}
        for t in types:
            by_gv.setdefault(gv_path(t.group, t.version), []).append(t)
        fingerprints = {key: _fingerprint(ts) for key, ts in by_gv.items()}
        with self._lock:
            changed = {
                key
                for key in set(fingerprints) | set(self._fingerprints)
                if fingerprints.get(key) != self._fingerprints.get(key)
            }
            self._types = tuple(types)
            self._fingerprints = fingerprints
            if changed:
                for key in changed:
                    self._v3.pop(key, None)
                self._v2 = None
                self._index = None

    def group_versions(self) -> list[str]:
        """The index keys (``api/v1``, ``apis/apps/v1`` ...) currently served."""
        with self._lock:
            return sorted(self._fingerprints)

    def v3(self, key: str) -> tuple[bytes, str] | None:
        """The serialised document and ETag of group version ``key``; None when not served."""
        with self._lock:
            cached = self._v3.get(key)
            if cached is not None:
                return cached
            if key not in self._fingerprints:
                return None
            types = self._types
        parts = key.split("/")
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        data = dumps(openapi_v3_document(group, version, types))
        built = (data, etag_of(data))
        with self._lock:
            if self._types is types:
                self._v3[key] = built
        return built

    def index(self) -> tuple[bytes, str]:
        """The serialised ``/openapi/v3`` index and its ETag."""
        with self._lock:
            if self._index is not None:
                return self._index
            types = self._types
        keys = self.group_versions()
        hashes = {}
        for key in keys:
            doc = self.v3(key)
            if doc is not None:
                hashes[key] = doc[1]
        data = dumps(openapi_v3_index(hashes, hashes.__getitem__))
        built = (data, etag_of(data))
        with self._lock:
            if self._types is types:
                self._index = built
        return built

    def v2(self) -> tuple[bytes, str]:
        """The serialised Swagger 2.0 JSON document and its ETag."""
        with self._lock:
            if self._v2 is not None:
                return self._v2
            types = self._types
        data = dumps(openapi_v2_document(types))
        built = (data, etag_of(data))
        with self._lock:
            if self._types is types:
                self._v2 = built
        return built


def _fingerprint(types: Sequence[ResourceType]) -> bytes:
    return dumps(
        sorted(
            [
                t.resource,
                t.kind,
                t.namespaced,
                t.custom,
                list(t.verbs),
                list(t.subresources),
                t.schema,
            ]
            for t in types
        )
    )
