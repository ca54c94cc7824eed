"""The strict decoding errors of one request (unknown and duplicate fields) and the messages
the API server answers them with under ``fieldValidation=Strict`` (``Warn`` sends each one as a
``Warning``).

Order follows the real server (``test/integration/apiserver/field_validation_test.go``):

* create/update of a built-in kind, JSON body: one pass of the strict decoder, so unknown and
  duplicate fields interleave in document order, and a field both unknown and repeated is only
  unknown;
* create/update with a YAML body: yaml.v2's repeated-key errors (one error, ``yaml: unmarshal
  errors:`` and a line each), then the unknown fields in the key-sorted order of the JSON the
  YAML becomes;
* custom resources: every duplicate first, then the unknown fields as pruning finds them;
* patches: the duplicates in the patch document, then the unknown fields of the patched object
  in key-sorted order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from luban.kube.duplicates import JSONDuplicates
from luban.kube.goquote import go_quote
from luban.kube.strict import MAX_REPORTED, unknown_field_message


def duplicate_field_message(path: str) -> str:
    """One duplicate-key error of the JSON decoder (also a ``Warning`` text)."""
    return f"duplicate field {go_quote(path)}"


@dataclass(frozen=True)
class StrictErrors:
    """What strict decoding found: yaml.v2 repeated-key lines, then field errors."""

    yaml: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.yaml or self.fields)

    def warnings(self) -> list[str]:
        """The ``Warning`` texts under ``fieldValidation=Warn``: one per error, yaml lines apart."""
        return [*self.yaml, *self.fields]

    def text(self) -> str:
        """``strict decoding error: ...`` as ``runtime.NewStrictDecodingError`` words it."""
        parts = [yaml_errors_text(self.yaml)] if self.yaml else []
        return "strict decoding error: " + ", ".join([*parts, *self.fields])


def yaml_errors_text(lines: Sequence[str]) -> str:
    """yaml.v2's ``TypeError`` text for repeated keys."""
    return "yaml: unmarshal errors:\n  " + "\n  ".join(lines)


_PART = re.compile(r"\[(\d+)\]|([^.\[]+)")


def _sorted_key(path: str) -> tuple[tuple[int, int, str], ...]:
    """Where ``path`` comes when an object is walked with its keys sorted (Go's json.Marshal)."""
    return tuple(
        (1, int(index), "") if index else (0, 0, name) for index, name in _PART.findall(path)
    )


def sorted_paths(paths: Sequence[str]) -> list[str]:
    """``paths`` in the order a strict decoder meets them in key-sorted JSON."""
    return sorted(paths, key=_sorted_key)


def _under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them."""
    if path in roots:
        return True
    return any(path.startswith((r + ".", r + "[")) for r in roots)


def body_errors(
    unknown: Sequence[str],
    duplicates: JSONDuplicates,
    yaml_lines: Sequence[str],
    *,
    typed: bool,
) -> StrictErrors:
    """The strict errors of a create or update body (see the module docstring for order)."""
    if yaml_lines:
        ordered = sorted_paths(unknown) if typed else list(unknown)
        fields = [unknown_field_message(p) for p in ordered]
        return StrictErrors(tuple(yaml_lines), tuple(fields[:MAX_REPORTED]))
    if not duplicates.repeated:
        return StrictErrors(fields=tuple(unknown_field_message(p) for p in unknown))
    if not typed:
        dups = [duplicate_field_message(e.path) for e in duplicates.repeated]
        fields = dups + [unknown_field_message(p) for p in unknown]
        return StrictErrors(fields=tuple(fields[:MAX_REPORTED]))
    # The typed decoder skips an unknown field's value, repeats and all.
    roots = set(unknown)
    events: list[tuple[float, int, str]] = [
        (duplicates.first.get(p, math.inf), 0, p) for p in unknown
    ]
    events += [(e.ordinal, 1, e.path) for e in duplicates.repeated if not _under(e.path, roots)]
    fields = [
        duplicate_field_message(p) if repeated else unknown_field_message(p)
        for _ordinal, repeated, p in sorted(events)
    ]
    return StrictErrors(fields=tuple(fields[:MAX_REPORTED]))


def patch_errors(patch: Sequence[str], unknown: Sequence[str]) -> StrictErrors:
    """The strict errors of a patch: those of the patch document (already worded), then the
    unknown fields of the patched object."""
    fields = [*patch, *(unknown_field_message(p) for p in sorted_paths(unknown))]
    return StrictErrors(fields=tuple(fields[:MAX_REPORTED]))


def strict_error_message(kind: str, version: str, errors: StrictErrors) -> str:
    """The message of the 400 BadRequest a create or update body with strict errors gets
    under ``fieldValidation=Strict`` (``kind`` and ``version`` as the body spells them)."""
    return f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {errors.text()}"


def apply_yaml_error_message(lines: Sequence[str]) -> str:
    """The 400 BadRequest of an apply patch whose YAML repeats keys, under Strict."""
    return f"error strict decoding YAML: error converting YAML to JSON: {yaml_errors_text(lines)}"
