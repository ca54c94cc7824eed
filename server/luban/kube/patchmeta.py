"""How the lists and maps of built-in types merge: the facts of k8s.io/api struct tags.

Two views of one list exist upstream and they do not always agree:

* the declarative view (``+listType`` / ``+listMapKey``), used by server-side apply:
  :func:`list_strategy`;
* the strategic-merge view (``patchStrategy`` / ``patchMergeKey`` struct tags), used by
  ``application/strategic-merge-patch+json`` and client-side ``kubectl apply``:
  :func:`strategic_list_strategy`, plus :func:`retains_keys` and :func:`replaces_map`.

For example ``JobStatus.conditions`` is ``listType=atomic`` but strategic-merges by ``type``,
and ``Container.ports`` is keyed by ``containerPort`` + ``protocol`` for apply but by
``containerPort`` alone for strategic merge.

A ``path`` is the chain of field names from the object root, list items not included:
``("spec", "template", "spec", "containers", "env")`` is the env list of any container of a
Deployment's pod template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ListStrategy:
    """How a list merges: by keys (``map``), as a set of scalars (``set``), or whole."""

    kind: Literal["map", "set", "atomic"]
    keys: tuple[str, ...] = ()


ATOMIC = ListStrategy("atomic")
SET = ListStrategy("set")


@dataclass(frozen=True)
class _Field:
    """One field of a struct: the struct its value (or list item) is, and its merge facts."""

    type: str | None = None
    ssa: ListStrategy | None = None
    smp: ListStrategy | None = None
    retain_keys: bool = False
    replace: bool = False


def _struct(name: str | None = None, **kw: Any) -> _Field:
    return _Field(type=name, **kw)


def _atomic(name: str | None = None) -> _Field:
    # listType=atomic without a patchStrategy: both views replace the list whole.
    return _Field(type=name, ssa=ATOMIC, smp=ATOMIC)


def _keyed(name: str | None, *keys: str, smp: bool = True, retain: bool = False) -> _Field:
    """listType=map keyed by ``keys``; with ``smp`` also patchStrategy=merge on ``keys[0]``."""
    return _Field(
        type=name,
        ssa=ListStrategy("map", keys),
        smp=ListStrategy("map", keys[:1]) if smp else ATOMIC,
        retain_keys=retain,
    )


def _set(*, smp: bool) -> _Field:
    return _Field(ssa=SET, smp=SET if smp else ATOMIC)


_CONDITIONS = _keyed(None, "type")

# Struct name -> field name -> facts. Only fields that are lists with merge facts, or that lead
# to such lists, are listed; anything else is unknown (None) and treated as atomic by callers.
_TYPES: dict[str, dict[str, _Field]] = {
    # --- meta/v1 ---
    "ObjectMeta": {
        "ownerReferences": _keyed(None, "uid"),
        "finalizers": _set(smp=True),
        "managedFields": _atomic(),
    },
    "LabelSelector": {"matchExpressions": _atomic("LabelSelectorRequirement")},
    "LabelSelectorRequirement": {"values": _atomic()},
    # --- core/v1: pods ---
    "PodTemplateSpec": {"metadata": _struct("ObjectMeta"), "spec": _struct("PodSpec")},
    "PodSpec": {
        "volumes": _keyed("Volume", "name", retain=True),
        "initContainers": _keyed("Container", "name"),
        "containers": _keyed("Container", "name"),
        "ephemeralContainers": _keyed("Container", "name"),
        "imagePullSecrets": _keyed(None, "name"),
        "tolerations": _atomic(),
        "hostAliases": _keyed("HostAlias", "ip"),
        "readinessGates": _atomic(),
        "topologySpreadConstraints": _keyed(
            "TopologySpreadConstraint", "topologyKey", "whenUnsatisfiable"
        ),
        "schedulingGates": _keyed(None, "name"),
        "resourceClaims": _keyed(None, "name", retain=True),
        "evictionResponders": _keyed(None, "name"),
        "affinity": _struct("Affinity"),
        "securityContext": _struct("PodSecurityContext"),
        "dnsConfig": _struct("PodDNSConfig"),
    },
    "HostAlias": {"hostnames": _atomic()},
    "TopologySpreadConstraint": {
        "matchLabelKeys": _atomic(),
        "labelSelector": _struct("LabelSelector"),
    },
    "PodSecurityContext": {"supplementalGroups": _atomic(), "sysctls": _atomic()},
    "PodDNSConfig": {"nameservers": _atomic(), "searches": _atomic(), "options": _atomic()},
    "Affinity": {
        "nodeAffinity": _struct("NodeAffinity"),
        "podAffinity": _struct("PodAffinity"),
        "podAntiAffinity": _struct("PodAffinity"),
    },
    "NodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": _struct("NodeSelector"),
        "preferredDuringSchedulingIgnoredDuringExecution": _atomic("PreferredSchedulingTerm"),
    },
    "PreferredSchedulingTerm": {"preference": _struct("NodeSelectorTerm")},
    "NodeSelector": {"nodeSelectorTerms": _atomic("NodeSelectorTerm")},
    "NodeSelectorTerm": {
        "matchExpressions": _atomic("NodeSelectorRequirement"),
        "matchFields": _atomic("NodeSelectorRequirement"),
    },
    "NodeSelectorRequirement": {"values": _atomic()},
    "PodAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": _atomic("PodAffinityTerm"),
        "preferredDuringSchedulingIgnoredDuringExecution": _atomic("WeightedPodAffinityTerm"),
    },
    "WeightedPodAffinityTerm": {"podAffinityTerm": _struct("PodAffinityTerm")},
    "PodAffinityTerm": {
        "namespaces": _atomic(),
        "matchLabelKeys": _atomic(),
        "mismatchLabelKeys": _atomic(),
        "labelSelector": _struct("LabelSelector"),
        "namespaceSelector": _struct("LabelSelector"),
    },
    # Container and EphemeralContainer share these fields.
    "Container": {
        "command": _atomic(),
        "args": _atomic(),
        "ports": _keyed(None, "containerPort", "protocol"),
        "envFrom": _atomic(),
        "env": _keyed(None, "name"),
        "resizePolicy": _atomic(),
        "restartPolicyRules": _atomic(),
        "volumeMounts": _keyed("VolumeMount", "mountPath"),
        "volumeDevices": _keyed(None, "devicePath"),
        "resources": _struct("ResourceRequirements"),
        "securityContext": _struct("SecurityContext"),
        "livenessProbe": _struct("Handler"),
        "readinessProbe": _struct("Handler"),
        "startupProbe": _struct("Handler"),
        "lifecycle": _struct("Lifecycle"),
    },
    "VolumeMount": {"bindMountOptions": _set(smp=False)},
    "ResourceRequirements": {"claims": _keyed(None, "name", smp=False)},
    "SecurityContext": {"capabilities": _struct("Capabilities")},
    "Capabilities": {"add": _atomic(), "drop": _atomic()},
    "Lifecycle": {"postStart": _struct("Handler"), "preStop": _struct("Handler")},
    # Probe and LifecycleHandler: the list-bearing parts they share.
    "Handler": {"exec": _struct("ExecAction"), "httpGet": _struct("HTTPGetAction")},
    "ExecAction": {"command": _atomic()},
    "HTTPGetAction": {"httpHeaders": _atomic()},
    "Volume": {
        "secret": _struct("ItemsSource"),
        "configMap": _struct("ItemsSource"),
        "downwardAPI": _struct("ItemsSource"),
        "projected": _struct("ProjectedVolumeSource"),
        "rbd": _struct("MonitorsSource"),
        "cephfs": _struct("MonitorsSource"),
        "iscsi": _struct("ISCSIVolumeSource"),
        "fc": _struct("FCVolumeSource"),
    },
    "ItemsSource": {"items": _atomic()},
    "ProjectedVolumeSource": {"sources": _atomic()},
    "MonitorsSource": {"monitors": _atomic()},
    "ISCSIVolumeSource": {"portals": _atomic()},
    "FCVolumeSource": {"targetWWNs": _atomic(), "wwids": _atomic()},
    "PodStatus": {
        "conditions": _CONDITIONS,
        # hostIPs: listType=atomic, yet patchStrategy=merge on ip.
        "hostIPs": _Field(ssa=ATOMIC, smp=ListStrategy("map", ("ip",))),
        "podIPs": _keyed(None, "ip"),
        "initContainerStatuses": _atomic(),
        "containerStatuses": _atomic(),
        "ephemeralContainerStatuses": _atomic(),
        "resourceClaimStatuses": _keyed(None, "name", retain=True),
        "volumeHealth": _keyed(None, "name", smp=False),
    },
    # --- core/v1: the rest ---
    "ServiceSpec": {
        "ports": _keyed(None, "port", "protocol"),
        "clusterIPs": _atomic(),
        "externalIPs": _atomic(),
        "loadBalancerSourceRanges": _atomic(),
        "ipFamilies": _atomic(),
    },
    "ServiceStatus": {"conditions": _CONDITIONS, "loadBalancer": _struct("LoadBalancerStatus")},
    "LoadBalancerStatus": {"ingress": _atomic("LoadBalancerIngress")},
    "LoadBalancerIngress": {"ports": _atomic()},
    "EndpointSubset": {
        "addresses": _atomic(),
        "notReadyAddresses": _atomic(),
        "ports": _atomic(),
    },
    "NodeSpec": {"podCIDRs": _set(smp=True), "taints": _atomic()},
    "NodeStatus": {
        "conditions": _CONDITIONS,
        "addresses": _keyed(None, "type"),
        "images": _atomic(),
        "volumesInUse": _atomic(),
        "volumesAttached": _atomic(),
        "runtimeHandlers": _atomic(),
        "declaredFeatures": _atomic(),
    },
    "NamespaceSpec": {"finalizers": _atomic()},
    "ConditionsStatus": {"conditions": _CONDITIONS},
    "PersistentVolumeSpec": {"accessModes": _atomic(), "mountOptions": _atomic()},
    "PersistentVolumeClaimSpec": {"accessModes": _atomic(), "selector": _struct("LabelSelector")},
    "PersistentVolumeClaimStatus": {"accessModes": _atomic(), "conditions": _CONDITIONS},
    "ResourceQuotaSpec": {"scopes": _atomic(), "scopeSelector": _struct("ScopeSelector")},
    "ScopeSelector": {"matchExpressions": _atomic("ScopeSelectorRequirement")},
    "ScopeSelectorRequirement": {"values": _atomic()},
    "LimitRangeSpec": {"limits": _atomic()},
    "ReplicationControllerSpec": {"template": _struct("PodTemplateSpec")},
    # --- apps/v1, batch/v1 ---
    "WorkloadSpec": {"selector": _struct("LabelSelector"), "template": _struct("PodTemplateSpec")},
    "DeploymentSpec": {
        "selector": _struct("LabelSelector"),
        "template": _struct("PodTemplateSpec"),
        "strategy": _struct(retain_keys=True),
    },
    "StatefulSetSpec": {
        "selector": _struct("LabelSelector"),
        "template": _struct("PodTemplateSpec"),
        "volumeClaimTemplates": _atomic(),
    },
    "JobSpec": {
        "selector": _struct("LabelSelector"),
        "template": _struct("PodTemplateSpec"),
        "podFailurePolicy": _struct("RulesHolder"),
        "successPolicy": _struct("RulesHolder"),
    },
    "RulesHolder": {"rules": _atomic()},
    "JobStatus": {
        # conditions: listType=atomic, yet patchStrategy=merge on type.
        "conditions": _Field(ssa=ATOMIC, smp=ListStrategy("map", ("type",))),
        "uncountedTerminatedPods": _struct("UncountedTerminatedPods"),
    },
    "UncountedTerminatedPods": {"succeeded": _set(smp=False), "failed": _set(smp=False)},
    "CronJobSpec": {"jobTemplate": _struct("JobTemplateSpec")},
    "JobTemplateSpec": {"metadata": _struct("ObjectMeta"), "spec": _struct("JobSpec")},
    "CronJobStatus": {"active": _atomic()},
    # --- networking, policy, rbac, storage, apiextensions ---
    "IngressSpec": {"tls": _atomic("IngressTLS"), "rules": _atomic()},
    "IngressTLS": {"hosts": _atomic()},
    "IngressStatus": {"loadBalancer": _struct("LoadBalancerStatus")},
    "NetworkPolicySpec": {
        "podSelector": _struct("LabelSelector"),
        "ingress": _atomic(),
        "egress": _atomic(),
        "policyTypes": _atomic(),
    },
    # PodDisruptionBudgetSpec.selector is patchStrategy=replace: a patch replaces it whole.
    "PodDisruptionBudgetSpec": {"selector": _struct("LabelSelector", replace=True)},
    "AggregationRule": {"clusterRoleSelectors": _atomic()},
    "CustomResourceDefinitionSpec": {
        "versions": _atomic(),
        "names": _struct("CustomResourceDefinitionNames"),
        "conversion": _struct("CustomResourceConversion"),
    },
    "CustomResourceDefinitionNames": {"shortNames": _atomic(), "categories": _atomic()},
    "CustomResourceConversion": {"webhook": _struct("WebhookConversion")},
    "WebhookConversion": {"conversionReviewVersions": _atomic()},
    "CustomResourceDefinitionStatus": {
        # listType=map on type, but no patchStrategy: strategic merge replaces it.
        "conditions": _keyed(None, "type", smp=False),
        "acceptedNames": _struct("CustomResourceDefinitionNames"),
        "storedVersions": _atomic(),
    },
}


def _root(**fields: _Field) -> dict[str, _Field]:
    return {"metadata": _struct("ObjectMeta"), **fields}


_CONDITIONS_STATUS = _struct("ConditionsStatus")
_WORKLOAD_STATUS = _CONDITIONS_STATUS

# (apiVersion, kind) -> the object's top-level fields.
_KINDS: dict[tuple[str, str], dict[str, _Field]] = {
    ("v1", "Pod"): _root(spec=_struct("PodSpec"), status=_struct("PodStatus")),
    ("v1", "PodTemplate"): _root(template=_struct("PodTemplateSpec")),
    ("v1", "ReplicationController"): _root(
        spec=_struct("ReplicationControllerSpec"), status=_WORKLOAD_STATUS
    ),
    ("v1", "Service"): _root(spec=_struct("ServiceSpec"), status=_struct("ServiceStatus")),
    ("v1", "Endpoints"): _root(subsets=_atomic("EndpointSubset")),
    ("v1", "ConfigMap"): _root(),
    ("v1", "Secret"): _root(),
    ("v1", "ServiceAccount"): _root(
        secrets=_keyed(None, "name"),
        # imagePullSecrets here is listType=atomic with no patchStrategy (unlike PodSpec's).
        imagePullSecrets=_atomic(),
    ),
    ("v1", "Event"): _root(),
    ("v1", "Namespace"): _root(spec=_struct("NamespaceSpec"), status=_CONDITIONS_STATUS),
    ("v1", "Node"): _root(spec=_struct("NodeSpec"), status=_struct("NodeStatus")),
    ("v1", "PersistentVolume"): _root(spec=_struct("PersistentVolumeSpec")),
    ("v1", "PersistentVolumeClaim"): _root(
        spec=_struct("PersistentVolumeClaimSpec"), status=_struct("PersistentVolumeClaimStatus")
    ),
    ("v1", "ResourceQuota"): _root(spec=_struct("ResourceQuotaSpec")),
    ("v1", "LimitRange"): _root(spec=_struct("LimitRangeSpec")),
    ("apps/v1", "Deployment"): _root(spec=_struct("DeploymentSpec"), status=_WORKLOAD_STATUS),
    ("apps/v1", "StatefulSet"): _root(spec=_struct("StatefulSetSpec"), status=_WORKLOAD_STATUS),
    ("apps/v1", "DaemonSet"): _root(spec=_struct("WorkloadSpec"), status=_WORKLOAD_STATUS),
    ("apps/v1", "ReplicaSet"): _root(spec=_struct("WorkloadSpec"), status=_WORKLOAD_STATUS),
    ("apps/v1", "ControllerRevision"): _root(),
    ("batch/v1", "Job"): _root(spec=_struct("JobSpec"), status=_struct("JobStatus")),
    ("batch/v1", "CronJob"): _root(spec=_struct("CronJobSpec"), status=_struct("CronJobStatus")),
    ("networking.k8s.io/v1", "Ingress"): _root(
        spec=_struct("IngressSpec"), status=_struct("IngressStatus")
    ),
    ("networking.k8s.io/v1", "IngressClass"): _root(),
    ("networking.k8s.io/v1", "NetworkPolicy"): _root(spec=_struct("NetworkPolicySpec")),
    ("policy/v1", "PodDisruptionBudget"): _root(
        spec=_struct("PodDisruptionBudgetSpec"), status=_CONDITIONS_STATUS
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): _root(rules=_atomic()),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): _root(
        rules=_atomic(), aggregationRule=_struct("AggregationRule")
    ),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _root(subjects=_atomic()),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _root(subjects=_atomic()),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): _root(
        spec=_struct("CustomResourceDefinitionSpec"),
        status=_struct("CustomResourceDefinitionStatus"),
    ),
    ("coordination.k8s.io/v1", "Lease"): _root(),
    ("storage.k8s.io/v1", "StorageClass"): _root(
        mountOptions=_atomic(), allowedTopologies=_atomic()
    ),
    ("scheduling.k8s.io/v1", "PriorityClass"): _root(),
}


def known_kind(api_version: str, kind: str) -> bool:
    """Whether the table knows this built-in type (strategic merge works only for those)."""
    return (api_version, kind) in _KINDS


def _field(api_version: str, kind: str, path: Sequence[str]) -> _Field | None:
    fields: Mapping[str, _Field] | None = _KINDS.get((api_version, kind))
    found: _Field | None = None
    for name in path:
        if fields is None:
            return None
        found = fields.get(name)
        if found is None:
            return None
        fields = _TYPES.get(found.type) if found.type else None
    return found


def list_strategy(api_version: str, kind: str, path: tuple[str, ...]) -> ListStrategy | None:
    """The ``+listType``/``+listMapKey`` facts of the list at ``path``; None when unknown."""
    found = _field(api_version, kind, path)
    return found.ssa if found else None


def strategic_list_strategy(
    api_version: str, kind: str, path: tuple[str, ...]
) -> ListStrategy | None:
    """The ``patchStrategy``/``patchMergeKey`` facts of the list at ``path``.

    ``map`` has exactly one key (the patchMergeKey); ``set`` is a merged primitive list;
    ``atomic`` or None means a patch replaces the list.
    """
    found = _field(api_version, kind, path)
    return found.smp if found else None


def retains_keys(api_version: str, kind: str, path: tuple[str, ...]) -> bool:
    """Whether the map at ``path`` (or each item of the list there) has patchStrategy retainKeys."""
    found = _field(api_version, kind, path)
    return bool(found and found.retain_keys)


def replaces_map(api_version: str, kind: str, path: tuple[str, ...]) -> bool:
    """Whether the map at ``path`` has patchStrategy replace (a patch replaces it whole)."""
    found = _field(api_version, kind, path)
    return bool(found and found.replace)


def list_strategy_from_schema(
    schema: Mapping[str, Any], path: Sequence[str]
) -> ListStrategy | None:
    """Read ``x-kubernetes-list-type``/``-list-map-keys`` at ``path`` of an openAPIV3Schema.

    None when the path leaves the schema or the list declares no type (Kubernetes then
    treats it as atomic).
    """
    node = schema_at(schema, path)
    if node is None or node.get("type") != "array":
        return None
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = node.get("x-kubernetes-list-map-keys") or ()
        return ListStrategy("map", tuple(str(k) for k in keys))
    if list_type in ("set", "atomic"):
        return SET if list_type == "set" else ATOMIC
    return None


def schema_at(schema: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    """The node of an openAPIV3Schema at ``path``; None when the path leaves the schema.

    Array levels are stepped through implicitly (paths omit list items) and a map's
    ``additionalProperties`` stands for any key.
    """
    node: Mapping[str, Any] | None = schema
    for name in path:
        node = schema_items(node)
        if node is None:
            return None
        props = node.get("properties")
        if isinstance(props, Mapping) and name in props:
            node = props[name]
            continue
        extra = node.get("additionalProperties")
        node = extra if isinstance(extra, Mapping) else None
    return node


def schema_items(node: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``node`` itself, or for an array (of arrays...) the schema of its innermost items."""
    while node is not None and node.get("type") == "array":
        items = node.get("items")
        node = items if isinstance(items, Mapping) else None
    return node
