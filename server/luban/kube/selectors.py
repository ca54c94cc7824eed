"""Label and field selectors with the syntax, validation and messages of apimachinery.

Learned from k8s.io/apimachinery ``pkg/labels/selector.go`` (lexer, parser, requirement
validation), ``pkg/api/validate/content/kube.go`` (label key/value rules) and
``pkg/fields/selector.go`` (field selector terms and escaping).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from luban.kube.goquote import go_quote

Operator = Literal["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]


class SelectorError(ValueError):
    """A selector that does not parse or validate; ``str()`` is the apimachinery message."""


# --- label key / value validation (content.IsLabelKey, content.IsLabelValue) ---

_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_RE = re.compile(f"^{_KEY_FMT}$")
_VALUE_FMT = f"({_KEY_FMT})?"
_VALUE_RE = re.compile(f"^{_VALUE_FMT}$")
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_DNS_SUBDOMAIN_RE = re.compile(f"^{_DNS_SUBDOMAIN_FMT}$")
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Go's content.RegexError joins examples with " or " after "', " (a double space).
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def label_key_errors(key: str) -> list[str]:
    """The problems apimachinery finds with a label key (empty when valid)."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix.encode()) > 253:
                errs.append("prefix part must be no more than 253 bytes")
            if not _DNS_SUBDOMAIN_RE.match(prefix):
                errs.append(
                    "prefix part " + _regex_error(_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com")
                )
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _KEY_RE.match(name):
        errs.append("name part " + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """The problems apimachinery finds with a label value (empty when valid)."""
    errs: list[str] = []
    if len(value.encode()) > 63:
        errs.append("must be no more than 63 bytes")
    if not _VALUE_RE.match(value):
        errs.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _invalid(path: str, value: str, errs: list[str]) -> str:
    return f"{path}: Invalid value: {go_quote(value)}: {'; '.join(errs)}"


# --- label selectors ---


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key``, operator and sorted, de-duplicated values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (apimachinery Requirement.Matches)."""
        op = self.operator
        present = self.key in labels
        if op in ("=", "==", "in"):
            return present and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if op == "exists":
            return present
        if op == "!":
            return not present
        if not present:
            return False
        actual, wanted = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if actual is None or wanted is None:
            return False
        return actual > wanted if op == "gt" else actual < wanted

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        values = ",".join(self.values)
        symbol = {"gt": ">", "lt": "<"}.get(op, op)
        if op in ("in", "notin"):
            return f"{self.key} {op} ({values})"
        return f"{self.key}{symbol}{values}"


def _parse_int64(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements sorted by key; ``nothing`` matches no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for ``labels``."""
        if self.nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """True for the select-everything selector."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)

_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_SYMBOLS = {"=", "==", "!=", "!", "(", ")", ",", ">", "<"}
_KEYWORDS = {"in", "notin"}
_END = "\x00end"


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); kind is 'id', 'end', 'error', a symbol or a keyword."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_END, ""))
            return tokens
        if text[i] in _SPECIAL:
            # Longest run of special characters that still forms a known symbol.
            buf, last, j = "", "", i
            while j < n and text[j] in _SPECIAL:
                buf += text[j]
                if buf in _SYMBOLS:
                    last = buf
                elif last:
                    break
                j += 1
            if not last:
                tokens.append(("error", f"error expected: keyword found '{buf}'"))
                i = j
            else:
                tokens.append((last, last))
                i += len(last)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
            j += 1
        word = text[i:j]
        tokens.append((word if word in _KEYWORDS else "id", word))
        i = j


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        # In value context 'in'/'notin' are plain identifiers ("a in (in)").
        return ("id" if values and kind in _KEYWORDS else kind), lit

    def take(self, values: bool = True) -> tuple[str, str]:
        tok = self.peek(values)
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == _END:
                return reqs
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            kind, lit = self.take()
            if kind == _END:
                return reqs
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind2, lit2 = self.peek()
            if kind2 not in ("id", "!"):
                raise SelectorError(f"found '{lit2}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        kind, lit = self.take()
        negated = kind == "!"
        if negated:
            kind, lit = self.take()
        if kind != "id":
            raise SelectorError(f"found '{lit}', expected: identifier")
        key = lit
        if errs := label_key_errors(key):
            raise SelectorError(_invalid("<nil>", key, errs))
        if negated or self.peek()[0] in (_END, ","):
            # "!a=b" ends the requirement at "a"; the caller then trips over the "=".
            return _new_requirement(key, "!" if negated else "exists", [])
        op = self.operator()
        values = self.set_values() if op in ("in", "notin") else self.exact_value()
        return _new_requirement(key, op, values)

    def operator(self) -> Operator:
        kind, lit = self.take(values=False)
        ops: dict[str, Operator] = {
            "in": "in",
            "notin": "notin",
            "=": "=",
            "==": "==",
            "!=": "!=",
            ">": "gt",
            "<": "lt",
        }
        if kind not in ops:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        return ops[kind]

    def set_values(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.take()
            return [""]
        if kind not in ("id", ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            # apimachinery reports the token seen before the list here.
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            kind, lit = self.take()
            if kind == "id":
                values.append(lit)
                kind2, lit2 = self.peek()
                if kind2 == ",":
                    continue
                if kind2 == ")":
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if kind == ",":
                # Empty entries ("(,a)", "(a,,b)", "(a,)") are the empty value.
                if not values:
                    values.append("")
                if self.peek()[0] in (")", ","):
                    values.append("")
                if self.peek()[0] == ")":
                    return values
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        kind, _ = self.peek()
        if kind in (_END, ","):
            return [""]
        kind, lit = self.take()
        if kind == "id":
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, op: Operator, values: Iterable[str]) -> Requirement:
    """Validate like labels.NewRequirement; the error is its aggregated field errors."""
    vals = sorted(set(values))
    errs: list[str] = []
    if key_errs := label_key_errors(key):
        errs.append(_invalid("key", key, key_errs))
    if op in ("in", "notin") and not vals:
        errs.append(
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
        )
    elif op in ("=", "==", "!=") and len(vals) != 1:
        errs.append(
            f"values: Invalid value: {_go_list(vals)}: "
            "exact-match compatibility requires one single value"
        )
    elif op in ("exists", "!") and vals:
        errs.append(
            f"values: Invalid value: {_go_list(vals)}: "
            "values set must be empty for exists and does not exist"
        )
    elif op in ("gt", "lt"):
        if len(vals) != 1:
            errs.append(
                f"values: Invalid value: {_go_list(vals)}: "
                "for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(
                    f"values[{i}]: Invalid value: {go_quote(v)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, v in enumerate(vals):
        if val_errs := label_value_errors(v):
            errs.append(_invalid(f"values[{i}][{key}]", v, val_errs))
    if errs:
        raise SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, tuple(vals))


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the ``labelSelector`` query syntax; raises :class:`SelectorError`."""
    reqs = _LabelParser(text).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector object (metav1.LabelSelectorAsSelector).

    ``None`` selects nothing; an empty ``{}`` selects everything.
    """
    if sel is None:
        return NOTHING
    reqs: list[Requirement] = []
    for key, value in (sel.get("matchLabels") or {}).items():
        reqs.append(_new_requirement(str(key), "=", [str(value)]))
    ops: dict[str, Operator] = {
        "In": "in",
        "NotIn": "notin",
        "Exists": "exists",
        "DoesNotExist": "!",
    }
    for expr in sel.get("matchExpressions") or ():
        operator = str(expr.get("operator", ""))
        if operator not in ops:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        values = [str(v) for v in expr.get("values") or ()]
        reqs.append(_new_requirement(str(expr.get("key", "")), ops[operator], values))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# --- field selectors ---

FieldOperator = Literal["=", "==", "!="]


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of ``field op value`` terms (sorted as apimachinery sorts them)."""

    requirements: tuple[tuple[str, FieldOperator, str], ...] = ()

    def matches(self, get: Callable[[str], str | None]) -> bool:
        """Whether the object whose fields ``get`` returns satisfies every term."""
        for field, op, value in self.requirements:
            actual = get(field) or ""
            if (actual == value) == (op == "!="):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True for the select-everything selector."""
        return not self.requirements

    @property
    def fields(self) -> tuple[str, ...]:
        """The field paths the selector names, for checking them against a type's table."""
        return tuple(f for f, _, _ in self.requirements)

    def __str__(self) -> str:
        return ",".join(
            f"{f}{'!=' if op == '!=' else '='}{escape_field_value(v)}"
            for f, op, v in self.requirements
        )


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the ``fieldSelector`` query syntax; raises :class:`SelectorError`."""
    if not text:
        return FieldSelector()
    reqs: list[tuple[str, FieldOperator, str]] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        for i in range(len(term)):
            op = next((o for o in ("!=", "==", "=") if term.startswith(o, i)), None)
            if op is not None:
                field, raw = term[:i], term[i + len(op) :]
                reqs.append((field, "!=" if op == "!=" else "=", _unescape_field_value(raw)))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    return FieldSelector(tuple(reqs))


def object_field(obj: Mapping[str, Any], path: str) -> str | None:
    """The text a field selector compares for the dotted ``path`` of ``obj``.

    Strings as they are, booleans as ``true``/``false``, numbers in decimal; None when the
    path is missing (field selectors then compare it as the empty string).
    """
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        return str(node)
    if isinstance(node, float):
        return str(int(node)) if node.is_integer() else repr(node)
    if isinstance(node, str):
        return node
    return None
