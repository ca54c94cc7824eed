"""Label and field selectors: syntax, validation messages and matching."""

from __future__ import annotations

import pytest

from luban.kube.selectors import (
    SelectorError,
    label_selector_from_dict,
    object_field,
    parse_field_selector,
    parse_label_selector,
)

_KEY_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        (" a = b ", "a=b"),
        ("z,a", "a,z"),  # requirements are sorted by key
        ("a", "a"),
        ("!a", "!a"),
        ("a in (y,x,x)", "a in (x,y)"),
        ("a notin ()", "a notin ()"),
        # selector.go doc example: empty entries are the empty value
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("a in (in)", "a in (in)"),  # keywords are identifiers in value position
        ("a=", "a="),
        ("a>5,b<3", "a>5,b<3"),
        ("example.com/app=web", "example.com/app=web"),
        ("a\tin\t(b)", "a in (b)"),
    ],
)
def test_parse_and_render(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        (
            "a>b",
            'unable to parse requirement: values[0]: Invalid value: "b": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("-a", f'unable to parse requirement: <nil>: Invalid value: "-a": {_KEY_RULE}'),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label '
            "key must consist",
        ),
        (
            "Bad_/x",
            'unable to parse requirement: <nil>: Invalid value: "Bad_/x": prefix part a '
            "lowercase RFC 1123 subdomain",
        ),
        (
            "a=" + "v" * 64,
            "unable to parse requirement: values[0][a]: Invalid value: "
            f'"{"v" * 64}": must be no more than 63 bytes',
        ),
        (
            "a=-x",
            'unable to parse requirement: values[0][a]: Invalid value: "-x": a valid label '
            "must be an empty string",
        ),
        ("a=b)", "found ')', expected: ',' or 'end of string'"),
        ("a=>", "unable to parse requirement: found '>', expected: identifier"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert isinstance(err.value, ValueError)
    assert str(err.value).startswith(message)


def test_key_length_limits() -> None:
    parse_label_selector("a" * 63)
    with pytest.raises(SelectorError, match="name part must be no more than 63 bytes"):
        parse_label_selector("a" * 64)
    parse_label_selector("a" * 253 + "/x")
    with pytest.raises(SelectorError, match="prefix part must be no more than 253 bytes"):
        parse_label_selector("a" * 254 + "/x")


def test_matching() -> None:
    labels = {"app": "web", "tier": "front", "n": "7"}
    assert parse_label_selector("app=web,tier in (front,back)").matches(labels)
    assert not parse_label_selector("app=web,tier notin (front)").matches(labels)
    assert parse_label_selector("missing notin (x),missing!=y,!missing").matches(labels)
    assert not parse_label_selector("missing in (x)").matches(labels)
    assert parse_label_selector("app").matches(labels)
    assert not parse_label_selector("!app").matches(labels)
    assert parse_label_selector("n>5,n<8").matches(labels)
    assert not parse_label_selector("app>5").matches(labels)  # non-numeric label never matches
    assert parse_label_selector("").matches({})
    assert parse_label_selector("a=").matches({"a": ""})
    assert not parse_label_selector("a=").matches({})


def test_label_selector_objects() -> None:
    # metav1.LabelSelectorAsSelector: nil selects nothing, {} selects everything.
    assert not label_selector_from_dict(None).matches({})
    assert label_selector_from_dict({}).matches({"any": "thing"})
    sel = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "back"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "team", "operator": "Exists"},
            ],
        }
    )
    assert str(sel) == "app=web,!canary,env notin (dev),team,tier in (back,front)"
    assert sel.matches({"app": "web", "tier": "back", "team": "x"})
    assert not sel.matches({"app": "web", "tier": "back", "team": "x", "canary": "1"})
    with pytest.raises(SelectorError, match='"Foo" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In"}]})
    with pytest.raises(SelectorError, match="values set must be empty"):
        label_selector_from_dict(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}
        )


def test_field_selector_parse() -> None:
    sel = parse_field_selector("status.phase!=Running,metadata.name==web,spec.nodeName=")
    assert sel.requirements == (
        ("metadata.name", "=", "web"),
        ("spec.nodeName", "=", ""),
        ("status.phase", "!=", "Running"),
    )
    assert str(sel) == "metadata.name=web,spec.nodeName=,status.phase!=Running"
    assert parse_field_selector("").empty
    assert parse_field_selector(",,").empty


def test_field_selector_escapes() -> None:
    # fields/selector.go: \, \= and \\ are escapes; bare , splits terms; bare = is an error.
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert sel.requirements == (("metadata.name", "=", "a,b=c\\d"),)
    assert str(sel) == r"metadata.name=a\,b\=c\\d"
    with pytest.raises(SelectorError, match="unescaped character in value: 61"):
        parse_field_selector("a=b=c")
    with pytest.raises(SelectorError, match=r"invalid escape sequence: \\q"):
        parse_field_selector(r"a=\q")
    with pytest.raises(SelectorError, match=r"invalid escape sequence: \\$"):
        parse_field_selector("a=b\\")
    with pytest.raises(SelectorError, match="invalid selector: 'x'; can't understand 'x'"):
        parse_field_selector("x")


def test_field_selector_matching() -> None:
    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "n1", "hostNetwork": False},
        "status": {"phase": "Running"},
    }

    def get(path: str) -> str | None:
        return object_field(pod, path)

    assert parse_field_selector("metadata.name=web,status.phase!=Pending").matches(get)
    assert parse_field_selector("spec.hostNetwork=false").matches(get)
    assert not parse_field_selector("spec.nodeName!=n1").matches(get)
    # A missing field compares as the empty string.
    assert parse_field_selector("spec.schedulerName=").matches(get)
    assert parse_field_selector("spec.schedulerName!=x").matches(get)


def test_object_field_rendering() -> None:
    obj = {"a": {"b": True, "c": 3, "d": 2.5, "e": None, "f": "s", "g": {"h": 1}}}
    assert object_field(obj, "a.b") == "true"
    assert object_field(obj, "a.c") == "3"
    assert object_field(obj, "a.d") == "2.5"
    assert object_field(obj, "a.e") is None
    assert object_field(obj, "a.f") == "s"
    assert object_field(obj, "a.g") is None
    assert object_field(obj, "a.zz") is None
    assert object_field(obj, "a.f.x") is None
