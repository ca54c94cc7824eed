"""Defaults the real API server fills in on create, for the built-in types that need them.

Only what clients commonly rely on: a Service gets a cluster IP, a Namespace its
``kubernetes`` finalizer, a Pod (and every pod template) its restart and DNS policy, a
Deployment its replicas and rollout strategy.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

_SERVICE_NET = ipaddress.ip_network("10.96.0.0/12")
_OMIT_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")


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


def _rolling(spec: dict[str, Any], key: str, surge: object, unavailable: object) -> None:
    """A rolling update strategy under ``spec[key]``, filled in like ``SetDefaults_*`` do.

    Clients send ``strategy: {}`` (kubectl create deployment does), so each field is
    defaulted on its own rather than the whole strategy only when absent.
    """
    strategy = spec.get(key)
    if not isinstance(strategy, dict):
        strategy = spec[key] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        rolling.setdefault("maxUnavailable", unavailable)
        rolling.setdefault("maxSurge", surge)


def _deployment(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _rolling(spec, "strategy", "25%", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj, "spec", "template", "spec")


def _daemonset(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    _rolling(spec, "updateStrategy", 0, 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(obj, "spec", "template", "spec")


def _statefulset(obj: dict[str, Any], ctx: DefaultsContext) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if not isinstance(strategy.get("rollingUpdate"), dict):
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        rolling.setdefault("partition", 0)
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(retention, dict):
        retention = spec["persistentVolumeClaimRetentionPolicy"] = {}
    for key in ("whenDeleted", "whenScaled"):
        if not retention.get(key):
            retention[key] = "Retain"
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
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
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "ReplicaSet"): _replicated,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _templated,
    ("batch", "CronJob"): _cronjob,
}


def normalize(group: str, kind: str, obj: dict[str, Any]) -> None:
    """Conversions every write of a type goes through (a Secret's stringData into data).

    Empty metadata maps and lists are dropped, as the real server's ``omitempty`` encoding of
    ObjectMeta does (a patch leaving ``annotations: {}`` must not show up in ``kubectl diff``).
    """
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in _OMIT_WHEN_EMPTY:
            if key in meta and meta[key] in ({}, []):
                del meta[key]
    if group == "" and kind == "Secret" and isinstance(obj.get("stringData"), dict):
        raw = obj.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _keep_allocations(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """An update keeps the Service's cluster IPs and node ports it does not set
    (``patchAllocatedValues``), so ``kubectl replace`` of the original manifest works."""
    if spec.get("type", "ClusterIP") == "ExternalName" or old.get("type") == "ExternalName":
        return
    for key in ("clusterIP", "clusterIPs"):
        if not spec.get(key) and old.get(key):
            spec[key] = copy.deepcopy(old[key])
    old_ports = {
        (p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
        for p in old.get("ports") or ()
        if isinstance(p, dict) and p.get("nodePort")
    }
    for port in spec.get("ports") or ():
        if isinstance(port, dict) and not port.get("nodePort"):
            found = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if found:
                port["nodePort"] = found


def apply_defaults(
    group: str,
    kind: str,
    obj: dict[str, Any],
    ctx: DefaultsContext,
    old: dict[str, Any] | None = None,
) -> None:
    """Fill in the defaults of a built-in object, in place.

    The real server defaults every object it decodes, so updates (``old`` given) are
    defaulted too; only what creation alone decides (a namespace's finalizers and phase,
    a Service's allocations) comes from ``old`` instead.
    """
    if old is not None and group == "":
        if kind == "Namespace":
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
            return
        if kind == "Service" and isinstance(obj.get("spec"), dict):
            _keep_allocations(obj["spec"], old.get("spec") or {})
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj, ctx)
