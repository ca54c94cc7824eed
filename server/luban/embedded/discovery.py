"""API discovery: ``/api``, ``/apis``, group and resource lists, and aggregated discovery (v2)."""

from __future__ import annotations

from typing import Any

import orjson

from luban.embedded.registry import Registry
from luban.kube.resources import ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "finalize": ("update",),
    "log": ("get",),
    "exec": ("create", "get"),
    "attach": ("create", "get"),
    "portforward": ("create", "get"),
    "proxy": ("create", "delete", "get", "patch", "update"),
    "token": ("create",),
    "eviction": ("create",),
    "binding": ("create",),
    "ephemeralcontainers": ("get", "patch", "update"),
}
_SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "eviction": ("policy", "v1", "Eviction"),
    "binding": ("", "v1", "Binding"),
    "exec": ("", "v1", "PodExecOptions"),
    "attach": ("", "v1", "PodAttachOptions"),
    "portforward": ("", "v1", "PodPortForwardOptions"),
    "proxy": ("", "v1", "PodProxyOptions"),
}


def _subresource_kind(rt: ResourceType, sub: str) -> tuple[str, str, str]:
    return _SUBRESOURCE_KINDS.get(sub, (rt.group, rt.version, rt.kind))


def accepts_aggregated(accept: str) -> str | None:
    """The aggregated discovery media type the client asked for, if any."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=APIGroupDiscoveryList" in params and "g=apidiscovery.k8s.io" in params:
            if "v=v2" in params:
                return AGGREGATED_V2
            if "v=v2beta1" in params:
                return AGGREGATED_V2BETA1
    return None


class Discovery:
    """Renders discovery documents, cached until the registry changes."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._cache: dict[str, bytes] = {}
        registry.on_change(self._cache.clear)

    def _cached(self, key: str, build: Any) -> bytes:
        body = self._cache.get(key)
        if body is None:
            body = orjson.dumps(build())
            self._cache[key] = body
        return body

    def api_versions(self) -> bytes:
        """``GET /api``."""
        return self._cached(
            "api",
            lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            },
        )

    def _group(self, name: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": entries, "preferredVersion": entries[0]}

    def group_list(self) -> bytes:
        """``GET /apis``."""

        def build() -> dict[str, Any]:
            groups = [
                self._group(name, versions)
                for name, versions in self.registry.group_versions().items()
                if name
            ]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

        return self._cached("apis", build)

    def group(self, name: str) -> bytes | None:
        """``GET /apis/{group}``, or ``None`` when the group is not served."""
        versions = self.registry.group_versions().get(name)
        if not versions or not name:
            return None
        return self._cached(
            f"group:{name}",
            lambda: {"kind": "APIGroup", "apiVersion": "v1", **self._group(name, versions)},
        )

    def resource_list(self, group: str, version: str) -> bytes | None:
        """``GET /api/v1`` or ``/apis/{group}/{version}``, or ``None`` when not served."""
        types = [rt for rt in self.registry.all() if rt.group == group and rt.version == version]
        if not types:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for rt in sorted(types, key=lambda t: t.resource):
                entry: dict[str, Any] = {
                    "name": rt.resource,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(rt.verbs),
                }
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                if rt.categories:
                    entry["categories"] = list(rt.categories)
                resources.append(entry)
                for sub in rt.subresources:
                    g, v, kind = _subresource_kind(rt, sub)
                    sub_entry: dict[str, Any] = {
                        "name": f"{rt.resource}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": kind,
                        "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                    }
                    if (g, v) != (rt.group, rt.version):
                        sub_entry["group"], sub_entry["version"] = g, v
                    resources.append(sub_entry)
            group_version = f"{group}/{version}" if group else version
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": resources,
            }

        return self._cached(f"resources:{group}/{version}", build)

    def aggregated(self, legacy: bool, media: str) -> bytes:
        """Aggregated discovery for ``/api`` (``legacy``) or ``/apis``."""

        def build() -> dict[str, Any]:
            items = []
            for name, versions in self.registry.group_versions().items():
                if bool(name) == legacy:
                    continue
                items.append(
                    {
                        "metadata": {"name": name} if name else {},
                        "versions": [self._aggregated_version(name, v) for v in versions],
                    }
                )
            api_version = "apidiscovery.k8s.io/" + ("v2" if media == AGGREGATED_V2 else "v2beta1")
            return {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": api_version,
                "metadata": {},
                "items": items,
            }

        return self._cached(f"aggregated:{legacy}:{media}", build)

    def _aggregated_version(self, group: str, version: str) -> dict[str, Any]:
        resources = []
        types = [rt for rt in self.registry.all() if rt.group == group and rt.version == version]
        for rt in sorted(types, key=lambda t: t.resource):
            entry: dict[str, Any] = {
                "resource": rt.resource,
                "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "scope": "Namespaced" if rt.namespaced else "Cluster",
                "singularResource": rt.singular,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            subresources = []
            for sub in rt.subresources:
                g, v, kind = _subresource_kind(rt, sub)
                subresources.append(
                    {
                        "subresource": sub,
                        "responseKind": {"group": g, "version": v, "kind": kind},
                        "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                    }
                )
            if subresources:
                entry["subresources"] = subresources
            resources.append(entry)
        return {"version": version, "resources": resources, "freshness": "Current"}
