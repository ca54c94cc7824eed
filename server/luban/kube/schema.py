"""Structural openAPIV3Schema of CustomResourceDefinitions: validation, pruning, defaulting.

Follows kube-openapi's validator as wrapped by apiextensions-apiserver (error paths and
messages included), its pruning and defaulting algorithms, and the x-kubernetes-list-type
and embedded-resource checks, plus the checks the server makes on a v1 CRD itself.
Every function is pure: inputs are never mutated.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeGuard

from luban.kube.goquote import go_quote
from luban.kube.validation import (
    FieldError,
    dns1035_label,
    dns1123_subdomain,
    duplicate,
    forbidden,
    go_float,
    go_json,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    path_segment_name,
    required,
    too_long,
    too_many,
    type_invalid,
    validate_object_meta,
)

_IN = "body"
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_MAX_FLOAT32 = 3.4028234663852886e38

# ObjectMeta's JSON fields: everything else under metadata is dropped, as Coerce does.
OBJECT_META_FIELDS = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
        "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
        "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip
_META_FIELDS = ("apiVersion", "kind", "metadata")


def json_type(v: Any) -> str:
    """The JSON schema type name of a decoded JSON value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, Mapping):
        return "object"
    return type(v).__name__


def _is_num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _types(s: Mapping[str, Any]) -> list[str]:
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    return [t] if isinstance(t, str) and t else []


_STRING_FORMATS = frozenset(
    {
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid",
        "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn",
        "hexcolor", "rgbcolor", "byte", "password", "date", "duration", "datetime",
        "k8sshortname", "k8slongname",
    }
)  # fmt: skip


def _format(s: Mapping[str, Any]) -> str:
    """The format the server keeps (unsupported ones are stripped, as apiextensions does)."""
    fmt = s.get("format")
    if not isinstance(fmt, str) or not fmt:
        return ""
    types = _types(s)
    kind = types[0] if len(types) == 1 else ""
    if kind in ("", "string"):
        return fmt if fmt.replace("-", "") in _STRING_FORMATS else ""
    if kind == "integer":
        return fmt if fmt in ("int32", "int64") else ""
    if kind == "number":
        return fmt if fmt in ("float", "double") else ""
    return ""


# --- string formats ------------------------------------------------------------------------

_RX_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"
)
_RX_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RX_UUID = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_RX_UUID_V = {
    "uuid3": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}"),
    "uuid4": re.compile(
        r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"
    ),
    "uuid5": re.compile(
        r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"
    ),
}
_RX_HOSTNAME = re.compile(
    r"([^\W_]((-?[^\W_]){0,62})?|([^\W_](([^\W_-]|-){0,61}[^\W_])?\.){1,}[^\W\d_]{2,63})"
)
_RX_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_RX_MAC = re.compile(
    r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}|([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}"
    r"|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}"
)
_RX_DURATION = re.compile(
    r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+"
    r"|\d+\s*(ns|us|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?"
    r"|hours?|days?|weeks?)"
)
_RX_HEXCOLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RX_RGB = re.compile(r"rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)")
_RX_SSN = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")
_RX_BSON = re.compile(r"[0-9a-fA-F]{24}")
_RX_SHORT = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RX_LONG = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_RX_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*|/\S*")


def _valid_date(y: str, m: str, d: str) -> bool:
    try:
        date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def _is_datetime(s: str) -> bool:
    m = _RX_DATETIME.fullmatch(s)
    if m is None:
        return False
    return _valid_date(m[1], m[2], m[3]) and int(m[4]) < 24 and int(m[5]) < 60


def _is_date(s: str) -> bool:
    m = _RX_DATE.fullmatch(s)
    return m is not None and _valid_date(m[1], m[2], m[3])


def _is_byte(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_ip(s: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(s).version == version
    except ValueError:
        return False


def _is_cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _isbn10(s: str) -> bool:
    d = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{9}[\dX]", d):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(d))
    return total % 11 == 0


def _isbn13(s: str) -> bool:
    d = re.sub(r"[\s-]", "", s)
    if not re.fullmatch(r"\d{13}", d):
        return False
    return sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d)) % 10 == 0


