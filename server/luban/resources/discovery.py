"""Which resources the upstream serves: group/version/resource -> kind, scope, verbs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from luban.resources.upstream import UpstreamError, UpstreamSource, get_json

GVR = tuple[str, str, str]


@dataclass(frozen=True)
class ResourceInfo:
    """One served resource type."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def gvr(self) -> GVR:
        return (self.group, self.version, self.resource)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        """The upstream URL prefix of this group/version."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        """The upstream URL of the collection, or of one object (and subresource)."""
        parts = [self.prefix]
        if namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.resource)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    @property
    def label(self) -> str:
        """``resource.group`` (``pods`` for the core group), for metrics and messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


def _resources(group: str, version: str, document: dict[str, Any]) -> list[ResourceInfo]:
    result = []
    for item in document.get("resources") or []:
        name = item.get("name", "")
        if not name or "/" in name:
            continue
        result.append(ResourceInfo(group, version, name, item.get("kind", ""),
                                   bool(item.get("namespaced")),
                                   frozenset(item.get("verbs") or ())))  # fmt: skip
    return result


async def discover(source: UpstreamSource) -> dict[GVR, ResourceInfo]:
    """Every resource of every served group/version (groups that fail to answer are skipped)."""
    group_versions: list[tuple[str, str]] = [("", "v1")]
    groups = await get_json(source, "/apis")
    for group in groups.get("groups") or []:
        for version in group.get("versions") or []:
            group_versions.append((group.get("name", ""), version.get("version", "")))

    async def one(group: str, version: str) -> list[ResourceInfo]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            return _resources(group, version, await get_json(source, path))
        except UpstreamError:
            return []

    found = await asyncio.gather(*(one(g, v) for g, v in group_versions))
    return {info.gvr: info for infos in found for info in infos}
