"""A fake Kubernetes API server for ``bench/resources.py``: N generated pods, served from memory.

Runs in its own process (like a real upstream, on its own CPU): discovery for ``v1/pods``,
paginated lists (with ``labelSelector=key=value`` filtering, as the real server does), and
watches fed by ``POST /bench/prepare?count=N`` (N events generated beforehand: MODIFIED ones,
or with ``mode=churn`` a mix where pods are also deleted and replaced by new ones) and
``POST /bench/fire`` (written as fast as the connection takes them).
"""

from __future__ import annotations

import asyncio
import base64
import random
from multiprocessing.connection import Connection
from typing import Any

import orjson
from aiohttp import web

APPS = 200
TIERS = ("frontend", "backend", "cache")
PHASES = ("Running", "Running", "Running", "Pending", "Succeeded", "Failed")


def make_pod(i: int, rng: random.Random) -> dict[str, Any]:
    """A realistic pod (about 3 KB of JSON): a Deployment's replica with one busy container."""
    app = f"app-{i % APPS}"
    name = f"{app}-{rng.getrandbits(40):010x}-{rng.getrandbits(24):05x}"
    ns = f"team-{i % 50}"
    created = (
        f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}Z"
    )
    image = f"registry.example.com/{app}/server:v1.{i % 40}.{i % 7}"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"{rng.getrandbits(128):032x}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": created,
            "labels": {
                "app": app,
                "tier": TIERS[i % 3],
                "pod-template-hash": name[-16:-6],
                "release": f"r{i % 5}",
            },
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": created,
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name[:-6],
                    "uid": f"{rng.getrandbits(128):032x}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "server",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--port=8080", "--log-level=info", f"--shard={i % 16}"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "APP_NAME", "value": app},
                        {
                            "name": "NODE_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                        },
                        {"name": "GOMAXPROCS", "value": "2"},
                    ],
                    "resources": {
                        "limits": {"cpu": "1", "memory": "512Mi"},
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                    },
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                        "periodSeconds": 10,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": 8080, "scheme": "HTTP"},
                        "periodSeconds": 5,
                        "failureThreshold": 3,
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/app"},
                        {
                            "name": "kube-api-access",
                            "readOnly": True,
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        },
                    ],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
                {
                    "name": "kube-api-access",
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                        ],
                    },
                },
            ],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": f"node-{i % 300:03d}",
            "schedulerName": "default-scheduler",
            "priority": 0,
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
        },
        "status": {
            "phase": PHASES[i % len(PHASES)],
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": created}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": f"10.0.{i % 250}.{i % 200}",
            "podIP": f"10.244.{i % 250}.{i % 250}",
            "podIPs": [{"ip": f"10.244.{i % 250}.{i % 250}"}],
            "startTime": created,
            "qosClass": "Burstable",
            "containerStatuses": [
                {
                    "name": "server",
                    "ready": True,
                    "restartCount": i % 4,
                    "image": image,
                    "imageID": f"{image}@sha256:{i:064x}",
                    "containerID": f"containerd://{rng.getrandbits(128):032x}",
                    "started": True,
                    "state": {"running": {"startedAt": created}},
                }
            ],
        },
    }


