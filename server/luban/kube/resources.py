"""Resource types: what a served resource is (group, version, names, scope, verbs).

The built-in table lists the types the embedded cluster serves out of the box; custom
resources add ``ResourceType`` values at runtime from their CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource in one group/version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    # Field selector paths beyond metadata.name / metadata.namespace.
    field_selectors: tuple[str, ...] = ()
    # For custom resources: the version's openAPIV3Schema and additionalPrinterColumns.
    schema: dict[str, Any] | None = None
    printer_columns: tuple[dict[str, Any], ...] = ()
    custom: bool = False
    storage_version: str = ""
    scale_paths: dict[str, str] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-cased kind, Kubernetes' default singular name."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        """The kind of this type's lists."""
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``resource.group`` (``pods`` for the core group), as RBAC and errors spell it."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def has_status(self) -> bool:
        """Whether ``/status`` is a subresource (the main endpoint then ignores status)."""
        return "status" in self.subresources


def _t(
    group: str,
    version: str,
    resource: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    fields: tuple[str, ...] = (),
    verbs: tuple[str, ...] = STANDARD_VERBS,
) -> ResourceType:
    return ResourceType(
        group, version, resource, kind, namespaced, short, categories, verbs, sub, fields
    )


_ALL = ("all",)
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

# fmt: off
BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", False, ("ns",), sub=("status", "finalize"),
       fields=("status.phase",)),
    _t("", "v1", "pods", "Pod", short=("po",), categories=_ALL, sub=("status", "log", "exec",
       "attach", "portforward", "eviction", "binding", "ephemeralcontainers"), fields=_POD_FIELDS),
    _t("", "v1", "services", "Service", short=("svc",), categories=_ALL, sub=("status", "proxy")),
    _t("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _t("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _t("", "v1", "secrets", "Secret", fields=("type",)),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",), sub=("token",)),
    _t("", "v1", "events", "Event", short=("ev",), fields=_EVENT_FIELDS),
    _t("", "v1", "nodes", "Node", False, ("no",), sub=("status", "proxy"),
       fields=("spec.unschedulable",)),
    _t("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), sub=("status",)),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",),
       sub=("status",)),
    _t("", "v1", "resourcequotas", "ResourceQuota", short=("quota",), sub=("status",)),
    _t("", "v1", "limitranges", "LimitRange", short=("limits",)),
    _t("", "v1", "replicationcontrollers", "ReplicationController", short=("rc",),
       categories=_ALL, sub=("status", "scale"), fields=("status.replicas",)),
    _t("", "v1", "podtemplates", "PodTemplate"),
    _t("apps", "v1", "deployments", "Deployment", short=("deploy",), categories=_ALL,
       sub=("status", "scale")),
    _t("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), categories=_ALL,
       sub=("status", "scale")),
    _t("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), categories=_ALL, sub=("status",)),
    _t("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), categories=_ALL,
       sub=("status", "scale"), fields=("status.replicas",)),
    _t("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _t("batch", "v1", "jobs", "Job", categories=_ALL, sub=("status",),
       fields=("status.successful",)),
    _t("batch", "v1", "cronjobs", "CronJob", short=("cj",), categories=_ALL, sub=("status",)),
    _t("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), sub=("status",)),
    _t("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _t("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",),
       sub=("status",)),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _t("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       False, ("crd", "crds"), categories=("api-extensions",), sub=("status",)),
    _t("coordination.k8s.io", "v1", "leases", "Lease"),
    _t("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    _t("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
)
# fmt: on
