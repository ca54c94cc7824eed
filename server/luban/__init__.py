"""Luban: a small, fast, async kernel for Kubernetes consoles and platforms."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("luban")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
