"""Go's ``strconv.Quote`` (the ``%q`` verb), which Kubernetes error messages quote strings with."""

from __future__ import annotations

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """``text`` as Go's ``strconv.Quote`` writes it.

    Printable characters (Go's ``strconv.IsPrint``: letters, marks, numbers, punctuation,
    symbols and the ASCII space, which is what ``str.isprintable`` accepts too) stay as they
    are; the others become ``\\a``-style, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes.
    A lone surrogate shows as U+FFFD, the character Go's JSON decoder puts in its place.
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            ch, code = "\ufffd", 0xFFFD
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
