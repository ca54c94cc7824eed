"""``fieldValidation`` of one write: what strict decoding found and how it is answered.

``Strict`` rejects unknown and duplicate fields, ``Warn`` (the default) answers each as a
``Warning`` header, ``Ignore`` says nothing. A create or update body with strict errors gets
the decoder's 400 BadRequest (``Deployment in version "v1" cannot be handled as a
Deployment: strict decoding error: ...``); a JSON, merge or strategic merge patch gets the
422 Invalid of the API server's patch handler (``staging/src/k8s.io/apiserver/pkg/endpoints/
handlers/patch.go``): `` "" is invalid: patch: Invalid value: "<patched object JSON, or the
patch as Go prints a map>": strict decoding error: ...``; an apply patch whose YAML repeats a
key gets a 400 ``error strict decoding YAML: ...`` once the apply itself succeeded.

Duplicate keys are looked for only under Strict and Warn, so Ignore pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from luban.embedded.bodies import Decoded, read_decoded_object
from luban.kube.duplicates import (
    NO_JSON_DUPLICATES,
    JSONDuplicates,
    check_json,
    json_has_duplicates,
    key_events,
    load_yaml,
)
from luban.kube.errors import APIError, bad_request
from luban.kube.goquote import go_quote
from luban.kube.resources import ResourceType
from luban.kube.strictdecoding import (
    StrictErrors,
    apply_yaml_error_message,
    body_errors,
    duplicate_field_message,
    patch_errors,
    strict_error_message,
)
from luban.kube.validation import go_json, go_print, invalid, invalid_status, not_supported

VALIDATIONS = ("Ignore", "Strict", "Warn")
_OPTIONS_KINDS = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}
_JSON_PATCH_FIELDS = frozenset({"op", "path", "from", "value"})


def field_validation(request: Request) -> str:
    """The request's ``fieldValidation`` (``Warn`` when absent).

    Anything else is the 422 of the options validation (``PatchOptions.meta.k8s.io "" is
    invalid: fieldValidation: Unsupported value: ...``), which also accepts the empty string.
    """
    value = request.query_params.get("fieldValidation", "")
    if value and value not in VALIDATIONS:
        kind = _OPTIONS_KINDS.get(request.method, "CreateOptions")
        error = not_supported("fieldValidation", value, ["", *VALIDATIONS])
        body = invalid_status(kind, "meta.k8s.io", "", [error])
        raise APIError(422, body["message"], "Invalid", body["details"])
    return value or "Warn"


@dataclass(frozen=True)
class FieldCheck:
    """One write's fieldValidation and the duplicates its body decoding found.

    ``patch_value`` marks a JSON, merge or strategic merge patch: it renders the ``Invalid
    value`` of the 422, and ``patch`` holds the worded errors of the patch document itself.
    """

    validation: str
    json: JSONDuplicates = NO_JSON_DUPLICATES
    yaml: tuple[str, ...] = ()
    patch: tuple[str, ...] = ()
    patch_value: Callable[[], str] | None = None

    def errors(self, rt: ResourceType, unknown: Sequence[str]) -> StrictErrors:
        """All strict errors, given the unknown fields validation found (see strictdecoding)."""
        if self.patch_value is not None:
            return patch_errors(self.patch, unknown)
        return body_errors(unknown, self.json, self.yaml, typed=not rt.custom)

    def report(self, rt: ResourceType, unknown: Sequence[str]) -> list[str]:
        """Raise the Strict error, or return the Warn warnings (none under Ignore)."""
        if self.validation == "Ignore" or not (
            unknown or self.json.repeated or self.yaml or self.patch
        ):
            return []
        errors = self.errors(rt, unknown)
        if not errors:
            return []
        if self.validation == "Warn":
            return errors.warnings()
        if self.patch_value is not None:
            raise patch_invalid(self.patch_value(), errors)
        version = rt.api_version.rpartition("/")[2]
        raise bad_request(strict_error_message(rt.kind, version, errors))


def patch_invalid(value: str, errors: StrictErrors) -> APIError:
    """The 422 ``apierrors.NewInvalid(schema.GroupKind{}, "", {field.Invalid("patch", ...)})``."""
    body = invalid_status("", "", "", [invalid("patch", value, errors.text())])
    return APIError(422, body["message"], "Invalid", body["details"])


async def read_checked_object(request: Request, limit: int) -> tuple[dict[str, Any], FieldCheck]:
    """A create or update body (one object) and its :class:`FieldCheck`."""
    validation = field_validation(request)
    decoded: Decoded = await read_decoded_object(request, limit, validation != "Ignore")
    check = FieldCheck(validation, decoded.json_duplicates, decoded.yaml_duplicates)
    return decoded.value, check


def _json_patch_errors(body: bytes, ops: Any) -> list[str]:
    """What decoding a JSON patch into ``[]jsonPatchOp`` strictly reports, document order:
    keys other than op/path/from/value, and repeated keys (inside values too)."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        return []  # not a patch at all: applying it says so
    if all(op.keys() <= _JSON_PATCH_FIELDS for op in ops) and not json_has_duplicates(body, ops):
        return []
    errors: list[str] = []
    skipped: list[str] = []
    for event in key_events(body):
        if any(event.path.startswith((s + ".", s + "[")) for s in skipped):
            continue  # an unknown field's value is never decoded
        top = event.path == f"{event.path.partition('.')[0]}.{event.key}"
        if top and event.key not in _JSON_PATCH_FIELDS:
            if event.path not in skipped:
                errors.append(f"json patch unknown field {go_quote(event.path)}")
                skipped.append(event.path)
        elif event.duplicate:
            errors.append(f"json patch {duplicate_field_message(event.path)}")
    return errors


def patch_check(validation: str, kind: str, body: bytes, patch: Any, patched: Any) -> FieldCheck:
    """The check of a ``kind`` ("json", "merge" or "strategic") patch ``body`` decoded to
    ``patch`` that produced ``patched``. The 422 of a JSON or merge patch quotes the patched
    object as JSON, the one of a strategic merge patch the patch as Go prints a map."""
    if validation == "Ignore":
        return FieldCheck(validation)
    if kind == "json":
        errors = _json_patch_errors(body, patch)
    else:
        errors = [duplicate_field_message(e.path) for e in check_json(body, patch).repeated]
    if kind == "strategic":
        return FieldCheck(validation, patch=tuple(errors), patch_value=lambda: go_print(patch))
    snapshot = orjson.dumps(patched)  # what follows the patch changes the object in place
    return FieldCheck(
        validation, patch=tuple(errors), patch_value=lambda: go_json(orjson.loads(snapshot))
    )


def load_apply(body: bytes, validation: str) -> tuple[Any, list[str]]:
    """An apply patch's YAML and, under Strict or Warn, its repeated-key lines."""
    return load_yaml(body, validation != "Ignore")


def apply_duplicates(validation: str, lines: Sequence[str]) -> list[str]:
    """Raise the Strict 400 for an apply patch's repeated keys, or return them as warnings."""
    if not lines or validation == "Ignore":
        return []
    if validation == "Strict":
        raise bad_request(apply_yaml_error_message(lines))
    return list(lines)
