"""Decoding Kubernetes protobuf request bodies into the JSON-shaped dicts the server uses.

kubectl's typed commands (``create namespace``, ``run``, ``create token``, ``auth can-i``...)
send ``application/vnd.kubernetes.protobuf`` bodies: the magic ``k8s\\x00`` followed by a
``runtime.Unknown`` {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} whose
``raw`` is the object's message. The result is what the same object looks like as JSON
(encoding/json of the Go type): camelCase keys, ``omitempty`` honoured, ``[]byte`` as base64,
times as RFC 3339, quantities and int-or-strings in their JSON forms; ``null`` values are
left out.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from luban.kube.protobuf_schema import Field, kind_message, message

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
MAX_DEPTH = 64

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ProtobufError(ValueError):
    """The body is not a valid Kubernetes protobuf object (answer 400)."""


class UnknownKindError(ProtobufError):
    """The envelope names a type this decoder has no schema for (answer 415)."""


def is_protobuf(content_type: str) -> bool:
    """Whether a Content-Type header names the Kubernetes protobuf media type."""
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode an enveloped protobuf body into a JSON dict with ``apiVersion`` and ``kind``."""
    return _decode_object(body, 0)


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    """Decode one message of the schema (``core.Pod``, ``meta.ObjectMeta``...) into JSON."""
    return _Decoder().message(name, data, 0)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; returns (value, position after it)."""
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field number, wire type, value)``: ints for varint/fixed, bytes for length."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = read_varint(data, pos)
        elif wire == _LEN:
            size, pos = read_varint(data, pos)
            if pos + size > end:
                raise ProtobufError(f"field {number}: length {size} runs past the end")
            value, pos = data[pos : pos + size], pos + size
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if pos + width > end:
                raise ProtobufError(f"field {number}: truncated fixed{width * 8}")
            value, pos = int.from_bytes(data[pos : pos + width], "little"), pos + width
        else:
            raise ProtobufError(f"field {number}: unsupported wire type {wire}")
        yield number, wire, value


def _decode_object(body: bytes, depth: int) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf object: missing the k8s\\x00 prefix")
    api_version = kind = content_encoding = ""
    raw = b""
    for number, wire, value in iter_fields(body[len(MAGIC) :]):
        if number == 1:
            for sub, sub_wire, sub_value in iter_fields(_need_bytes(wire, value, "typeMeta")):
                if sub == 1:
                    api_version = _text(_need_bytes(sub_wire, sub_value, "apiVersion"))
                elif sub == 2:
                    kind = _text(_need_bytes(sub_wire, sub_value, "kind"))
        elif number == 2:
            raw = _need_bytes(wire, value, "raw")
        elif number == 3:
            content_encoding = _text(_need_bytes(wire, value, "contentEncoding"))
    if not kind or not api_version:
        raise ProtobufError("the protobuf envelope has no apiVersion/kind")
    if content_encoding:
        raise ProtobufError(f"unsupported protobuf content encoding {content_encoding!r}")
    name = kind_message(api_version, kind)
    if name is None:
        raise UnknownKindError(f"no protobuf decoding for {kind} in {api_version}")
    return {"apiVersion": api_version, "kind": kind, **_Decoder().message(name, raw, depth)}


def _need_bytes(wire: int, value: int | bytes, what: str) -> bytes:
    if wire != _LEN or not isinstance(value, bytes):
        raise ProtobufError(f"{what}: expected a length-delimited field, got wire type {wire}")
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"invalid UTF-8 in a string field: {exc}") from None


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class _Decoder:
    """Decodes messages against the schema; one instance per request body."""

    def message(self, name: str, data: bytes, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise ProtobufError("message nesting too deep")
        try:
            fields = message(name)
        except KeyError:
            raise UnknownKindError(f"no protobuf schema for message {name}") from None
        lists: dict[int, list[Any]] = {}
        singles: dict[int, Any] = {}
        pending: dict[int, bytes] = {}  # a repeated singular message merges its parts
        for number, wire, value in iter_fields(data):
            field = fields.get(number)
            if field is None:
                continue  # a newer client's field: ignored, as proto3/proto2 readers do
            if field.repeated or field.map_key is not None:
                lists.setdefault(number, []).extend(self.items(field, wire, value, depth))
            elif field.is_message:
                pending[number] = pending.get(number, b"") + _need_bytes(
                    wire, value, field.json_name
                )
            else:
                singles[number] = self.value(field.type, wire, value, depth, field.json_name)
        for number, raw in pending.items():
            singles[number] = self.message(fields[number].type, raw, depth + 1)
        out: dict[str, Any] = {}
        for number, field in fields.items():
            if number in lists:
                items = lists[number]
                if field.map_key is not None:
                    out[field.json_name] = dict(items)
                else:
                    out[field.json_name] = items
            elif number in singles:
                self.place(out, field, singles[number])
            elif not field.pointer and not field.repeated and field.map_key is None:
                self.place(out, field, self.zero(field, depth))
        return out

    def place(self, out: dict[str, Any], field: Field, value: Any) -> None:
        if value is None:
            return
        if field.inline:
            if isinstance(value, dict):
                out.update(value)
            return
        omit = field.omitempty and not field.pointer and field.type in _ZEROS
        if omit and value == _ZEROS[field.type]:
            return
        out[field.json_name] = value

    def zero(self, field: Field, depth: int) -> Any:
        """What Go's JSON shows for an absent non-pointer field."""
        if field.is_message:
            return self.message(field.type, b"", depth + 1)
        if field.type == "bytes":
            return None  # a nil []byte: JSON null
        if field.type in _ZEROS:
            return _ZEROS[field.type]
        return self.value(field.type, _LEN, b"", depth, field.json_name)

    def items(self, field: Field, wire: int, value: int | bytes, depth: int) -> list[Any]:
        if field.map_key is not None:
            key: Any = _ZEROS[field.map_key]
            val: Any = None
            has_val = False
            for sub, sub_wire, sub_value in iter_fields(_need_bytes(wire, value, field.json_name)):
                if sub == 1:
                    key = self.value(field.map_key, sub_wire, sub_value, depth, field.json_name)
                elif sub == 2:
                    val = self.element(field, sub_wire, sub_value, depth)
                    has_val = True
            if not has_val:
                val = self.zero(field, depth)
            return [(key, val)]
        if wire == _LEN and field.type in _PACKABLE:
            # Packed repeated scalars: accepted although Kubernetes' encoder never packs.
            packed, out = _need_bytes(wire, value, field.json_name), []
            pos, element_wire = 0, _PACKABLE[field.type]
            while pos < len(packed):
                if element_wire == _VARINT:
                    item, pos = read_varint(packed, pos)
                else:
                    width = 8 if element_wire == _FIXED64 else 4
                    if pos + width > len(packed):
                        raise ProtobufError(f"{field.json_name}: truncated packed value")
                    item, pos = int.from_bytes(packed[pos : pos + width], "little"), pos + width
                out.append(self.value(field.type, element_wire, item, depth, field.json_name))
            return out
        return [self.element(field, wire, value, depth)]

    def element(self, field: Field, wire: int, value: int | bytes, depth: int) -> Any:
        if field.is_message:
            return self.message(field.type, _need_bytes(wire, value, field.json_name), depth + 1)
        return self.value(field.type, wire, value, depth, field.json_name)

    def value(self, type_: str, wire: int, value: int | bytes, depth: int, what: str) -> Any:
        """A scalar or special value (never a schema message)."""
        if type_ in _VARINT_TYPES:
            if wire != _VARINT or not isinstance(value, int):
                raise ProtobufError(f"{what}: expected a varint, got wire type {wire}")
            if type_ == "bool":
                return value != 0
            if type_ == "int32":
                return _signed(value, 32)
            if type_ == "int64":
                return _signed(value, 64)
            return value & (0xFFFFFFFF if type_ == "uint32" else 0xFFFFFFFFFFFFFFFF)
        if type_ == "double":
            if wire != _FIXED64 or not isinstance(value, int):
                raise ProtobufError(f"{what}: expected fixed64, got wire type {wire}")
            return struct.unpack("<d", value.to_bytes(8, "little"))[0]
        data = _need_bytes(wire, value, what)
        if type_ == "string":
            return _text(data)
        if type_ == "bytes":
            return base64.b64encode(data).decode()
        return _SPECIAL_DECODERS[type_](self, data, depth)

    def time(self, data: bytes, depth: int, *, micro: bool = False) -> str | None:
        if not data:
            return None  # a zero time: JSON null
        seconds = nanos = 0
        for number, wire, value in iter_fields(data):
            if number == 1:
                seconds = self.value("int64", wire, value, depth, "seconds")
            elif number == 2:
                nanos = self.value("int32", wire, value, depth, "nanos")
        try:
            moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
        except OverflowError:
            raise ProtobufError(f"time out of range: {seconds}s") from None
        if micro:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def duration(self, data: bytes, depth: int) -> str:
        nanos = 0
        for number, wire, value in iter_fields(data):
            if number == 1:
                nanos = self.value("int64", wire, value, depth, "duration")
        return go_duration(nanos)

    def quantity(self, data: bytes, depth: int) -> str:
        text = ""
        for number, wire, value in iter_fields(data):
            if number == 1:
                text = self.value("string", wire, value, depth, "quantity")
        return text or "0"

    def int_or_string(self, data: bytes, depth: int) -> int | str:
        kind, int_val, str_val = 0, 0, ""
        for number, wire, value in iter_fields(data):
            if number == 1:
                kind = self.value("int64", wire, value, depth, "type")
            elif number == 2:
                int_val = self.value("int32", wire, value, depth, "intVal")
            elif number == 3:
                str_val = self.value("string", wire, value, depth, "strVal")
        return str_val if kind == 1 else int_val

    def raw_json(self, data: bytes, depth: int) -> Any:
        raw = b""
        for number, wire, value in iter_fields(data):
            if number == 1:
                raw = _need_bytes(wire, value, "raw")
        if not raw:
            return None
        if raw.startswith(MAGIC):
            return _decode_object(raw, depth + 1)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ProtobufError(f"embedded object is not JSON: {exc}") from None

    def string_list(self, data: bytes, depth: int) -> list[str]:
        return [
            self.value("string", wire, value, depth, "items")
            for number, wire, value in iter_fields(data)
            if number == 1
        ]


def go_duration(nanos: int) -> str:
    """Format nanoseconds the way Go's ``time.Duration.String`` does (``1h2m0.5s``, ``300ms``)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return f"{sign}{_fraction(n, size)}{unit}"
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


_VARINT_TYPES = frozenset({"bool", "int32", "int64", "uint32", "uint64"})
_PACKABLE = {"bool": _VARINT, "int32": _VARINT, "int64": _VARINT, "uint32": _VARINT}
_PACKABLE |= {"uint64": _VARINT, "double": _FIXED64}
_ZEROS: dict[str, Any] = {
    "string": "",
    "bytes": "",
    "bool": False,
    "int32": 0,
    "int64": 0,
    "uint32": 0,
    "uint64": 0,
    "double": 0.0,
}
_SPECIAL_DECODERS: dict[str, Any] = {
    "Time": _Decoder.time,
    "MicroTime": lambda self, data, depth: self.time(data, depth, micro=True),
    "Duration": _Decoder.duration,
    "Quantity": _Decoder.quantity,
    "IntOrString": _Decoder.int_or_string,
    "RawExtension": _Decoder.raw_json,
    "FieldsV1": _Decoder.raw_json,
    "StringList": _Decoder.string_list,
}
