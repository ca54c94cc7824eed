"""``/openapi/v2`` as protobuf (gnostic ``openapi_v2.Document``), the only form kubectl reads.

kubectl 1.37 still loads v2 for client-side validation whenever it cannot leave validation
to the server (a ``kind: List`` manifest with the default ``--validate=strict``, or a GVK
missing from the v3 documents) and for ``kubectl explain --output=plaintext-openapiv2``;
client-go requests ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and
unmarshals it without a JSON fallback. This module encodes the JSON form of
:func:`luban.embedded.openapi.openapi_v2_document` with the field numbers of gnostic-models'
``OpenAPIv2.proto``; vendor extensions, defaults and enums travel as YAML text (JSON is YAML).
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import orjson

from luban.embedded.openapi import OpenAPIDocuments, etag_of

V2_PROTOBUF_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)

_cache_lock = threading.Lock()
_cache: dict[bytes, tuple[bytes, str]] = {}


def v2_protobuf(documents: OpenAPIDocuments) -> tuple[bytes, str]:
    """The protobuf form of ``documents``' v2 document and its ETag (memoised by JSON ETag)."""
    data, json_etag = documents.v2()
    key = json_etag.encode()
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    encoded = encode_document(orjson.loads(data))
    built = (encoded, etag_of(encoded))
    with _cache_lock:
        _cache.clear()
        _cache[key] = built
    return built


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Msg:
    """A protobuf message under construction."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def bytes_(self, field: int, data: bytes) -> None:
        self.buf += _varint(field << 3 | 2) + _varint(len(data)) + data

    def str_(self, field: int, value: Any) -> None:
        if value:
            self.bytes_(field, str(value).encode())

    def msg(self, field: int, message: _Msg) -> None:
        self.bytes_(field, bytes(message.buf))

    def bool_(self, field: int, value: Any) -> None:
        if value:
            self.buf += _varint(field << 3) + b"\x01"

    def int_(self, field: int, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.buf += _varint(field << 3) + _varint(value)

    def double(self, field: int, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.buf += _varint(field << 3 | 1) + struct.pack("<d", float(value))


def _any(value: Any) -> _Msg:
    m = _Msg()
    m.str_(2, orjson.dumps(value).decode() + "\n")
    return m


def _extensions(m: _Msg, field: int, node: dict[str, Any]) -> None:
    for key, value in node.items():
        if key.startswith("x-"):
            named = _Msg()
            named.str_(1, key)
            named.msg(2, _any(value))
            m.msg(field, named)


def _schema(node: dict[str, Any]) -> _Msg:
    m = _Msg()
    m.str_(1, node.get("$ref"))
    m.str_(2, node.get("format"))
    m.str_(3, node.get("title"))
    m.str_(4, node.get("description"))
    if "default" in node:
        m.msg(5, _any(node["default"]))
    m.double(6, node.get("multipleOf"))
    m.double(7, node.get("maximum"))
    m.bool_(8, node.get("exclusiveMaximum"))
    m.double(9, node.get("minimum"))
    m.bool_(10, node.get("exclusiveMinimum"))
    for field, key in ((11, "maxLength"), (12, "minLength")):
        m.int_(field, node.get(key))
    m.str_(13, node.get("pattern"))
    for field, key in ((14, "maxItems"), (15, "minItems")):
        m.int_(field, node.get(key))
    m.bool_(16, node.get("uniqueItems"))
    for field, key in ((17, "maxProperties"), (18, "minProperties")):
        m.int_(field, node.get(key))
    for name in node.get("required") or ():
        m.str_(19, name)
    for value in node.get("enum") or ():
        m.msg(20, _any(value))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        item = _Msg()
        item.msg(1, _schema(extra))
        m.msg(21, item)
    elif isinstance(extra, bool):
        item = _Msg()
        item.buf += _varint(2 << 3) + (b"\x01" if extra else b"\x00")
        m.msg(21, item)
    kind = node.get("type")
    if kind:
        type_item = _Msg()
        for value in kind if isinstance(kind, list) else [kind]:
            type_item.str_(1, value)
        m.msg(22, type_item)
    items = node.get("items")
    if isinstance(items, (dict, list)):
        items_item = _Msg()
        for value in items if isinstance(items, list) else [items]:
            items_item.msg(1, _schema(value))
        m.msg(23, items_item)
    for value in node.get("allOf") or ():
        m.msg(24, _schema(value))
    props = node.get("properties")
    if isinstance(props, dict):
        properties = _Msg()
        for name, value in props.items():
            named = _Msg()
            named.str_(1, name)
            named.msg(2, _schema(value))
            properties.msg(1, named)
        m.msg(25, properties)
    m.bool_(27, node.get("readOnly"))
    if "example" in node:
        m.msg(30, _any(node["example"]))
    _extensions(m, 31, node)
    return m


def _parameter(p: dict[str, Any]) -> _Msg:
    param = _Msg()
    if p.get("in") == "body":
        body = _Msg()
        body.str_(1, p.get("description"))
        body.str_(2, p.get("name"))
        body.str_(3, "body")
        body.bool_(4, p.get("required"))
        body.msg(5, _schema(p.get("schema") or {}))
        param.msg(1, body)
    else:
        # Query (3) and path (4) sub-schemas share the leading field numbers used here.
        sub = _Msg()
        sub.bool_(1, p.get("required"))
        sub.str_(2, p.get("in"))
        sub.str_(3, p.get("description"))
        sub.str_(4, p.get("name"))
        is_query = p.get("in") == "query"
        sub.str_(6 if is_query else 5, p.get("type"))
        sub.bool_(20 if is_query else 19, p.get("uniqueItems"))
        non_body = _Msg()
        non_body.msg(3 if is_query else 4, sub)
        param.msg(2, non_body)
    item = _Msg()
    item.msg(1, param)
    return item


def _operation(op: dict[str, Any]) -> _Msg:
    m = _Msg()
    for value in op.get("tags") or ():
        m.str_(1, value)
    m.str_(3, op.get("description"))
    m.str_(5, op.get("operationId"))
    for value in op.get("produces") or ():
        m.str_(6, value)
    for value in op.get("consumes") or ():
        m.str_(7, value)
    for p in op.get("parameters") or ():
        m.msg(8, _parameter(p))
    responses = _Msg()
    for code, response in (op.get("responses") or {}).items():
        body = _Msg()
        body.str_(1, response.get("description"))
        if "schema" in response:
            schema_item = _Msg()
            schema_item.msg(1, _schema(response["schema"]))
            body.msg(2, schema_item)
        value = _Msg()
        value.msg(1, body)
        named = _Msg()
        named.str_(1, code)
        named.msg(2, value)
        responses.msg(1, named)
    m.msg(9, responses)
    for value in op.get("schemes") or ():
        m.str_(10, value)
    _extensions(m, 13, op)
    return m


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def encode_document(doc: dict[str, Any]) -> bytes:
    """Encode a Swagger 2.0 JSON document as a gnostic ``openapi_v2.Document``."""
    m = _Msg()
    m.str_(1, doc.get("swagger", "2.0"))
    info = _Msg()
    info.str_(1, doc.get("info", {}).get("title"))
    info.str_(2, doc.get("info", {}).get("version"))
    m.msg(2, info)
    paths = _Msg()
    for path, item in (doc.get("paths") or {}).items():
        path_item = _Msg()
        for method, field in _METHODS.items():
            if method in item:
                path_item.msg(field, _operation(item[method]))
        for p in item.get("parameters") or ():
            path_item.msg(9, _parameter(p))
        named = _Msg()
        named.str_(1, path)
        named.msg(2, path_item)
        paths.msg(2, named)
    m.msg(8, paths)
    definitions = _Msg()
    for name, schema in (doc.get("definitions") or {}).items():
        named = _Msg()
        named.str_(1, name)
        named.msg(2, _schema(schema))
        definitions.msg(1, named)
    m.msg(9, definitions)
    return bytes(m.buf)
