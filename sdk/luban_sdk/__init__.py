"""Luban SDK: what extension authors import to declare an extension.

An extension is an ordinary Python distribution that declares an entry point in the
``luban.extensions`` group pointing at an :class:`Extension` object.
"""

from luban_sdk.extension import Extension, RouteSpec

__all__ = ["Extension", "RouteSpec"]
