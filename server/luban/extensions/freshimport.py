"""Importing an extension's modules fresh: purge them, then compile from source, never bytecode.

Python trusts a ``.pyc`` whose recorded source mtime and size match, so an edit that keeps the
size within the same second would load stale code. Modules of packages registered here are
always compiled from their source text instead.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType
from typing import Any

from typing_extensions import Buffer

_lock = threading.Lock()


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """A source loader that ignores (and never writes) cached bytecode."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def set_data(self, path: str, data: Buffer, *, _mode: int = 0o666) -> None:
        """Write no bytecode cache."""


class _FreshFinder(importlib.abc.MetaPathFinder):
    """Finds modules of registered packages with :class:`_SourceOnlyLoader`."""

    def __init__(self) -> None:
        self.packages: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.packages:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        assert spec.origin is not None
        loader = _SourceOnlyLoader(fullname, spec.origin)
        fresh = importlib.machinery.ModuleSpec(
            fullname,
            loader,
            origin=spec.origin,
            is_package=spec.submodule_search_locations is not None,
        )
        if spec.submodule_search_locations is not None:
            fresh.submodule_search_locations = spec.submodule_search_locations
        fresh.has_location = True
        return fresh


_finder = _FreshFinder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def owned_modules(packages: Sequence[str]) -> dict[str, ModuleType]:
    """The loaded modules that belong to ``packages`` (top-level names)."""
    return {
        name: module
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] in packages and module is not None
    }


def import_fresh(ref: str, packages: Sequence[str]) -> tuple[Any, dict[str, ModuleType]]:
    """Import ``module:attr`` anew, with ``packages`` purged first.

    Returns the object and the fresh modules. On failure the previous modules are put back,
    so the version still serving keeps importing what it imported before.
    """
    module_name, _, attr = ref.partition(":")
    with _lock:
        _install()
        _finder.packages.update(packages)
        previous = owned_modules(packages)
        for name in previous:
            del sys.modules[name]
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
            obj: Any = module
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
        except BaseException:
            for name in owned_modules(packages):
                del sys.modules[name]
            sys.modules.update(previous)
            raise
        return obj, owned_modules(packages)


def forget(packages: Sequence[str], modules: dict[str, ModuleType]) -> None:
    """Drop ``modules`` from ``sys.modules`` if they are still the registered ones."""
    with _lock:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def restore(modules: dict[str, ModuleType]) -> None:
    """Put a still-serving version's modules back in ``sys.modules``."""
    with _lock:
        sys.modules.update(modules)
