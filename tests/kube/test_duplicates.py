"""Duplicate keys in JSON and YAML bodies, and how strict errors are ordered and worded."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from luban.kube.duplicates import (
    JSONDuplicates,
    json_duplicates,
    json_has_duplicates,
    key_events,
    load_yaml,
)
from luban.kube.strictdecoding import (
    StrictErrors,
    apply_yaml_error_message,
    body_errors,
    patch_errors,
    sorted_paths,
)
from luban.kube.validation import go_print


def has(body: bytes) -> bool:
    return json_has_duplicates(body, orjson.loads(body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1, "b": 2}', False),
        (b'{"a": 1, "a": 2}', True),
        (b'{"a": {"x": "1"}, "b": [{"y": 1, "y": 1}]}', True),
        # escaped quotes and backslashes inside strings are not string boundaries
        (b'{"a": "q\\"uote", "b": "\\\\", "c\\\\": "\\\\\\""}', False),
        (b'{"a": "q\\"uote", "b": "\\\\", "b": "\\\\\\""}', True),
        # a \\u0022 escape decodes to a quote that orjson writes back as \\"
        (b'{"k\\u0022": "\\u0022", "z": 1}', False),
        (b'{"k\\u0022": "\\u0022", "k\\u0022": 1}', True),
        # the same key spelled two ways is still one key
        (b'{"a": 1, "\\u0061": 2}', True),
        (b'[{"op": "add", "path": "/a", "path": "/b"}]', True),
        (b'"just a string"', False),
    ],
)
def test_cheap_check(body: bytes, expected: bool) -> None:
    assert has(body) is expected
    assert bool(json_duplicates(body).repeated) is expected


def _random_json(rng: random.Random, depth: int = 0) -> str:
    """A JSON text that may repeat keys and uses escapes the counting has to see through."""
    pieces = ['"', "\\\\", '\\"', "a", "\\u0022", "\\n", ":", ",", "{", "]"]
    choice = rng.random()
    if depth > 3 or choice < 0.3:
        return (
            '"'
            + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
            .replace('"', '\\"')
            .replace('\\\\"', '\\\\\\"')
            + '"'
        )
    if choice < 0.6:
        return "[" + ", ".join(_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    keys = [rng.choice(["a", "b", "c\\\\", 'd\\"', "\\u0065"]) for _ in range(rng.randint(0, 4))]
    return "{" + ", ".join(f'"{k}": {_random_json(rng, depth + 1)}' for k in keys) + "}"


def test_cheap_check_agrees_with_the_full_scan() -> None:
    rng = random.Random(20261127)
    seen = {True: 0, False: 0}
    for _ in range(3000):
        text = _random_json(rng)
        try:
            body = text.encode()
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        expected = bool(json_duplicates(body).repeated)
        assert json_has_duplicates(body, decoded) is expected, text
        seen[expected] += 1
    assert seen[True] > 100
    assert seen[False] > 100


def test_full_scan_paths_and_document_order() -> None:
    body = (
        b'{"metadata": {"name": "a", "name": "b"},'
        b' "spec": {"x": 1, "c": [{"i": 1, "i": 2}], "x": 3}}'
    )
    found = json_duplicates(body)
    assert [(e.path, e.ordinal) for e in found.repeated] == [
        ("metadata.name", 3),
        ("spec.c[0].i", 8),
        ("spec.x", 9),
    ]
    assert found.first["spec.x"] == 5
    assert [e.path for e in key_events(b'[{"op": 1}, {"op": 2}]')] == ["[0].op", "[1].op"]


def test_full_scan_survives_deep_nesting() -> None:
    deep = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    assert json_duplicates(deep).repeated == []


def test_yaml_lines_in_document_order() -> None:
    body = b"\n".join(
        [
            b"metadata:",
            b"  name: a",
            b"  name: b",
            b"spec:",
            b"  list:",
            b"  - {i: 1, i: 2}",
            b"  1: x",
            b"  1: y",
            b"  base: &base {k: 1}",
            b"  merged:",
            b"    <<: *base",
            b"    k: 2",
        ]
    )
    value, lines = load_yaml(body, check=True)
    assert lines == [
        'line 3: key "name" already set in map',
        'line 6: key "i" already set in map',
        "line 8: key 1 already set in map",
    ]
    assert value["metadata"] == {"name": "b"}
    assert value["spec"]["merged"] == {"k": 2}
    assert load_yaml(body, check=False) == (value, [])


def test_yaml_lines_of_a_json_apply_body() -> None:
    body = b'{\n  "spec": {\n    "paused": false,\n    "paused": true\n  }\n}'
    assert load_yaml(body, check=True)[1] == ['line 4: key "paused" already set in map']
    assert apply_yaml_error_message(['line 4: key "paused" already set in map']) == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 4: key "paused" already set in map'
    )


def _dups(body: bytes) -> JSONDuplicates:
    return json_duplicates(body)


def test_typed_body_interleaves_and_hides_repeats_of_unknown_fields() -> None:
    body = (
        b'{"metadata": {"name": "a", "name": "b", "x": 1},'
        b' "spec": {"u": {"k": 1, "k": 2}, "u": 3, "p": 1, "p": 2}}'
    )
    errors = body_errors(["metadata.x", "spec.u"], _dups(body), [], typed=True)
    assert errors.fields == (
        'duplicate field "metadata.name"',
        'unknown field "metadata.x"',
        'unknown field "spec.u"',
        'duplicate field "spec.p"',
    )
    # a custom resource reports every repeat first, then the unknown fields
    custom = body_errors(["metadata.x", "spec.u"], _dups(body), [], typed=False)
    assert custom.fields[:4] == (
        'duplicate field "metadata.name"',
        'duplicate field "spec.u.k"',
        'duplicate field "spec.u"',
        'duplicate field "spec.p"',
    )


def test_yaml_body_sorts_unknown_fields_like_key_sorted_json() -> None:
    errors = body_errors(
        [
            "spec.unknown1",
            "spec.template.spec.containers[10].x",
            "spec.template.spec.containers[9].x",
        ],
        JSONDuplicates(),
        ['line 3: key "a" already set in map'],
        typed=True,
    )
    assert errors.warnings() == [
        'line 3: key "a" already set in map',
        'unknown field "spec.template.spec.containers[9].x"',
        'unknown field "spec.template.spec.containers[10].x"',
        'unknown field "spec.unknown1"',
    ]
    assert errors.text() == (
        'strict decoding error: yaml: unmarshal errors:\n  line 3: key "a" already set in map, '
        'unknown field "spec.template.spec.containers[9].x", '
        'unknown field "spec.template.spec.containers[10].x", unknown field "spec.unknown1"'
    )


def test_patch_errors_and_caps() -> None:
    errors = patch_errors(['duplicate field "spec.b"'], ["spec.z", "spec.a"])
    assert errors.fields == (
        'duplicate field "spec.b"',
        'unknown field "spec.a"',
        'unknown field "spec.z"',
    )
    many = patch_errors([], [f"spec.f{i:03d}" for i in range(150)])
    assert len(many.fields) == 100
    assert not StrictErrors()
    assert sorted_paths(["b", "a-b", "a.x"]) == ["a.x", "a-b", "b"]


def test_go_print_matches_fmt() -> None:
    # go run: fmt.Printf("%+v\n", m) of the same JSON decoded into map[string]interface{}
    # (plus "i": int64(3), as sigs.k8s.io/json keeps integers)
    decoded: Any = json.loads(
        '{"spec":{"b":[1,"x y",null,true,{"z":1.5,"a":1e21}],"a":{"k":0.000001}},"n":null,"e":{}}'
    )
    decoded["i"] = 3
    assert go_print(decoded) == (
        "map[e:map[] i:3 n:<nil> spec:map[a:map[k:1e-06] b:[1 x y <nil> true map[a:1e+21 z:1.5]]]]"
    )
