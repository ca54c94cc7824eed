"""Luban SDK: what extension authors import to declare an extension.

An extension is an ordinary Python distribution that declares an entry point in the
``luban.extensions`` group pointing at an :class:`Extension` object. Handlers reach the
caller, a Kubernetes client acting as the caller, the extension's config and a tagged
logger through :func:`context`. The SDK never imports the kernel.
"""

from luban_sdk.context import Caller, KubeClient, KubeError, RequestContext, context
from luban_sdk.extension import Extension, RouteSpec, parse_rate

__all__ = [
    "Caller",
    "Extension",
    "KubeClient",
    "KubeError",
    "RequestContext",
    "RouteSpec",
    "context",
    "parse_rate",
]
