"""The ``/scale`` subresource: an ``autoscaling/v1`` Scale view of a replicated object."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from luban.embedded.bodies import media_type, read_body, read_object
from luban.kube.errors import MODIFIED, bad_request, conflict, method_not_supported
from luban.kube.patch import PatchError, json_merge_patch, json_patch
from luban.kube.resources import ResourceType
from luban.kube.selectors import label_selector_from_dict

if TYPE_CHECKING:
    from luban.embedded.api import ResourceAPI

_BUILTIN_PATHS = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
    "labelSelectorPath": ".status.selector",
}


def _get_path(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    node = obj
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


class ScaleSubresource:
    """GET/PUT/PATCH of ``.../{name}/scale`` for deployments, replicasets, statefulsets, CRs."""

    def __init__(self, api: ResourceAPI) -> None:
        self.api = api

    def _paths(self, rt: ResourceType) -> dict[str, str]:
        return rt.scale_paths if rt.custom else _BUILTIN_PATHS

    def _scale(self, rt: ResourceType, obj: dict[str, Any], rv: int) -> dict[str, Any]:
        paths = self._paths(rt)
        meta = obj["metadata"]
        selector = ""
        if rt.custom:
            if "labelSelectorPath" in paths:
                selector = str(_get_path(obj, paths["labelSelectorPath"]) or "")
        else:
            selector = str(label_selector_from_dict(_get_path(obj, ".spec.selector") or {}))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": str(rv),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": int(_get_path(obj, paths.get("specReplicasPath", "")) or 0)},
            "status": {
                "replicas": int(
                    _get_path(obj, paths.get("statusReplicasPath", ".status.replicas")) or 0
                ),
                "selector": selector,
            },
        }

    async def handle(
        self, request: Request, rt: ResourceType, namespace: str, name: str, verb: str
    ) -> Response:
        """Serve one scale request."""
        stored = self.api._lookup(rt, namespace, name)
        current = self._scale(rt, stored.obj, stored.rv)
        if verb == "get":
            return Response(orjson.dumps(current), media_type="application/json")
        if verb == "update":
            wanted = await read_object(request, self.api.options.max_body_bytes)
        elif verb == "patch":
            body = await read_body(request, self.api.options.max_body_bytes)
            try:
                patch = orjson.loads(body)
                kind = media_type(request)
                if kind == "application/json-patch+json":
                    wanted = json_patch(current, patch)
                else:
                    wanted = json_merge_patch(current, patch)
            except (orjson.JSONDecodeError, PatchError) as exc:
                raise bad_request(f"error decoding patch: {exc}") from None
        else:
            raise method_not_supported(f"{rt.resource}/scale", rt.group, verb)
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise bad_request("spec.replicas: Invalid value: must be a non-negative integer")
        wanted_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and str(wanted_rv) != str(stored.rv):
            raise conflict(rt.resource, rt.group, name, MODIFIED)
        updated = stored.copy()
        _set_path(updated, self._paths(rt).get("specReplicasPath", ".spec.replicas"), replicas)
        updated["metadata"]["resourceVersion"] = ""
        response = await self.api._store_update(
            request, rt, namespace, name, updated, "", self.api._manager(request)
        )
        latest = self.api.store.get(*self._key(rt, namespace, name))
        if latest is None or response.status_code >= 400:
            return response
        return Response(
            orjson.dumps(self._scale(rt, latest.obj, latest.rv)), media_type="application/json"
        )

    def _key(self, rt: ResourceType, namespace: str, name: str) -> tuple[str, str, str]:
        from luban.embedded.registry import type_key

        return type_key(rt), namespace, name
