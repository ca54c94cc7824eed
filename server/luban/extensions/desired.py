"""Desired state as cluster objects: the ``Extension`` CRD (``extensions.luban.io``).

``spec.enabled`` (and ``spec.config`` overrides) decide; every replica watches the objects and
converges; each replica writes its own entry under ``status.replicas.<replica id>`` with a
JSON merge patch, so replicas never overwrite each other's reports.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from luban.proxy.upstream import Upstream

logger = logging.getLogger("luban.extensions")

GROUP = "extensions.luban.io"
VERSION = "v1alpha1"
PLURAL = "extensions"
CRD_NAME = f"{PLURAL}.{GROUP}"
RELOAD_ANNOTATION = f"{GROUP}/reload-requested-at"
BASE = f"/apis/{GROUP}/{VERSION}/{PLURAL}"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "scope": "Cluster",
        "names": {
            "plural": PLURAL,
            "singular": "extension",
            "kind": "Extension",
            "listKind": "ExtensionList",
            "shortNames": ["lext"],
        },
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "enabled": {"type": "boolean"},
                                    "config": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}

Listener = Callable[[Mapping[str, Any]], Awaitable[None]]


class DesiredStateError(Exception):
    """The cluster refused or failed a desired-state operation."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ClusterDesiredState:
    """Reads, writes and watches ``Extension`` objects with the kernel's own credentials."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.objects: dict[str, dict[str, Any]] = {}

    async def _call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        session = self.upstream.session
        if session is None:
            raise DesiredStateError(503, "upstream not connected")
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        authorization = await self.upstream.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = content_type
        async with session.request(
            method,
            self.upstream.server + path,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            raw = await response.read()
            return response.status, orjson.loads(raw) if raw else None

    async def ensure_crd(self, wait_seconds: float = 30.0) -> None:
        """Create the CRD unless it exists; wait until it is served."""
        code, body = await self._call(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD
        )
        if code not in (201, 409):
            raise DesiredStateError(code, f"cannot create CRD {CRD_NAME}: {_message(body)}")
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while True:
            code, _ = await self._call("GET", BASE + "?limit=1")
            if code == 200:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise DesiredStateError(code, f"CRD {CRD_NAME} not served after {wait_seconds:g} s")
            await asyncio.sleep(0.05)

    async def ensure(self, name: str, enabled: bool, labels: Mapping[str, str]) -> dict[str, Any]:
        """The object for ``name``, created with ``spec.enabled`` when missing."""
        obj = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Extension",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"enabled": enabled},
        }
        code, body = await self._call("POST", BASE, obj)
        if code == 409:
            code, body = await self._call("GET", f"{BASE}/{name}")
        if code not in (200, 201):
            raise DesiredStateError(code, f"extension {name}: {_message(body)}")
        self.objects[name] = body
        return dict(body)

    async def patch(self, name: str, patch: Mapping[str, Any], status: bool = False) -> Any:
        """JSON-merge-patch ``name`` (or its status)."""
        path = f"{BASE}/{name}" + ("/status" if status else "")
        code, body = await self._call("PATCH", path, patch, "application/merge-patch+json")
        if code != 200:
            raise DesiredStateError(code, f"extension {name}: {_message(body)}")
        return body

    async def set_enabled(self, name: str, enabled: bool) -> Any:
        """Set ``spec.enabled``; every replica converges."""
        return await self.patch(name, {"spec": {"enabled": enabled}})

    async def request_reload(self, name: str) -> Any:
        """Ask every replica to reload ``name`` (an annotation with the time)."""
        now = datetime.datetime.now(datetime.UTC).isoformat()
        return await self.patch(name, {"metadata": {"annotations": {RELOAD_ANNOTATION: now}}})

    async def report(self, name: str, replica: str, status: Mapping[str, Any]) -> None:
        """Write this replica's runtime state into ``status.replicas``."""
        await self.patch(name, {"status": {"replicas": {replica: dict(status)}}}, status=True)

    async def watch(self, listener: Listener) -> None:
        """List, then watch ``Extension`` objects forever, calling ``listener`` on each change."""
        backoff = 0.1
        while True:
            try:
                code, body = await self._call("GET", BASE)
                if code != 200:
                    raise DesiredStateError(code, _message(body))
                for obj in body.get("items", []):
                    self.objects[obj["metadata"]["name"]] = obj
                    await listener(obj)
                await self._stream(body["metadata"]["resourceVersion"], listener)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("extension watch interrupted (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _stream(self, resource_version: str, listener: Listener) -> None:
        session = self.upstream.session
        assert session is not None
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        authorization = await self.upstream.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization
        url = f"{self.upstream.server}{BASE}?watch=1&allowWatchBookmarks=true"
        url += f"&resourceVersion={resource_version}&timeoutSeconds=300"
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                raise DesiredStateError(response.status, "watch refused")
            async for line in response.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                kind, obj = event.get("type"), event.get("object", {})
                if kind == "ERROR":
                    raise DesiredStateError(obj.get("code", 500), _message(obj))
                if kind in ("ADDED", "MODIFIED"):
                    self.objects[obj["metadata"]["name"]] = obj
                    await listener(obj)
                elif kind == "DELETED":
                    self.objects.pop(obj["metadata"]["name"], None)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message", body))
    return str(body)
