"""Parsing Kubernetes API paths into request info (verb, group, resource, namespace, name).

Mirrors ``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`` so the kernel and the
embedded cluster agree with the real API server on what a URL means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

API_PREFIXES = ("api", "apis")
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


@dataclass(frozen=True)
class RequestInfo:
    """What a request addresses and with which verb."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def parse_request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Resolve ``method`` + ``path`` (+ ``watch`` query) the way the API server does."""
    verb_for_method = _METHOD_VERBS.get(method.upper(), method.lower())
    non_resource = RequestInfo(False, path, verb_for_method.replace("create", "post"))
    if non_resource.verb == "update":
        non_resource = RequestInfo(False, path, "put")
    parts = list(path.strip("/").split("/"))
    if len(parts) < 2 or parts[0] not in API_PREFIXES:
        return non_resource
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 2:
            return non_resource  # /apis or /apis/{group}: discovery
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if not rest:
        return non_resource  # /api/v1 or /apis/{g}/{v}: discovery

    verb = verb_for_method
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]
    elif rest[0] == "proxy":
        verb, rest = "proxy", rest[1:]
    if not rest:
        return non_resource

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""

    if verb == "get" and not name:
        verb = "watch" if _truthy(query.get("watch")) else "list"
    elif verb == "get" and _truthy(query.get("watch")):
        verb = "watch"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(
        True,
        path,
        verb,
        prefix,
        group,
        version,
        namespace,
        resource,
        subresource,
        name,
        tuple(rest),
    )
