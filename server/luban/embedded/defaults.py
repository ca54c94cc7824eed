"""Defaults the real API server fills in on create, for the built-in types that need them.

Only what clients commonly rely on: a Service gets a cluster IP, a Namespace its
``kubernetes`` finalizer, a Pod (and every pod template) its restart and DNS policy, a
Deployment its replicas and rollout strategy.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

_SERVICE_NET = ipaddress.ip_network("10.96.0.0/12")


class ClusterIPAllocator:
    """Hands out service IPs from 10.96.0.0/12 (10.96.0.1 is the kubernetes service)."""

    def __init__(self) -> None:
        self._next = itertools.count(10)
        self.used: set[str] = set()

    def allocate(self) -> str:
        """The next free address."""
        while True:
            address = str(_SERVICE_NET[next(self._next)])
            if address not in self.used:
                self.used.add(address)
                return address


def _pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _template(obj: dict[str, Any], *path: str) -> None:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        _pod_spec(node)


def _pod(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    _pod_spec(obj.setdefault("spec", {}))
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", "BestEffort")


def _deployment(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    _template(obj, "spec", "template", "spec")


def _replicated(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template(obj, "spec", "template", "spec")


def _templated(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    _template(obj, "spec", "template", "spec")


def _cronjob(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    _template(obj, "spec", "jobTemplate", "spec", "template", "spec")


def _namespace(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {})["phase"] = "Active"
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def _secret(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    obj.setdefault("type", "Opaque")


def _service(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports", []) or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if kind == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = ctx.cluster_ips.allocate()
    if spec["clusterIP"] != "None":
        ctx.cluster_ips.used.add(spec["clusterIP"])
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []) or []:
            if isinstance(port, dict) and "nodePort" not in port:
                port["nodePort"] = ctx.next_node_port()


class DefaultsContext:
    """State defaulting needs across objects (allocated IPs and node ports)."""

    def __init__(self) -> None:
        self.cluster_ips = ClusterIPAllocator()
        self._node_ports = itertools.count(30000)

    def next_node_port(self) -> int:
        """The next node port from 30000."""
        return next(self._node_ports)


_DEFAULTERS: dict[tuple[str, str], Callable[[dict[str, Any], DefaultsContext], None]] = {
    ("", "Pod"): _pod,
    ("", "Namespace"): _namespace,
    ("", "Secret"): _secret,
    ("", "Service"): _service,
    ("", "ReplicationController"): _replicated,
    ("", "PodTemplate"): lambda obj, ctx: _template(obj, "template", "spec"),
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _replicated,
    ("apps", "ReplicaSet"): _replicated,
    ("apps", "DaemonSet"): _templated,
    ("batch", "Job"): _templated,
    ("batch", "CronJob"): _cronjob,
}


def normalize(group: str, kind: str, obj: dict[str, Any]) -> None:
    """Conversions every write of a type goes through (a Secret's stringData into data)."""
    if group == "" and kind == "Secret" and isinstance(obj.get("stringData"), dict):
        raw = obj.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def apply_defaults(group: str, kind: str, obj: dict[str, Any], ctx: DefaultsContext) -> None:
    """Fill in the defaults of a new built-in object, in place."""
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj, ctx)
