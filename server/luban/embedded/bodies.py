"""Reading request bodies: JSON, YAML or Kubernetes protobuf, within a size limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from starlette.requests import ClientDisconnect, Request

from luban.kube.duplicates import NO_JSON_DUPLICATES, JSONDuplicates, check_json, load_yaml
from luban.kube.errors import APIError, bad_request, too_large, unsupported_media_type
from luban.kube.protobuf import ProtobufError, UnknownKindError, decode_object, is_protobuf

JSON_TYPES = frozenset({"application/json", ""})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower-cased ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise bad_request("the client went away while sending the body") from None
    return b"".join(chunks)


@dataclass(frozen=True)
class Decoded:
    """A decoded body and, when asked for, the keys it repeats (which decoding drops)."""

    value: Any
    json_duplicates: JSONDuplicates = NO_JSON_DUPLICATES
    yaml_duplicates: tuple[str, ...] = ()


def decode_document(body: bytes, content_type: str, check_duplicates: bool = False) -> Decoded:
    """Decode a body of ``content_type`` (JSON when the client sent none, like the real server);
    with ``check_duplicates`` also find its repeated keys (JSON and YAML)."""
    if is_protobuf(content_type):
        try:
            return Decoded(decode_object(body))
        except UnknownKindError as exc:
            raise APIError(415, str(exc), "UnsupportedMediaType") from None
        except ProtobufError as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from None
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"the body of the request was malformed JSON: {exc}") from None
        if not check_duplicates:
            return Decoded(value)
        return Decoded(value, json_duplicates=check_json(body, value))
    if content_type in YAML_TYPES or content_type.endswith("+yaml"):
        try:
            value, repeated = load_yaml(body, check_duplicates)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise bad_request(f"the body of the request was malformed YAML: {problem}") from None
        return Decoded(value, yaml_duplicates=tuple(repeated))
    raise unsupported_media_type(content_type)


def parse_document(body: bytes, content_type: str) -> Any:
    """Decode a body of ``content_type`` (JSON when the client sent none, like the real server)."""
    return decode_document(body, content_type).value


async def read_object(request: Request, limit: int) -> dict[str, Any]:
    """Read and decode a body that must be one JSON object."""
    document: dict[str, Any] = (await read_decoded_object(request, limit)).value
    return document


async def read_decoded_object(
    request: Request, limit: int, check_duplicates: bool = False
) -> Decoded:
    """Read and decode a body that must be one JSON object, finding repeated keys if asked."""
    body = await read_body(request, limit)
    decoded = decode_document(body, media_type(request), check_duplicates)
    if not isinstance(decoded.value, dict):
        raise bad_request("the body of the request must be a JSON object")
    return decoded