def _creditcard(s: str) -> bool:
    d = re.sub(r"\D", "", s)
    if not re.fullmatch(
        r"4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
        r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11}",
        d,
    ):
        return False
    total = 0
    for i, c in enumerate(reversed(d)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_rgb(s: str) -> bool:
    m = _RX_RGB.fullmatch(s)
    return m is not None and all(int(g) <= 255 for g in m.groups())


def _full(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda s: rx.fullmatch(s) is not None


_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "datetime": _is_datetime,
    "date": _is_date,
    "byte": _is_byte,
    "password": lambda s: True,
    "uuid": _full(_RX_UUID),
    "uuid3": _full(_RX_UUID_V["uuid3"]),
    "uuid4": _full(_RX_UUID_V["uuid4"]),
    "uuid5": _full(_RX_UUID_V["uuid5"]),
    "email": _full(_RX_EMAIL),
    "hostname": lambda s: (
        bool(_RX_HOSTNAME.fullmatch(s))
        and len(s) <= 255
        and all(len(p) <= 63 for p in s.split("."))
    ),
    "ipv4": lambda s: _is_ip(s, 4),
    "ipv6": lambda s: _is_ip(s, 6),
    "cidr": _is_cidr,
    "mac": _full(_RX_MAC),
    "uri": _full(_RX_URI),
    "duration": _full(_RX_DURATION),
    "hexcolor": _full(_RX_HEXCOLOR),
    "rgbcolor": _is_rgb,
    "ssn": _full(_RX_SSN),
    "isbn": lambda s: _isbn10(s) or _isbn13(s),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _creditcard,
    "bsonobjectid": _full(_RX_BSON),
    "k8sshortname": lambda s: len(s) <= 63 and _RX_SHORT.fullmatch(s) is not None,
    "k8slongname": lambda s: len(s) <= 253 and _RX_LONG.fullmatch(s) is not None,
}


# --- validation ----------------------------------------------------------------------------


class _Result:
    """The errors of one validation, plus what kube-openapi counts as matches."""

    __slots__ = ("errors", "matches")

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.matches = 0

    def merge(self, other: _Result) -> None:
        self.errors.extend(other.errors)
        self.matches += other.matches


class _Validator:
    """kube-openapi's SchemaValidator, emitting apiextensions' converted field errors."""

    def __init__(self, base: str) -> None:
        self.base = base

    # How kubeOpenAPIResultToFieldErrors turns an openapi error name into a field path.
    def _path(self, name: str) -> str:
        name = name[1:] if name.startswith(".") else name
        if not name or name == ".":
            return self.base or "<nil>"
        return f"{self.base}.{name}" if self.base else name

    def _plain(self, message: str) -> FieldError:
        return invalid(self.base or "<nil>", "", message)

    def validate(self, data: Any, s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        if data is None:
            res.merge(self._type(data, s, path))
            res.merge(self._enum(data, s, path))
            return res
        res.merge(self._type(data, s, path))
        res.merge(self._junctors(data, s, path))
        if isinstance(data, str):
            res.merge(self._string(data, s, path))
            fmt = _format(s)
            check = _FORMAT_CHECKS.get(fmt.replace("-", ""))
            if check is not None and not check(data):
                msg = f"{path} in {_IN} must be of type {fmt}: {go_quote(data)}"
                res.errors.append(type_invalid(self._path(path), data, msg))
        if _is_num(data):
            res.merge(self._number(data, s, path))
        if isinstance(data, list):
            res.merge(self._slice(data, s, path))
        res.merge(self._enum(data, s, path))
        if isinstance(data, Mapping):
            res.merge(self._object(data, s, path))
        res.matches += 1
        return res

    def _type_error(self, path: str, type_name: str, value: Any) -> FieldError:
        if isinstance(value, str):
            msg = f"{path} in {_IN} must be of type {type_name}: {go_quote(value)}"
        else:
            msg = f"{path} in {_IN} must be of type {type_name}"
        return type_invalid(self._path(path), value, msg)

    def _type(self, data: Any, s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        types = _types(s)
        fmt = _format(s)
        if not types and not fmt:
            return res
        res.matches += 1
        if data is None:
            if types and not s.get("nullable"):
                res.errors.append(self._type_error(path, ",".join(types), "null"))
            return res
        sch = json_type(data)
        data_fmt = "int64" if sch == "integer" else ("float64" if sch == "number" else "")
        float_int = sch == "number" and "integer" in types and float(data).is_integer()
        int_float = sch == "integer" and "number" in types
        ok = sch in types or float_int or int_float
        if (
            sch not in ("string", "array")
            and fmt
            and not (ok or data_fmt == fmt or (fmt == "float64" and data_fmt == "float32"))
        ):
            res.errors.append(self._type_error(path, fmt, data_fmt))
            return res
        if not ("number" in types or "integer" in types) and fmt and sch in ("string", "array"):
            return res
        if not ok:
            res.errors.append(self._type_error(path, ",".join(types), sch))
        return res

    def _junctors(self, data: Any, s: Mapping[str, Any], path: str) -> _Result:
        main = _Result()
        q = go_quote(path)
        any_of = s.get("anyOf") or []
        if any_of:
            best: _Result | None = None
            ok = False
            for sub in any_of:
                r = self.validate(data, sub, path)
                if not r.errors:
                    ok, best = True, None
                    break
                if best is None or r.matches > best.matches:
                    best = r
            if not ok:
                main.errors.append(self._plain(f"{q} must validate at least one schema (anyOf)"))
            if best is not None:
                main.merge(best)
        one_of = s.get("oneOf") or []
        if one_of:
            best = None
            valid = 0
            for sub in one_of:
                r = self.validate(data, sub, path)
                if not r.errors:
                    valid += 1
                    best = None
                elif valid == 0 and (best is None or r.matches > best.matches):
                    best = r
            if valid != 1:
                extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                msg = f"{q} must validate one and only one schema (oneOf). {extra}"
                main.errors.append(self._plain(msg))
                if best is not None:
                    main.merge(best)
        all_of = s.get("allOf") or []
        if all_of:
            valid = 0
            for sub in all_of:
                r = self.validate(data, sub, path)
                valid += not r.errors
                main.merge(r)
            if valid != len(all_of):
                extra = ". None validated" if valid == 0 else ""
                main.errors.append(self._plain(f"{q} must validate all the schemas (allOf){extra}"))
        not_schema = s.get("not")
        if isinstance(not_schema, Mapping) and not self.validate(data, not_schema, path).errors:
            main.errors.append(self._plain(f"{q} must not validate the schema (not)"))
        main.matches += 1
        return main

    def _string(self, data: str, s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        max_len, min_len, pattern = s.get("maxLength"), s.get("minLength"), s.get("pattern")
        if isinstance(max_len, int) and len(data) > max_len:
            res.errors.append(too_long(self._path(path), max_len))
        elif isinstance(min_len, int) and len(data) < min_len:
            msg = f"{path} in {_IN} should be at least {min_len} chars long"
            res.errors.append(invalid(self._path(path), data, msg))
        elif isinstance(pattern, str) and pattern:
            try:
                matched = re.search(pattern, data) is not None
                shown = pattern
            except re.error as e:
                matched, shown = False, f"{pattern}, but pattern is invalid: {e}"
            if not matched:
                msg = f"{path} in {_IN} should match '{shown}'"
                res.errors.append(invalid(self._path(path), data, msg))
        return res

    def _range_error(self, v: Any, type_name: str, fmt: str, prefix: str, path: str) -> str:
        """IsValueValidAgainstRange: the bound or value must fit the declared type."""
        bad = False
        if type_name == "integer":
            if isinstance(v, float) and not (v.is_integer() and math.isfinite(v)):
                bad = True
            else:
                lo, hi = _INT32 if fmt == "int32" else _INT64
                bad = not lo <= int(v) <= hi
        elif fmt == "float":
            bad = abs(float(v)) > _MAX_FLOAT32
        if not bad:
            return ""
        if fmt:
            return f"{prefix} value must be of type {type_name} with format {fmt} in {path}"
        return f"{prefix} value must be of type {type_name} (default format) in {path}"

    def _number(self, data: float, s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        types = _types(s)
        type_name = types[0] if len(types) == 1 and types[0] in ("integer", "number") else ""
        fmt = _format(s) if type_name else ""
        if msg := self._range_error(data, type_name, fmt, "Checked", path):
            res.errors.append(self._plain(msg))
        p = self._path(path)
        is_int = isinstance(data, int)
        multiple = s.get("multipleOf")
        if _is_num(multiple):
            if msg := self._range_error(multiple, type_name, fmt, "MultipleOf", path):
                res.errors.append(self._plain(msg))
            native = not msg and is_int
            factor: float = int(multiple) if native else float(multiple)
            if factor <= 0:
                shown = str(factor) if native else go_float(float(factor))
                text = f"factor MultipleOf declared for {path} must be positive: {shown}"
                res.errors.append(invalid(p, factor, text))
            elif not _is_multiple(data, factor, native):
                shown = str(factor) if native else go_float(float(factor))
                res.errors.append(
                    invalid(p, data, f"{path} in {_IN} should be a multiple of {shown}")
                )
        for key, excl_key, is_max in (
            ("minimum", "exclusiveMinimum", False),
            ("maximum", "exclusiveMaximum", True),
        ):
            bound = s.get(key)
            if not _is_num(bound):
                continue
            prefix = "Maximum boundary" if is_max else "Minimum boundary"
            msg = self._range_error(bound, type_name, fmt, prefix, path)
            if msg:
                res.errors.append(self._plain(msg))
            exclusive = bool(s.get(excl_key))
            if not msg and is_int:
                limit: float = int(bound)
                shown = str(int(bound))
            else:
                limit = float(bound)
                shown = go_float(float(bound))
            value = data if not msg and is_int else float(data)
            if is_max:
                fail = value >= limit if exclusive else value > limit
                word = "less than" if exclusive else "less than or equal to"
            else:
                fail = value <= limit if exclusive else value < limit
                word = "greater than" if exclusive else "greater than or equal to"
            if fail:
                res.errors.append(invalid(p, data, f"{path} in {_IN} should be {word} {shown}"))
        return res

    def _slice(self, data: list[Any], s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, v in enumerate(data):
                res.merge(self.validate(v, items, f"{path}[{i}]"))
        elif isinstance(items, list):
            for i, sub in enumerate(items[: len(data)]):
                res.merge(self.validate(data[i], sub, f"{path}[{i}]"))
        min_items, max_items = s.get("minItems"), s.get("maxItems")
        p = self._path(path)
        if isinstance(min_items, int) and len(data) < min_items:
            msg = f"{path} in {_IN} should have at least {min_items} items"
            res.errors.append(invalid(p, len(data), msg))
        if isinstance(max_items, int) and len(data) > max_items:
            res.errors.append(too_many(p, len(data), max_items))
        if s.get("uniqueItems") and _has_duplicates(data):
            res.errors.append(invalid(p, "", f"{path} in {_IN} shouldn't contain duplicates"))
        res.matches += 1
        return res

    def _enum(self, data: Any, s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        enum = s.get("enum")
        if not isinstance(enum, list) or not enum:
            return res
        if data is not None and any(_enum_equal(data, e) for e in enum):
            return res
        shown = [e if isinstance(e, str) else go_json(e) for e in enum]
        res.errors.append(not_supported(self._path(path), data, shown))
        return res

    def _object(self, data: Mapping[str, Any], s: Mapping[str, Any], path: str) -> _Result:
        res = _Result()
        p = self._path(path)
        n = len(data)
        min_p, max_p = s.get("minProperties"), s.get("maxProperties")
        if isinstance(min_p, int) and n < min_p:
            res.errors.append(
                invalid(p, n, f"{path} in {_IN} should have at least {min_p} properties")
            )
        if isinstance(max_p, int) and n > max_p:
            res.errors.append(too_many(p, n, max_p))
        props: Mapping[str, Any] = s.get("properties") or {}
        additional = s.get("additionalProperties")
        if additional is False:
            for k in data:
                if k not in props:
                    msg = f"{path}.{k} in {_IN} is a forbidden property"
                    res.errors.append(invalid(p, k, msg))
        elif isinstance(additional, Mapping):
            for k, v in data.items():
                if k not in props:
                    res.merge(self.validate(v, additional, f"{path}.{k}"))
        for name in sorted(props):
            if name in data:
                child = f"{path}.{name}" if path else name
                res.merge(self.validate(data[name], props[name], child))
        for name in s.get("required") or []:
            if name not in data:
                res.errors.append(required(self._path(f"{path}.{name}")))
        return res


def _is_multiple(data: float, factor: float, native: bool) -> bool:
    if native:
        return int(data) % int(factor) == 0
    mult = (1 / factor * data) if factor < 1 else (data / factor)
    if not math.isfinite(mult):
        return False
    return abs(mult - math.trunc(mult)) < 1e-9 * max(abs(mult), 1.0)


def _strict_equal(a: Any, b: Any) -> bool:
    """Go's DeepEqual over decoded JSON (int64 and float64 differ, bools are not numbers)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _enum_equal(data: Any, enum_value: Any) -> bool:
    if _is_num(data) and _is_num(enum_value):
        # Go converts the value to the enum's numeric type before comparing.
        converted = int(data) if isinstance(enum_value, int) else float(data)
        return bool(converted == enum_value)
    return _strict_equal(data, enum_value)


def _has_duplicates(data: list[Any]) -> bool:
    seen: list[Any] = []
    for v in data:
        if any(_strict_equal(v, u) for u in seen):
            return True
        seen.append(v)
    return False


def validate(obj: Any, schema: Mapping[str, Any], path: str = "") -> list[FieldError]:
    """Validate ``obj`` against an openAPIV3Schema the way a custom resource is validated.

    ``path`` prefixes every field (``"status"`` for the status subresource); with no
    prefix, errors without a field render as ``<nil>`` exactly like the real server.
    Also checks x-kubernetes-list-type uniqueness and embedded resources.
    """
    errors = _Validator(path).validate(obj, schema, "").errors
    errors += validate_list_types(obj, schema, path)
    errors += validate_embedded(obj, schema, path)
    return errors


# --- list types ----------------------------------------------------------------------------


def _key(v: Any) -> Any:
    """A hashable identity that keeps JSON types apart (1, 1.0 and true differ)."""
    if isinstance(v, Mapping | list):
        return ("c", go_json(v))
    return (type(v).__name__, v)


def _first_duplicates(values: list[Any]) -> list[int]:
    counts: dict[Any, int] = {}
    out = []
    for i, v in enumerate(values):
        k = _key(v)
        counts[k] = counts.get(k, 0) + 1
        if counts[k] == 2:
            out.append(i)
    return out


_UNSPECIFIED = object()


def _list_errors(path: str, s: Mapping[str, Any], data: list[Any]) -> list[FieldError]:
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        return [duplicate(f"{path}[{i}]", data[i]) for i in _first_duplicates(data)]
    if list_type != "map":
        return []
    for i, x in enumerate(data):
        if x is not None and not isinstance(x, Mapping):
            return [invalid(f"{path}[{i}]", x, "must be an object for an array of list-type map")]
    keys: list[str] = list(s.get("x-kubernetes-list-map-keys") or [])
    if len(data) <= 1:
        return []
    if len(keys) == 1:
        (k,) = keys
        vals = [_UNSPECIFIED if x is None or k not in x else x[k] for x in data]
        idx = _first_duplicates([("unspecified",) if v is _UNSPECIFIED else v for v in vals])
        return [
            duplicate(f"{path}[{i}]", {} if vals[i] is _UNSPECIFIED else {k: vals[i]}) for i in idx
        ]
    composite = [{k: x[k] for k in keys if x is not None and k in x} for x in data]
    return [duplicate(f"{path}[{i}]", composite[i]) for i in _first_duplicates(composite)]


def validate_list_types(obj: Any, schema: Mapping[str, Any], path: str = "") -> list[FieldError]:
    """``x-kubernetes-list-type`` set/map uniqueness (``Duplicate value`` errors)."""
    errs: list[FieldError] = []

    def walk(x: Any, s: Mapping[str, Any] | None, p: str) -> None:
        if not isinstance(s, Mapping):
            return
        if isinstance(x, list):
            errs.extend(_list_errors(p, s, x))
            items = s.get("items")
            for i, v in enumerate(x):
                walk(v, items if isinstance(items, Mapping) else None, f"{p}[{i}]")
        elif isinstance(x, Mapping):
            props = s.get("properties") or {}
            additional = s.get("additionalProperties")
            for k, v in x.items():
                if k in props:
                    walk(v, props[k], f"{p}.{k}" if p else k)
                elif isinstance(additional, Mapping):
                    walk(v, additional, f"{p}[{k}]")

    walk(obj, schema, path)
    return errs


# --- embedded resources --------------------------------------------------------------------


def _embedded_errors(x: Mapping[str, Any], p: str) -> list[FieldError]:
    def child(name: str) -> str:
        return f"{p}.{name}" if p else name

    errs: list[FieldError] = []
    if "apiVersion" not in x:
        errs.append(required(child("apiVersion")))
    if "kind" not in x:
        errs.append(required(child("kind")))
    for k, v in x.items():
        if k == "apiVersion":
            if not isinstance(v, str):
                errs.append(invalid(child(k), v, "must be a string"))
            elif not v:
                errs.append(invalid(child(k), v, "must not be empty"))
            elif v.count("/") > 1:
                errs.append(invalid(child(k), v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            if not isinstance(v, str):
                errs.append(invalid(child(k), v, "must be a string"))
            elif not v:
                errs.append(invalid(child(k), v, "must not be empty"))
            elif e := dns1035_label(v.lower()):
                msg = "may have mixed case, but should otherwise match: " + ",".join(e)
                errs.append(invalid(child(k), v, msg))
        elif k == "metadata":
            if not isinstance(v, Mapping):
                errs.append(invalid(child(k), v, "metadata must be an object"))
                continue
            meta = dict(v)
            meta["name"] = meta.get("name") or "fakename"
            namespaced = bool(meta.get("namespace"))
            errs += validate_object_meta(meta, namespaced, path_segment_name, child("metadata"))
    return errs


def validate_embedded(obj: Any, schema: Mapping[str, Any], path: str = "") -> list[FieldError]:
    """TypeMeta and ObjectMeta of ``x-kubernetes-embedded-resource`` values."""
    errs: list[FieldError] = []

    def walk(x: Any, s: Any, p: str) -> None:
        if not isinstance(s, Mapping):
            return
        if isinstance(x, Mapping):
            if s.get("x-kubernetes-embedded-resource"):
                errs.extend(_embedded_errors(x, p))
            props = s.get("properties") or {}
            additional = s.get("additionalProperties")
            for k, v in x.items():
                if k in props:
                    walk(v, props[k], f"{p}.{k}" if p else k)
                elif isinstance(additional, Mapping):
                    walk(v, additional, f"{p}[{k}]")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, s.get("items"), f"{p}[{i}]")

    walk(obj, schema, path)
    return errs


# --- pruning -------------------------------------------------------------------------------


def prune(obj: Any, schema: Mapping[str, Any] | None, is_root: bool = True) -> Any:
    """A copy of ``obj`` without the fields ``schema`` does not specify."""
    return prune_with_paths(obj, schema, is_root)[0]


def prune_with_paths(
    obj: Any, schema: Mapping[str, Any] | None, is_root: bool = True
) -> tuple[Any, list[str]]:
    """Prune like :func:`prune`, also returning the sorted paths of dropped fields.

    The paths are what the server reports as ``unknown field "..."`` warnings or
    strict field-validation errors (``spec.foo``, ``spec.items[0].bar``).
    """
    unknown: list[str] = []
    root: Mapping[str, Any] = dict(schema or {})
    if is_root:
        root = {**root, "x-kubernetes-embedded-resource": True}
    result = _prune(copy.deepcopy(obj), root, "", unknown, is_root)
    return result, sorted(unknown)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _prune_meta(meta: Any, parent: str, unknown: list[str]) -> Any:
    if not isinstance(meta, dict):
        return meta
    for k in list(meta):
        if k not in OBJECT_META_FIELDS:
            unknown.append(f"{_join(parent, 'metadata')}.{k}")
            del meta[k]
    return meta


def _prune(x: Any, s: Mapping[str, Any] | None, p: str, unknown: list[str], root: bool) -> Any:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        return _skip_prune(x, s, p, unknown)
    if isinstance(x, dict):
        if s is None:
            unknown.extend(_join(p, k) for k in x)
            x.clear()
            return x
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        props = s.get("properties") or {}
        additional = s.get("additionalProperties")
        for k in list(x):
            if embedded and k in _META_FIELDS:
                if k == "metadata":
                    _prune_meta(x[k], p, unknown)
                continue
            if k in props:
                x[k] = _prune(x[k], props[k], _join(p, k), unknown, False)
            elif additional is not None and additional is not False:
                sub = additional if isinstance(additional, Mapping) else None
                x[k] = _prune(x[k], sub, _join(p, k), unknown, False)
            else:
                if k not in _META_FIELDS or p or not root:
                    unknown.append(_join(p, k))
                del x[k]
        return x
    if isinstance(x, list):
        items = s.get("items") if s is not None else None
        sub = items if isinstance(items, Mapping) else None
        return [_prune(v, sub, f"{p}[{i}]", unknown, False) for i, v in enumerate(x)]
    return x


def _skip_prune(x: Any, s: Mapping[str, Any], p: str, unknown: list[str]) -> Any:
    if isinstance(x, dict):
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        props = s.get("properties") or {}
        additional = s.get("additionalProperties")
        for k in list(x):
            if embedded and k in _META_FIELDS:
                if k == "metadata":
                    _prune_meta(x[k], p, unknown)
                continue
            if k in props:
                x[k] = _prune(x[k], props[k], _join(p, k), unknown, False)
            elif isinstance(additional, Mapping):
                x[k] = _prune(x[k], additional, _join(p, k), unknown, False)
        return x
    if isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, Mapping):
            return x
        return [_skip_prune(v, items, f"{p}[{i}]", unknown) for i, v in enumerate(x)]
    return x


# --- defaulting ----------------------------------------------------------------------------


def _field_schema(s: Mapping[str, Any] | None, k: str) -> Mapping[str, Any] | None:
    if s is None:
        return None
    props = s.get("properties") or {}
    if k in props:
        return props[k]  # type: ignore[no-any-return]
    additional = s.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


def _prune_nulls(x: Any, s: Mapping[str, Any] | None) -> None:
    if isinstance(x, dict):
        for k in list(x):
            sub = _field_schema(s, k)
            if (
                x[k] is None
                and sub is not None
                and not sub.get("nullable")
                and "default" not in sub
            ):
                del x[k]
            else:
                _prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for v in x:
            _prune_nulls(v, items if isinstance(items, Mapping) else None)


def _non_nullable_null(v: Any, s: Mapping[str, Any] | None) -> bool:
    return v is None and s is not None and not s.get("nullable")


def _default(x: Any, s: Mapping[str, Any] | None) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props: Mapping[str, Any] = s.get("properties") or {}
        for k, prop in props.items():
            has_default = prop.get("default") is not None
            if has_default and (k not in x or _non_nullable_null(x[k], prop)):
                x[k] = copy.deepcopy(prop["default"])
        additional = s.get("additionalProperties")
        for k in list(x):
            if k in props:
                _default(x[k], props[k])
            elif isinstance(additional, Mapping):
                if _non_nullable_null(x[k], additional):
                    x[k] = copy.deepcopy(additional.get("default"))
                _default(x[k], additional)
    elif isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, Mapping):
            return
        for i in range(len(x)):
            if _non_nullable_null(x[i], items):
                x[i] = copy.deepcopy(items.get("default"))
            _default(x[i], items)


def apply_defaults(obj: Any, schema: Mapping[str, Any]) -> Any:
    """A copy of ``obj`` with schema ``default`` values applied.

    As the server does when decoding (on reads from storage and on writes), null values of
    non-nullable fields without a default are dropped first; those with one get the default.
    """
    out = copy.deepcopy(obj)
    _prune_nulls(out, schema)
    _default(out, schema)
    return out


# --- CustomResourceDefinition --------------------------------------------------------------

_OPENAPI_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_COLUMN_TYPES = "boolean,date,integer,number,string"
_COLUMN_FORMATS = "byte,date,date-time,double,float,int32,int64,password"


def _structural(s: Mapping[str, Any], p: str, level: str) -> list[FieldError]:
    """Structural invariants (apiextensions ``validateStructuralInvariants``), unsorted."""
    errs: list[FieldError] = []
    stype = s.get("type") or ""
    items = s.get("items")
    props: Mapping[str, Any] = s.get("properties") or {}
    additional = s.get("additionalProperties")
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if stype == "array" and items is None:
        errs.append(required(f"{p}.items", "must be specified"))
    if isinstance(items, Mapping):
        errs += _structural(items, f"{p}.items", "item")
    for k, v in props.items():
        if isinstance(v, Mapping):
            errs += _structural(v, f"{p}.properties[{k}]", "field")
    if additional is not None and additional is not False:
        if level == "root":
            errs.append(forbidden(f"{p}.additionalProperties", "must not be used at the root"))
        if isinstance(additional, Mapping):
            errs += _structural(additional, f"{p}.additionalProperties", "field")
    if int_or_string and preserve:
        errs.append(
            invalid(
                f"{p}.x-kubernetes-preserve-unknown-fields", True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )  # fmt: skip
    if int_or_string and embedded:
        errs.append(
            invalid(
                f"{p}.x-kubernetes-embedded-resource", True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )  # fmt: skip
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            msg = f"must be a valid regular expression, but isn't: {e}"
            errs.append(invalid(f"{p}.pattern", pattern, msg))
    if embedded and stype != "object":
        msg = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(required(f"{p}.type", msg) if not stype else invalid(f"{p}.type", stype, msg))
    elif not stype and not int_or_string and not preserve:
        where = {"root": "at the root", "item": "for specified array items"}.get(
            level, "for specified object fields"
        )
        errs.append(required(f"{p}.type", f"must not be empty {where}"))
    if embedded and additional is not None and additional is not False:
        msg = "must not be used if x-kubernetes-embedded-resource is set"
        errs.append(forbidden(f"{p}.additionalProperties", msg))
    if level == "root" and stype and stype != "object":
        errs.append(invalid(f"{p}.type", stype, "must be object at the root"))
    check_meta = level == "root" or embedded
    for meta_key in ("kind", "apiVersion"):
        sub = props.get(meta_key)
        if check_meta and isinstance(sub, Mapping) and sub.get("type") != "string":
            errs.append(
                invalid(f"{p}.properties[{meta_key}].type", sub.get("type", ""), "must be string")
            )
    meta = props.get("metadata")
    if isinstance(meta, Mapping):
        mp = f"{p}.properties[metadata]"
        if check_meta and meta.get("type") != "object":
            errs.append(invalid(f"{mp}.type", meta.get("type", ""), "must be object"))
        if level == "root":
            extra = {k for k in meta if k not in ("type", "default", "properties")}
            names = set((meta.get("properties") or {}).keys())
            if extra or not names <= {"name", "generateName"}:
                msg = (
                    "must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified"
                )
                errs.append(forbidden(mp, msg))
    if embedded and not preserve and not props:
        msg = (
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        )
        errs.append(required(f"{p}.properties", msg))
    return errs


def _openapi_checks(s: Mapping[str, Any], p: str) -> list[FieldError]:
    """The per-node checks of ``ValidateCustomResourceDefinitionOpenAPISchema`` clients hit."""
    errs: list[FieldError] = []
    stype = s.get("type")
    if s.get("uniqueItems") is True:
        msg = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        errs.append(forbidden(f"{p}.uniqueItems", msg))
    additional = s.get("additionalProperties")
    if additional is not None and s.get("properties"):
        msg = "additionalProperties and properties are mutual exclusive"
        errs.append(forbidden(f"{p}.additionalProperties", msg))
    if stype and stype not in _OPENAPI_TYPES:
        errs.append(not_supported(f"{p}.type", stype, _OPENAPI_TYPES))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(
            invalid(f"{p}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined")
        )
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        msg = "must be object if x-kubernetes-map-type is specified"
        if not stype:
            errs.append(required(f"{p}.type", msg))
        elif stype != "object":
            errs.append(invalid(f"{p}.type", stype, msg))
        if map_type not in ("atomic", "granular"):
            errs.append(
                not_supported(f"{p}.x-kubernetes-map-type", map_type, ["atomic", "granular"])
            )
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    items = s.get("items")
    if list_type is not None:
        msg = "must be array if x-kubernetes-list-type is specified"
        if not stype:
            errs.append(required(f"{p}.type", msg))
        elif stype != "array":
            errs.append(invalid(f"{p}.type", stype, msg))
        if list_type not in ("atomic", "set", "map"):
            errs.append(
                not_supported(f"{p}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"])
            )
    if keys and list_type != "map":
        msg = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(required(f"{p}.x-kubernetes-list-type", msg))
        else:
            errs.append(invalid(f"{p}.x-kubernetes-list-type", list_type, msg))
    if list_type == "map":
        if not keys:
            msg = "must not be empty if x-kubernetes-list-type is map"
            errs.append(required(f"{p}.x-kubernetes-list-map-keys", msg))
        if not isinstance(items, Mapping):
            errs.append(
                required(f"{p}.items", "must have a schema if x-kubernetes-list-type is map")
            )
        elif items.get("type") != "object":
            msg = "must be object if parent array's x-kubernetes-list-type is map"
            errs.append(invalid(f"{p}.items.type", items.get("type", ""), msg))
        else:
            item_props = items.get("properties") or {}
            if not all(k in item_props for k in keys):
                msg = "entries must all be names of item properties"
                errs.append(invalid(f"{p}.x-kubernetes-list-map-keys", keys, msg))
            elif len(set(keys)) != len(keys):
                msg = "must not contain duplicate entries"
                errs.append(invalid(f"{p}.x-kubernetes-list-map-keys", keys, msg))
    for k, v in (s.get("properties") or {}).items():
        if isinstance(v, Mapping):
            errs += _openapi_checks(v, f"{p}.properties[{k}]")
    if isinstance(additional, Mapping):
        errs += _openapi_checks(additional, f"{p}.additionalProperties")
    if isinstance(items, Mapping):
        errs += _openapi_checks(items, f"{p}.items")
    for junctor in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(junctor) or []):
            if isinstance(sub, Mapping):
                errs += _openapi_checks(sub, f"{p}.{junctor}[{i}]")
    return errs


def validate_crd_schema(schema: Any, path: str) -> list[FieldError]:
    """Check one version's ``openAPIV3Schema`` (``path`` ends in ``openAPIV3Schema``)."""
    if not isinstance(schema, Mapping):
        return [type_invalid(path, schema, "must be an object")]
    errs: list[FieldError] = []
    structural = _structural(schema, path, "root")
    structural.sort(key=lambda e: e.message())
    errs += structural
    if schema.get("nullable"):
        errs.append(forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    errs += _openapi_checks(schema, path)
    return errs


def _scale_path(value: Any, p: str, prefixes: tuple[str, ...], where: str) -> list[FieldError]:
    if not isinstance(value, str) or not value:
        return [invalid(p, value, "must not be empty")]
    if not value.startswith("."):
        return [invalid(p, value, "must be a simple json path starting with .")]
    if not value.startswith(prefixes):
        return [invalid(p, value, f"should be a json path under {where}")]
    return []


def _validate_subresources(sub: Any, p: str) -> list[FieldError]:
    if not isinstance(sub, Mapping):
        return []
    errs: list[FieldError] = []
    scale = sub.get("scale")
    if isinstance(scale, Mapping):
        for key, prefixes, where in (
            ("specReplicasPath", (".spec.",), ".spec"),
            ("statusReplicasPath", (".status.",), ".status"),
        ):
            if not scale.get(key):
                errs.append(required(f"{p}.scale.{key}"))
            else:
                errs += _scale_path(scale[key], f"{p}.scale.{key}", prefixes, where)
        selector = scale.get("labelSelectorPath")
        if selector:
            errs += _scale_path(
                selector, f"{p}.scale.labelSelectorPath", (".spec.", ".status."),
                "either .spec or .status",
            )  # fmt: skip
    status = sub.get("status")
    if status is not None and not isinstance(status, Mapping):
        errs.append(invalid(f"{p}.status", status, "must be an object"))
    return errs


def _validate_columns(columns: Any, p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, col in enumerate(columns if isinstance(columns, list) else []):
        cp = f"{p}[{i}]"
        if not isinstance(col, Mapping):
            errs.append(invalid(cp, col, "must be an object"))
            continue
        if not col.get("name"):
            errs.append(required(f"{cp}.name"))
        ctype = col.get("type")
        if not ctype:
            errs.append(required(f"{cp}.type", f"must be one of {_COLUMN_TYPES}"))
        elif ctype not in _COLUMN_TYPES.split(","):
            errs.append(invalid(f"{cp}.type", ctype, f"must be one of {_COLUMN_TYPES}"))
        fmt = col.get("format")
        if fmt and fmt not in _COLUMN_FORMATS.split(","):
            errs.append(invalid(f"{cp}.format", fmt, f"must be one of {_COLUMN_FORMATS}"))
        if not col.get("jsonPath"):
            errs.append(required(f"{cp}.JSONPath"))
    return errs


def _validate_names(names: Mapping[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(required(f"{p}.{key}"))
    for key in ("plural", "singular"):
        value = str(names.get(key) or "")
        if value and (e := dns1035_label(value)):
            errs.append(invalid(f"{p}.{key}", value, ",".join(e)))
    for key in ("kind", "listKind"):
        value = str(names.get(key) or "")
        if value and (e := dns1035_label(value.lower())):
            msg = "may have mixed case, but should otherwise match: " + ",".join(e)
            errs.append(invalid(f"{p}.{key}", value, msg))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            if e := dns1035_label(str(value)):
                errs.append(invalid(f"{p}.{key}[{i}]", value, ",".join(e)))
    kind = names.get("kind")
    if kind and kind == names.get("listKind"):
        errs.append(invalid(f"{p}.listKind", kind, "kind and listKind may not be the same"))
    return errs


def default_crd(crd: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a v1 CRD with the server's defaults (singular, listKind, conversion)."""
    out = copy.deepcopy(dict(crd))
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return out
    names = spec.setdefault("names", {})
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    conversion = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conversion, dict):
        conversion.setdefault("strategy", "None")
    return out


def validate_crd(crd: Mapping[str, Any]) -> list[FieldError]:
    """What the API server rejects when a client creates a v1 CustomResourceDefinition.

    Defaults are applied first (see :func:`default_crd`), as the server does before
    validating; schema paths use ``spec.validation`` when every version shares one
    schema, because the server validates the internal form.
    """
    obj = default_crd(crd)
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return [required("spec")]
    raw_names = spec.get("names")
    names: Mapping[str, Any] = raw_names if isinstance(raw_names, Mapping) else {}
    group = str(spec.get("group") or "")
    required_name = f"{names.get('plural', '')}.{group}"

    def name_rule(name: str, prefix: bool) -> list[str]:
        msgs = name_is_dns_subdomain(name, prefix)
        if name != required_name:
            msgs.append('must be spec.names.plural+"."+spec.group')
        return msgs

    raw_meta = obj.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    errs = validate_object_meta(meta, False, name_rule)
    if not group:
        errs.append(required("spec.group"))
    elif e := dns1123_subdomain(group):
        errs.append(invalid("spec.group", group, ",".join(e)))
    elif "." not in group:
        errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))

    versions = [v for v in spec.get("versions") or [] if isinstance(v, Mapping)]
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions]
    shared = len(versions) > 0 and all(sc == schemas[0] for sc in schemas)
    for i, sc in enumerate(schemas):
        if sc is None:
            errs.append(required(f"spec.versions[{i}].schema.openAPIV3Schema"))
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        vp = f"spec.versions[{i}]"
        name = str(v.get("name") or "")
        storage += bool(v.get("storage"))
        unique = unique and name not in seen
        seen.add(name)
        if e := dns1035_label(name):
            errs.append(invalid(f"{vp}.name", name, ",".join(e)))
        if not shared and schemas[i] is not None:
            errs += validate_crd_schema(schemas[i], f"{vp}.schema.openAPIV3Schema")
        errs += _validate_subresources(v.get("subresources"), f"{vp}.subresources")
        errs += _validate_columns(
            v.get("additionalPrinterColumns"), f"{vp}.additionalPrinterColumns"
        )
    if not unique:
        errs.append(invalid("spec.versions", list(versions), "must contain unique version names"))
    if storage != 1:
        msg = "must have exactly one version marked as storage version"
        errs.append(invalid("spec.versions", list(versions), msg))
    errs += _validate_names(names, "spec.names")
    if shared and schemas[0] is not None:
        errs += validate_crd_schema(schemas[0], "spec.validation.openAPIV3Schema")
    conversion = spec.get("conversion")
    if isinstance(conversion, Mapping):
        strategy = conversion.get("strategy")
        if strategy not in ("None", "Webhook"):
            errs.append(not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
        elif strategy == "Webhook" and not isinstance(conversion.get("webhook"), Mapping):
            msg = "required when strategy is set to Webhook"
            errs.append(required("spec.conversion.webhookClientConfig", msg))
    if spec.get("preserveUnknownFields") is True:
        msg = (
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
            "spec.versions[*].schema instead"
        )
        errs.append(invalid("spec.preserveUnknownFields", True, msg))
    return errs