class FakeUpstream:
    """The pods, their JSON, and the open watches."""

    def __init__(self, count: int) -> None:
        rng = random.Random(8)
        self.pods = [make_pod(i, rng) for i in range(count)]
        self.raw = [orjson.dumps(p) for p in self.pods]
        self.rv = 1000 + count
        self.serial = count  # the next new pod's number
        self.churn_rng = random.Random(9)
        self.watchers: list[asyncio.Queue[bytes]] = []
        self.pending: list[bytes] = []
        self.objects: dict[str, dict[str, Any]] = {}

    def json_bytes(self) -> int:
        return sum(len(r) for r in self.raw)

    async def discovery(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/api":
            body: dict[str, Any] = {"kind": "APIVersions", "versions": ["v1"]}
        elif path == "/apis":
            body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        else:
            body = {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": "pods",
                        "singularName": "pod",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    }
                ],
            }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def pods_handler(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if query.get("watch") in ("1", "true"):
            return await self._watch(request)
        raw = self.raw
        if selector := query.get("labelSelector"):
            key, _, value = selector.partition("=")
            raw = [
                r
                for p, r in zip(self.pods, self.raw, strict=True)
                if p["metadata"]["labels"].get(key) == value
            ]
        start = int(base64.b64decode(query["continue"])) if query.get("continue") else 0
        limit = int(query.get("limit") or 0) or len(raw)
        page = raw[start : start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if start + limit < len(raw):
            meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
        body = (
            b'{"kind":"PodList","apiVersion":"v1","metadata":'
            + orjson.dumps(meta)
            + b',"items":['
            + b",".join(page)
            + b"]}"
        )
        return web.Response(body=body, content_type="application/json")

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.watchers.append(queue)
        try:
            while True:
                await response.write(await queue.get())
        finally:
            self.watchers.remove(queue)

    async def other(self, request: web.Request) -> web.StreamResponse:
        """Anything else (the kernel's own CRD and objects): a minimal in-memory object store."""
        path = request.path.rstrip("/")
        if request.method == "POST":
            obj = await request.json()
            meta = obj.setdefault("metadata", {})
            key = f"{path}/{meta.get('name', '')}"
            if key in self.objects:
                return web.json_response(_status(409, "AlreadyExists"), status=409)
            self.rv += 1
            meta.update(
                resourceVersion=str(self.rv),
                uid=f"uid-{self.rv}",
                creationTimestamp="2026-01-01T00:00:00Z",
            )
            self.objects[key] = obj
            return web.json_response(obj, status=201)
        if request.method in ("PUT", "PATCH") and path in self.objects:
            update = await request.json()
            self.rv += 1
            obj = self.objects[path]
            obj.update({k: v for k, v in update.items() if k != "metadata"})
            obj["metadata"]["resourceVersion"] = str(self.rv)
            return web.json_response(obj)
        if request.method == "DELETE" and path in self.objects:
            return web.json_response(self.objects.pop(path))
        if request.method != "GET":
            return web.json_response(_status(404, "NotFound"), status=404)
        if path in self.objects:
            return web.json_response(self.objects[path])
        if request.query.get("watch") in ("1", "true"):
            response = web.StreamResponse()
            response.content_type = "application/json"
            await response.prepare(request)
            await asyncio.Event().wait()
        items = [o for k, o in self.objects.items() if k.rsplit("/", 1)[0] == path]
        return web.json_response(
            {
                "kind": "List",
                "apiVersion": "v1",
                "items": items,
                "metadata": {"resourceVersion": str(self.rv)},
            }
        )

    async def prepare(self, request: web.Request) -> web.Response:
        """Generate ``count`` events (not sent yet); answers the last resourceVersion.

        ``mode=modify`` (default): pods in order get a status update (restart count).
        ``mode=churn``: random pods; 70% get a status update (restart count, a condition's
        time), 30% are deleted and replaced by a new pod (new name, uid and template hash),
        as rollouts and rescheduling do. The list the upstream serves follows the churn.
        """
        count = int(request.query["count"])
        churn = request.query.get("mode") == "churn"
        rng = self.churn_rng
        lines: list[bytes] = []
        n = 0
        while len(lines) < count:
            i = rng.randrange(len(self.pods)) if churn else n % len(self.pods)
            n += 1
            self.rv += 1
            pod = self.pods[i]
            pod["metadata"]["resourceVersion"] = str(self.rv)
            if churn and rng.random() < 0.3:
                lines.append(b'{"type":"DELETED","object":' + orjson.dumps(pod) + b"}\n")
                self.rv += 1
                pod = self.pods[i] = make_pod(self.serial, rng)
                self.serial += 1
                pod["metadata"]["resourceVersion"] = str(self.rv)
                raw = self.raw[i] = orjson.dumps(pod)
                lines.append(b'{"type":"ADDED","object":' + raw + b"}\n")
                continue
            status = pod["status"]
            status["containerStatuses"][0]["restartCount"] += 1
            if churn:
                status["conditions"][1]["lastTransitionTime"] = _timestamp(self.rv)
            lines.append(b'{"type":"MODIFIED","object":' + orjson.dumps(pod) + b"}\n")
        self.pending = lines
        return web.json_response({"resourceVersion": self.rv, "watchers": len(self.watchers),
                                  "events": len(lines)})  # fmt: skip

    async def fire(self, request: web.Request) -> web.Response:
        """Send the prepared events to every watch, in chunks of 256."""
        lines, self.pending = self.pending, []
        for start in range(0, len(lines), 256):
            chunk = b"".join(lines[start : start + 256])
            for queue in self.watchers:
                queue.put_nowait(chunk)
        return web.json_response({"sent": len(lines)})


def _timestamp(seconds: int) -> str:
    return f"2026-11-{1 + seconds // 86400 % 28:02d}T{seconds // 3600 % 24:02d}:" + (
        f"{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
    )


def _status(code: int, reason: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "code": code,
        "message": reason,
    }


def serve(count: int, conn: Connection) -> None:
    """Process entry point: generate, listen on an ephemeral port, send (port, bytes) back."""
    upstream = FakeUpstream(count)
    app = web.Application()
    app.router.add_get("/api", upstream.discovery)
    app.router.add_get("/apis", upstream.discovery)
    app.router.add_get("/api/v1", upstream.discovery)
    app.router.add_get("/api/v1/pods", upstream.pods_handler)
    app.router.add_post("/bench/prepare", upstream.prepare)
    app.router.add_post("/bench/fire", upstream.fire)
    app.router.add_route("*", "/{tail:.*}", upstream.other)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send((port, upstream.json_bytes()))
        await asyncio.Event().wait()

    asyncio.run(main())
