"""go_quote against what Go's strconv.Quote printed for the same strings (go1.19, fmt %q)."""

from __future__ import annotations

import pytest

from luban.kube.goquote import go_quote

# (input, Go's strconv.Quote output, copied from a Go program's stdout)
GO_OUTPUTS = [
    ("", r'""'),
    ("plain", r'"plain"'),
    ("'single'", "\"'single'\""),
    ("%s{}", r'"%s{}"'),
    (" ", r'" "'),
    ('a"b\\c', r'"a\"b\\c"'),
    ("tab\there\n", r'"tab\there\n"'),
    ("\x07\x08\x0c\x0b\r", r'"\a\b\f\v\r"'),
    ("\x00\x01\x1f\x7f", r'"\x00\x01\x1f\x7f"'),
    ("x\x1by", r'"x\x1by"'),
    # C1 controls, NBSP and the soft hyphen are not printable for Go
    ("\x80\x85\x9f\xa0\xad", r'"\u0080\u0085\u009f\u00a0\u00ad"'),
    ("a b\xa0c", r'"a b\u00a0c"'),
    ("\u1680\u2000\u202f\u205f", r'"\u1680\u2000\u202f\u205f"'),
    ("\u200b\u200e\u2028\u2029\u3000\ufeff", r'"\u200b\u200e\u2028\u2029\u3000\ufeff"'),
    # printable non-ASCII stays as it is
    ("h\xe9llo \u2713", '"h\xe9llo \u2713"'),
    ("\u65e5\u672c\u8a9e", '"\u65e5\u672c\u8a9e"'),
    ("\U0001f600", '"\U0001f600"'),
    ("\ufffd", '"\ufffd"'),
    ("\u0301e\u0301", '"\u0301e\u0301"'),
    # private use, unassigned, tags and the last code point
    ("\ue000", r'"\ue000"'),
    ("\u0378", r'"\u0378"'),
    ("\U000e0001", r'"\U000e0001"'),
    ("\U0010ffff", r'"\U0010ffff"'),
]


@pytest.mark.parametrize(("text", "expected"), GO_OUTPUTS)
def test_matches_go_strconv_quote(text: str, expected: str) -> None:
    assert go_quote(text) == expected


def test_lone_surrogate_is_the_replacement_character() -> None:
    # Go's JSON decoder turns an unpaired \ud800 into U+FFFD, which %q then prints as is.
    assert go_quote("a\ud800b") == '"a\ufffdb"'
