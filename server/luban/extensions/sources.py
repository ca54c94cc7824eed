"""Where extensions come from: installed entry points and configured ``module:attr`` refs."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import site
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import importlib_metadata

ENTRY_POINT_GROUP = "luban.extensions"


@dataclass(frozen=True)
class ExtensionSource:
    """One extension to load: its entry point name, object reference and origin."""

    name: str
    ref: str
    distribution: str = ""
    distribution_version: str = ""

    @property
    def packages(self) -> tuple[str, ...]:
        """Top-level packages owned by this extension (purged on reload)."""
        return (self.ref.partition(":")[0].partition(".")[0],)

    def paths(self) -> list[Path]:
        """The directories (or single files) holding this extension's code."""
        importlib.invalidate_caches()
        result: list[Path] = []
        for package in self.packages:
            try:
                spec = importlib.util.find_spec(package)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                continue
            if spec.submodule_search_locations:
                result += [Path(p) for p in spec.submodule_search_locations]
            elif spec.origin:
                result.append(Path(spec.origin))
        return result


def digest(roots: list[Path]) -> str:
    """A digest of the Python source under ``roots`` (names and contents; blocking I/O).

    Contents, not mtimes: an editor's same-size rewrite within one timestamp tick must differ.
    """
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            files += [Path(directory, n) for n in names if n.endswith(".py")]
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(files):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        h.update(os.fsencode(path) + b"\0" + len(content).to_bytes(8, "big") + content)
    return h.hexdigest()


def parse_ref(entry: str) -> ExtensionSource:
    """``name=module:attr`` or ``module:attr`` (the name then comes from the object)."""
    name, sep, ref = entry.partition("=")
    if not sep:
        name, ref = "", entry
    module, colon, attr = ref.strip().partition(":")
    if not module or not colon or not attr:
        raise ValueError(f"extension source {entry!r} must look like [name=]module:attribute")
    return ExtensionSource(name.strip(), ref.strip())


def discover_entry_points() -> list[ExtensionSource]:
    """Every installed extension, read fresh from the environment's metadata."""
    refresh_sys_path()
    found: dict[str, ExtensionSource] = {}
    for entry in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        found.setdefault(
            entry.name,
            ExtensionSource(
                entry.name,
                entry.value,
                dist.metadata["Name"] if dist is not None else "",
                dist.version if dist is not None else "",
            ),
        )
    return list(found.values())


def environment_dirs() -> list[Path]:
    """Site-packages directories of the running environment (where dist-info lives)."""
    dirs = [Path(p) for p in site.getsitepackages()]
    user = site.getusersitepackages()
    if user and site.ENABLE_USER_SITE:
        dirs.append(Path(user))
    return [d for d in dirs if d.is_dir()]


def refresh_sys_path() -> None:
    """Process ``.pth`` files of newly installed (e.g. editable) distributions."""
    for directory in environment_dirs():
        before = set(sys.path)
        site.addsitedir(str(directory))
        # addsitedir appends; keep the original order for what was already there.
        added = [p for p in sys.path if p not in before]
        if added:
            sys.path[:] = [p for p in sys.path if p not in added] + added
    importlib.invalidate_caches()


def describe_error(exc: BaseException, roots: list[Path]) -> str:
    """One line: the error and the file:line in the extension's code where it happened."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}:{exc.lineno}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if any(_under(f.filename, root) for root in roots)]
        chosen = own or list(frames)
        if chosen:
            frame = chosen[-1]
            where = f"{frame.filename}:{frame.lineno}"
    text = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, SyntaxError):
        text = f"SyntaxError: {exc.msg}"
    return f"{text} ({where})" if where else text


def _under(filename: str, root: Path) -> bool:
    try:
        return Path(filename).is_relative_to(root)
    except ValueError:
        return False
