"""Which resources the embedded cluster serves: the built-in table plus established CRDs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from luban.kube.resources import BUILTIN_TYPES, ResourceType

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
NAMESPACE_KEY = "/namespaces"


def type_key(rt: ResourceType) -> str:
    """Storage key of a resource: versions of one group/resource share their objects."""
    return f"{rt.group}/{rt.resource}"


class Registry:
    """Resource types by group/version/resource; changes notify listeners (discovery, OpenAPI)."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._listeners: list[Callable[[], None]] = []
        self.generation = 0
        for rt in types:
            self._types[(rt.group, rt.version, rt.resource)] = rt

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the set of served types changes."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.generation += 1
        for listener in self._listeners:
            listener()

    def get(self, group: str, version: str, resource: str) -> ResourceType | None:
        """The type served at ``/apis/{group}/{version}/{resource}``, if any."""
        return self._types.get((group, version, resource))

    def all(self) -> list[ResourceType]:
        """Every served type."""
        return list(self._types.values())

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        """The type of ``kind`` in a group/version."""
        for rt in self._types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def versions_of(self, group: str, resource: str) -> list[ResourceType]:
        """Every served version of one group/resource."""
        return [rt for rt in self._types.values() if rt.group == group and rt.resource == resource]

    def group_versions(self) -> dict[str, list[str]]:
        """Served versions per group, preferred (storage, or first) version first."""
        result: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = result.setdefault(rt.group, [])
            if rt.version not in versions:
                if rt.storage_version == rt.version:
                    versions.insert(0, rt.version)
                else:
                    versions.append(rt.version)
        return result

    def set_custom(self, group: str, resource: str, types: list[ResourceType]) -> None:
        """Replace the served versions of a custom resource (empty list: stop serving it)."""
        current = self.versions_of(group, resource)
        if current == types:
            return
        for rt in current:
            del self._types[(rt.group, rt.version, rt.resource)]
        for rt in types:
            self._types[(rt.group, rt.version, rt.resource)] = rt
        self._changed()


def custom_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CRD asks to serve (its served versions)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    storage = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), "")
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale") or {}
        result.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                resource=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(k for k in ("status", "scale") if k in subresources),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                custom=True,
                storage_version=storage,
                scale_paths={
                    k: scale[k]
                    for k in ("specReplicasPath", "statusReplicasPath", "labelSelectorPath")
                    if k in scale
                },
            )
        )
    return result
