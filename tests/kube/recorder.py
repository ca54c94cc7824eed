"""A tiny recording API server: what real kubectl sends, captured for decoder tests.

It answers legacy discovery (``/api``, ``/apis`` and their group versions) for the resources
kubectl's typed commands need, 404s everything else it does not hold (``/openapi/*``...),
records every request, and answers a POST with the decoded object echoed back as JSON with
metadata filled in (and a plausible ``status`` for reviews and token requests), so kubectl
finishes normally. Each command targets ``{url}/c/{tag}``, so requests are attributed to
the command that sent them even when commands run concurrently.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from luban.kube.protobuf import ProtobufError, decode_object, is_protobuf

# group/version -> (resource, kind, namespaced, verbs); "res/sub" rows are subresources.
CRUD = ["create", "delete", "get", "list", "patch", "update", "watch"]
DISCOVERY: dict[str, list[tuple[str, str, bool, list[str]]]] = {
    "v1": [
        ("namespaces", "Namespace", False, CRUD),
        ("configmaps", "ConfigMap", True, CRUD),
        ("secrets", "Secret", True, CRUD),
        ("services", "Service", True, CRUD),
        ("serviceaccounts", "ServiceAccount", True, CRUD),
        ("serviceaccounts/token", "TokenRequest", True, ["create"]),
        ("pods", "Pod", True, CRUD),
        ("pods/eviction", "Eviction", True, ["create"]),
        ("resourcequotas", "ResourceQuota", True, CRUD),
        ("nodes", "Node", False, CRUD),
    ],
    "apps/v1": [
        ("deployments", "Deployment", True, CRUD),
        ("deployments/scale", "Scale", True, ["get", "patch", "update"]),
        ("replicasets", "ReplicaSet", True, CRUD),
        ("statefulsets", "StatefulSet", True, CRUD),
        ("daemonsets", "DaemonSet", True, CRUD),
    ],
    "batch/v1": [("jobs", "Job", True, CRUD), ("cronjobs", "CronJob", True, CRUD)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True, CRUD),
        ("rolebindings", "RoleBinding", True, CRUD),
        ("clusterroles", "ClusterRole", False, CRUD),
        ("clusterrolebindings", "ClusterRoleBinding", False, CRUD),
    ],
    "networking.k8s.io/v1": [
        ("ingresses", "Ingress", True, CRUD),
        ("networkpolicies", "NetworkPolicy", True, CRUD),
    ],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True, CRUD)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False, CRUD)],
    "authentication.k8s.io/v1": [
        ("tokenreviews", "TokenReview", False, ["create"]),
        ("selfsubjectreviews", "SelfSubjectReview", False, ["create"]),
    ],
    "authorization.k8s.io/v1": [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ["create"]),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False, ["create"]),
        ("subjectaccessreviews", "SubjectAccessReview", False, ["create"]),
        ("localsubjectaccessreviews", "LocalSubjectAccessReview", True, ["create"]),
    ],
    "autoscaling/v1": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, CRUD)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, CRUD)],
    "certificates.k8s.io/v1": [
        ("certificatesigningrequests", "CertificateSigningRequest", False, CRUD),
        ("certificatesigningrequests/approval", "CertificateSigningRequest", False, ["update"]),
    ],
}
STATUS = {
    "TokenRequest": {"token": "recorded-token", "expirationTimestamp": "2030-01-01T00:00:00Z"},
    "SelfSubjectAccessReview": {"allowed": True},
    "SubjectAccessReview": {"allowed": True},
    "LocalSubjectAccessReview": {"allowed": True},
    "SelfSubjectRulesReview": {"resourceRules": [], "nonResourceRules": [], "incomplete": False},
    "SelfSubjectReview": {"userInfo": {"username": "recorder", "groups": ["system:masters"]}},
    "TokenReview": {"authenticated": False},
}


@dataclass
class Recorded:
    """One request as the recorder saw it."""

    tag: str
    method: str
    path: str
    query: str
    content_type: str
    body: bytes
    decoded: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Recorder:
    """The running recorder: its URL, a kubeconfig for it, and what it has seen."""

    url: str
    home: Path
    kubectl_path: Path
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    def seed(self, path: str, obj: dict[str, Any]) -> None:
        """Make ``GET path`` (without the ``/c/{tag}`` prefix) answer ``obj``."""
        with self.lock:
            self.objects[path] = obj

    def posts(self, tag: str) -> list[Recorded]:
        """The POST requests sent by the command run with ``tag``."""
        with self.lock:
            return [r for r in self.requests if r.tag == tag and r.method == "POST"]

    def kubectl(
        self, tag: str, *args: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run kubectl against ``{url}/c/{tag}`` with this recorder's kubeconfig."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
        }
        return subprocess.run(
            [str(self.kubectl_path), "--server", f"{self.url}/c/{tag}", *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=30,
            check=False,
        )


def _group_list() -> dict[str, Any]:
    groups = []
    for gv in DISCOVERY:
        if "/" not in gv:
            continue
        group, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(gv: str) -> dict[str, Any]:
    resources = []
    for name, kind, namespaced, verbs in DISCOVERY[gv]:
        row: dict[str, Any] = {"name": name, "namespaced": namespaced, "kind": kind}
        row |= {"verbs": verbs, "singularName": "" if "/" in name else kind.lower()}
        if name == "serviceaccounts/token":
            row |= {"group": "authentication.k8s.io", "version": "v1"}
        if name == "pods/eviction":
            row |= {"group": "policy", "version": "v1"}
        if name == "deployments/scale":
            row |= {"group": "autoscaling", "version": "v1"}
        resources.append(row)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recorder: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _split(self) -> tuple[str, str, str]:
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if len(parts) >= 3 and parts[1] == "c":
            return parts[2], "/" + "/".join(parts[3:]), url.query
        return "", url.path, url.query

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        data = orjson.dumps(obj)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, method: str) -> Recorded:
        tag, path, query = self._split()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rec = Recorded(
            tag, method, path.rstrip("/") or "/", query, self.headers.get("Content-Type", ""), body
        )
        with self.recorder.lock:
            self.recorder.requests.append(rec)
        return rec

    def do_GET(self) -> None:
        rec = self._record("GET")
        path = rec.path
        if path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
        elif path == "/apis":
            self._send(200, _group_list())
        elif path == "/version":
            self._send(200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0"})
        elif path.removeprefix("/api/").removeprefix("/apis/") in DISCOVERY:
            self._send(200, _resource_list(path.removeprefix("/api/").removeprefix("/apis/")))
        elif path in self.recorder.objects:
            self._send(200, self.recorder.objects[path])
        else:
            self._send(404, _status(404, f"the recorder has nothing at {path}"))

    def do_POST(self) -> None:
        rec = self._record("POST")
        if self._decode(rec):
            with self.recorder.lock:  # an evicted pod is gone at once
                self.recorder.objects.pop(rec.path.removesuffix("/eviction"), None)
            self._send(201, _created(rec.path, rec.decoded or {}))

    def do_PUT(self) -> None:
        rec = self._record("PUT")
        if self._decode(rec):
            self._send(200, _created(rec.path, rec.decoded or {}))

    def do_PATCH(self) -> None:
        rec = self._record("PATCH")
        stored = self.recorder.objects.get(rec.path.removesuffix("/scale").removesuffix("/status"))
        if stored is None:
            self._send(404, _status(404, f"the recorder has nothing at {rec.path}"))
        else:
            self._send(200, stored)

    def do_DELETE(self) -> None:
        rec = self._record("DELETE")
        if self._decode(rec):
            self._send(
                200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
            )

    def _decode(self, rec: Recorded) -> bool:
        if not rec.body:
            return True
        try:
            if is_protobuf(rec.content_type):
                rec.decoded = decode_object(rec.body)
            else:
                rec.decoded = orjson.loads(rec.body)
        except (ProtobufError, orjson.JSONDecodeError) as exc:
            rec.error = str(exc)
            self._send(400, _status(400, str(exc)))
            return False
        return True


def _created(path: str, obj: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    meta = reply.setdefault("metadata", {})
    parts = path.strip("/").split("/")
    if "namespaces" in parts[:-1] and parts.index("namespaces") + 2 < len(parts):
        meta.setdefault("namespace", parts[parts.index("namespaces") + 1])
    meta.setdefault("name", meta.get("generateName", "") + "recorded")
    meta |= {"uid": "00000000-0000-0000-0000-000000000001", "resourceVersion": "1"}
    meta["creationTimestamp"] = "2025-01-01T00:00:00Z"
    if reply.get("kind") in STATUS:
        reply["status"] = STATUS[reply["kind"]]
    return reply


@contextmanager
def recording_server(home: Path, kubectl_path: Path) -> Iterator[Recorder]:
    """Serve on 127.0.0.1 (ephemeral port) until the block ends; writes ``home/kubeconfig``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    recorder = Recorder(url=url, home=home, kubectl_path=kubectl_path)
    handler = type("Handler", (_Handler,), {"recorder": recorder})
    server.RequestHandlerClass = handler
    (home / "kubeconfig").write_text(_kubeconfig(url))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _kubeconfig(url: str) -> str:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "recorder", "cluster": {"server": url}}],
            "users": [{"name": "recorder", "user": {}}],
            "contexts": [
                {
                    "name": "recorder",
                    "context": {"cluster": "recorder", "user": "recorder", "namespace": "default"},
                }
            ],
            "current-context": "recorder",
        }
    ).decode()


def run_many(
    recorder: Recorder, commands: Sequence[tuple[str, Sequence[str]]], workers: int = 6
) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Run ``(tag, args)`` kubectl commands concurrently; results by tag."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        futures = {tag: pool.submit(recorder.kubectl, tag, *args) for tag, args in commands}
        return {tag: future.result() for tag, future in futures.items()}
