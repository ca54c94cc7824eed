"""Field errors, object-name rules and ObjectMeta validation, as the Kubernetes API server does.

Messages are rendered byte-for-byte like apimachinery's ``field.Error`` and ``NewInvalid``
(kubectl prints them verbatim), including Go's ``%q``/``%v`` formatting of bad values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from luban.kube.goquote import go_quote

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
TOO_SHORT = "FieldValueTooShort"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_FOUND = "FieldValueNotFound"
INTERNAL = "InternalError"

_TYPE_TEXT = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    "FieldValueTooFew": "Too few",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
    TOO_SHORT: "Too short",
}
# Types whose rendering never shows the bad value.
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG, TOO_SHORT, INTERNAL}


class _Omit:
    """apimachinery's ``omitValue``: a bad value that is not rendered."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()

NameValidator = Callable[[str, bool], list[str]]


# --- Go formatting -------------------------------------------------------------------------


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal exponent of the first digit."""
    d = Decimal(repr(abs(f)))
    _sign, digits, exp = d.normalize().as_tuple()
    ds = "".join(map(str, digits)) or "0"
    assert isinstance(exp, int)
    return ds, len(ds) + exp - 1


def go_float(f: float) -> str:
    """Go's ``%v`` for a float64 (``strconv 'g'`` with shortest precision)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    ds, exp = _digits(f)
    sign = "-" if f < 0 else ""
    # strconv %g with the shortest precision switches to exponent form at exponent 6.
    if exp < -4 or exp >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{ds}"
    if len(ds) <= exp + 1:
        return sign + ds + "0" * (exp + 1 - len(ds))
    return f"{sign}{ds[: exp + 1]}.{ds[exp + 1 :]}"


def _go_json_float(f: float) -> str:
    """encoding/json's float64 rendering ('f' unless the exponent is < -6 or >= 21)."""
    if f == 0:
        return "0"
    ds, exp = _digits(f)
    sign = "-" if f < 0 else ""
    if exp < -6 or exp >= 21:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{ds}"
    if len(ds) <= exp + 1:
        return sign + ds + "0" * (exp + 1 - len(ds))
    return f"{sign}{ds[: exp + 1]}.{ds[exp + 1 :]}"


def _json_str(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(v: Any) -> str:
    """Go's ``json.Marshal`` of a JSON-like value (map keys sorted, HTML-escaped)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_json_float(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, Mapping):
        items = sorted((str(k), val) for k, val in v.items())
        return "{" + ",".join(f"{_json_str(k)}:{go_json(val)}" for k, val in items) + "}"
    if isinstance(v, list | tuple):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    return _json_str(str(v))


def go_print(v: Any) -> str:
    """Go's ``fmt`` ``%v`` (and ``%+v``) of a decoded JSON value: ``map[k:v ...]`` with sorted
    keys, ``[a b]`` lists, strings bare, ``<nil>`` for null."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, Mapping):
        items = sorted((str(k), val) for k, val in v.items())
        return "map[" + " ".join(f"{k}:{go_print(val)}" for k, val in items) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_print(x) for x in v) + "]"
    return str(v)


def go_value(v: Any) -> str:
    """How ``field.Error`` renders a bad value: ``%v`` for scalars, ``%q`` strings, JSON else."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    return go_json(v)


# --- field errors --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One field-level validation error (apimachinery ``field.Error``)."""

    field: str
    type: str
    value: Any
    detail: str

    def body(self) -> str:
        """The message without the field (``ErrorBody``), used for Status causes."""
        text = _TYPE_TEXT.get(self.type, f"<unknown error {go_quote(self.type)}>")
        if self.type not in _NO_VALUE and self.value is not OMIT:
            text = f"{text}: {go_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def message(self) -> str:
        """``field: body``, exactly like ``field.Error.Error()``."""
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    """``field.Required``."""
    return FieldError(path, REQUIRED, "", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    """``field.Invalid``."""
    return FieldError(path, INVALID, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    """``field.Forbidden``."""
    return FieldError(path, FORBIDDEN, "", detail)


def duplicate(path: str, value: Any) -> FieldError:
    """``field.Duplicate``."""
    return FieldError(path, DUPLICATE, value, "")


def type_invalid(path: str, value: Any, detail: str) -> FieldError:
    """``field.TypeInvalid``."""
    return FieldError(path, TYPE_INVALID, value, detail)


def not_supported(path: str, value: Any, valid: Sequence[str]) -> FieldError:
    """``field.NotSupported`` (quotes each supported value)."""
    detail = "supported values: " + ", ".join(go_quote(str(v)) for v in valid) if valid else ""
    return FieldError(path, NOT_SUPPORTED, value, detail)


def too_long(path: str, max_length: int) -> FieldError:
    """``field.TooLong`` (the value is never shown)."""
    if max_length >= 0:
        detail = f"may not be more than {max_length} {'byte' if max_length == 1 else 'bytes'}"
    else:
        detail = "value is too long"
    return FieldError(path, TOO_LONG, "<value omitted>", detail)


def too_many(path: str, actual: int, max_items: int) -> FieldError:
    """``field.TooMany``."""
    if max_items >= 0:
        detail = f"must have at most {max_items} {'item' if max_items == 1 else 'items'}"
    else:
        detail = "has too many items"
    return FieldError(path, TOO_MANY, actual if actual >= 0 else OMIT, detail)


def aggregate_message(errors: Sequence[FieldError]) -> str:
    """``ErrorList.ToAggregate().Error()``: de-duplicated, bracketed when more than one."""
    seen: list[str] = []
    for e in errors:
        m = e.message()
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid_status(
    kind: str, group: str, name: str, errors: Sequence[FieldError]
) -> dict[str, Any]:
    """The 422 ``Status`` body of ``apierrors.NewInvalid``."""
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {go_quote(name)} is invalid"
    if errors:
        message += f": {aggregate_message(errors)}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    causes = []
    for e in errors:
        cause: dict[str, str] = {}
        if e.type:
            cause["reason"] = e.type
        body = e.body()
        if body:
            cause["message"] = body
        if e.field:
            cause["field"] = e.field
        causes.append(cause)
    if causes:
        details["causes"] = causes
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


# --- name rules ----------------------------------------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"

_RE_LABEL = re.compile(_DNS1123_LABEL_FMT)
_RE_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_RE_1035 = re.compile(_DNS1035_LABEL_FMT)
_RE_LABEL_KEY = re.compile(_LABEL_KEY_FMT)
_RE_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's ``RegexError``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {ex}regex used for validation is '{fmt}')"


def _max_len(n: int, unit: str = "characters") -> str:
    return f"must be no more than {n} {unit}"


def _full(rx: re.Pattern[str], value: str) -> bool:
    return rx.fullmatch(value) is not None


def dns1123_subdomain(value: str) -> list[str]:
    """``IsDNS1123Subdomain``: lower-case RFC 1123 subdomain, at most 253 characters."""
    errs = []
    if len(value) > 253:
        errs.append(_max_len(253))
    if not _full(_RE_SUBDOMAIN, value):
        errs.append(regex_error(_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1123_label(value: str) -> list[str]:
    """``IsDNS1123Label``: lower-case RFC 1123 label, at most 63 characters."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _full(_RE_LABEL, value):
        if _full(_RE_SUBDOMAIN, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1035_label(value: str) -> list[str]:
    """``IsDNS1035Label``: starts with a letter, at most 63 characters."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _full(_RE_1035, value):
        errs.append(regex_error(_1035_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def qualified_name(value: str) -> list[str]:
    """``IsQualifiedName`` (label keys, finalizers): ``[prefix/]name``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            sub = []
            if len(prefix) > 253:
                sub.append(_max_len(253, "bytes"))
            if not _full(_RE_SUBDOMAIN, prefix):
                sub.append(regex_error(_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
            errs.extend("prefix part " + m for m in sub)
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63, "bytes"))
    if not _full(_RE_LABEL_KEY, name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value(value: str) -> list[str]:
    """``IsValidLabelValue``: empty or a 63-byte qualified name part."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63, "bytes"))
    if not _full(_RE_LABEL_VALUE, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def path_segment_name(value: str, prefix: bool = False) -> list[str]:
    """``ValidatePathSegmentName``: no ``/`` or ``%``, and not ``.`` or ``..`` (unless prefix)."""
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    """``NameIsDNSSubdomain`` (generateName prefixes may end with '-')."""
    return dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    """``NameIsDNSLabel``."""
    return dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    """``NameIsDNS1035Label``."""
    return dns1035_label(_mask_trailing_dash(name) if prefix else name)


_NAME_RULES: dict[tuple[str, str], NameValidator] = {
    ("", "namespaces"): name_is_dns_label,
    ("", "services"): name_is_dns1035_label,
    ("", "persistentvolumes"): path_segment_name,
    ("rbac.authorization.k8s.io", "roles"): path_segment_name,
    ("rbac.authorization.k8s.io", "clusterroles"): path_segment_name,
    ("rbac.authorization.k8s.io", "rolebindings"): path_segment_name,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): path_segment_name,
}


def name_rule_for(group: str, resource: str) -> NameValidator:
    """The metadata.name rule the real API server applies to ``resource`` in ``group``.

    Namespaces use DNS-1123 labels, services DNS-1035 labels, RBAC objects and
    persistent volumes path segments; everything else (pods, configmaps, secrets,
    deployments, custom resources, ...) DNS-1123 subdomains.
    """
    return _NAME_RULES.get((group, resource), name_is_dns_subdomain)


# --- ObjectMeta ----------------------------------------------------------------------------

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_ORPHAN = "orphan"
_FOREGROUND = "foregroundDeletion"


def _str_map(
    meta: Mapping[str, Any], key: str, path: str
) -> tuple[dict[str, str], list[FieldError]]:
    raw = meta.get(key)
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        return {}, [type_invalid(path, raw, "must be an object with string values")]
    return {str(k): v for k, v in raw.items()}, []


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    """``ValidateLabels``: keys are qualified names, values label values."""
    errs = []
    for k, v in labels.items():
        errs += [invalid(path, k, m) for m in qualified_name(k)]
        errs += [invalid(path, v, m) for m in label_value(v)]
    return errs


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    """``ValidateAnnotations``: case-insensitive qualified keys, 256 KiB in total."""
    errs = []
    for k in annotations:
        errs += [invalid(path, k, m) for m in qualified_name(k.lower())]
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _group_version_ok(api_version: str) -> bool:
    parts = api_version.split("/")
    if len(parts) == 1:
        return bool(parts[0])
    return len(parts) == 2 and bool(parts[1])


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    """``ValidateOwnerReferences``: required fields, no Event owners, one controller."""
    if not isinstance(refs, list):
        return [type_invalid(path, refs, "must be an array")]
    errs: list[FieldError] = []
    first_controller = ""
    for i, ref in enumerate(refs):
        p = f"{path}[{i}]"
        if not isinstance(ref, Mapping):
            errs.append(type_invalid(p, ref, "must be an object"))
            continue
        api_version = str(ref.get("apiVersion") or "")
        if not api_version:
            errs.append(required(f"{p}.apiVersion", "must not be empty"))
        elif not _group_version_ok(api_version):
            errs.append(
                invalid(f"{p}.apiVersion", api_version, "must be <group>/<version> or <version>")
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(required(f"{p}.{key}", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(p, dict(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                errs.append(
                    invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    """``ValidateFinalizers``: qualified names; orphan and foregroundDeletion exclusive."""
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        return [type_invalid(path, finalizers, "must be an array of strings")]
    errs = []
    for f in finalizers:
        errs += [invalid(path, f, m) for m in qualified_name(f)]
    if _ORPHAN in finalizers and _FOREGROUND in finalizers:
        errs.append(
            invalid(path, finalizers, f"finalizer {_ORPHAN} and {_FOREGROUND} cannot be both set")
        )
    return errs


def _common_meta(meta: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        errs.append(invalid(f"{path}.generation", generation, "must be greater than or equal to 0"))
    labels, e = _str_map(meta, "labels", f"{path}.labels")
    errs += e + validate_labels(labels, f"{path}.labels")
    annotations, e = _str_map(meta, "annotations", f"{path}.annotations")
    errs += e + validate_annotations(annotations, f"{path}.annotations")
    if meta.get("ownerReferences") is not None:
        errs += validate_owner_references(meta["ownerReferences"], f"{path}.ownerReferences")
    return errs


def validate_object_meta(
    meta: Mapping[str, Any],
    namespaced: bool,
    name_validator: NameValidator = name_is_dns_subdomain,
    path: str = "metadata",
) -> list[FieldError]:
    """``ValidateObjectMeta`` on create (name generation already done, if any)."""
    errs: list[FieldError] = []
    generate_name = str(meta.get("generateName") or "")
    name = str(meta.get("name") or "")
    if generate_name:
        errs += [
            invalid(f"{path}.generateName", generate_name, m)
            for m in name_validator(generate_name, True)
        ]
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [invalid(f"{path}.name", name, m) for m in name_validator(name, False)]
    namespace = str(meta.get("namespace") or "")
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs += [invalid(f"{path}.namespace", namespace, m) for m in dns1123_label(namespace)]
    elif namespace:
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    errs += _common_meta(meta, path)
    if meta.get("finalizers") is not None:
        errs += validate_finalizers(meta["finalizers"], f"{path}.finalizers")
    return errs


def validate_object_meta_update(
    new: Mapping[str, Any], old: Mapping[str, Any], path: str = "metadata"
) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: immutable identity, resourceVersion required, and so on."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp") is not None:
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            listing = "[]string{" + ", ".join(go_quote(f) for f in extra) + "}"
            errs.append(
                forbidden(
                    f"{path}.finalizers",
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {listing}",
                )
            )
    rv = str(new.get("resourceVersion") or "")
    if not rv:
        errs.append(invalid(f"{path}.resourceVersion", rv, "must be specified for an update"))
    new_gen, old_gen = int(new.get("generation") or 0), int(old.get("generation") or 0)
    if new_gen < 0:
        errs.append(invalid(f"{path}.generation", new_gen, "must be greater than or equal to 0"))
    if new_gen < old_gen:
        errs.append(invalid(f"{path}.generation", new_gen, "must not be decremented"))
    for key in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        nv, ov = new.get(key), old.get(key)
        if (nv or None) != (ov or None):
            shown = nv if nv is not None else ("" if key in ("name", "namespace", "uid") else None)
            errs.append(invalid(f"{path}.{key}", shown, "field is immutable"))
    labels, e = _str_map(new, "labels", f"{path}.labels")
    errs += e + validate_labels(labels, f"{path}.labels")
    annotations, e = _str_map(new, "annotations", f"{path}.annotations")
    errs += e + validate_annotations(annotations, f"{path}.annotations")
    if new.get("ownerReferences") is not None:
        errs += validate_owner_references(new["ownerReferences"], f"{path}.ownerReferences")
    return errs
