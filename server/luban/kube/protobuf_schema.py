"""The protobuf schema of the built-in types kubectl sends: messages and top-level kinds.

Each message is a tuple of rows ``(number, json_name, type, flags)``:

- ``type`` is a scalar (``string``, ``bool``, ``int32``, ``int64``, ``uint32``, ``uint64``,
  ``double``, ``bytes``), another message (``core.PodSpec``, named ``package.Type``), a map
  (``map[string]<value type>``, sent as repeated key=1/value=2 entries) or one of the
  types with their own JSON form: ``Time``, ``MicroTime``, ``Duration``, ``Quantity``,
  ``IntOrString``, ``RawExtension``, ``FieldsV1``, ``StringList`` (``ExtraValue`` and friends).
- ``flags``: ``r`` repeated, ``p`` a Go pointer (kept when zero), ``o`` ``omitempty``
  (a zero scalar or empty list/map is left out), ``i`` inlined into the parent's JSON.

The tables live in ``protobuf_schema_meta``, ``protobuf_schema_core`` and
``protobuf_schema_apis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from luban.kube import protobuf_schema_apis, protobuf_schema_core, protobuf_schema_meta

SCALARS = frozenset({"string", "bool", "int32", "int64", "uint32", "uint64", "double", "bytes"})
SPECIALS = frozenset(
    {
        "Time",
        "MicroTime",
        "Duration",
        "Quantity",
        "IntOrString",
        "RawExtension",
        "FieldsV1",
        "StringList",
    }
)

MESSAGES: dict[str, tuple[tuple[int, str, str, str], ...]] = {
    **protobuf_schema_meta.MESSAGES,
    **protobuf_schema_core.MESSAGES,
    **protobuf_schema_apis.MESSAGES,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message, compiled from its row."""

    number: int
    json_name: str
    type: str  # scalar, special or message name; for maps the value type
    map_key: str | None  # key type of a map field, else None
    repeated: bool
    pointer: bool
    omitempty: bool
    inline: bool

    @property
    def is_message(self) -> bool:
        """Whether values are messages of the schema (not scalars nor specials)."""
        return "." in self.type


def _compile(row: tuple[int, str, str, str]) -> Field:
    number, json_name, type_, flags = row
    map_key: str | None = None
    if type_.startswith("map["):
        map_key, type_ = type_[4:].split("]", 1)
    return Field(
        number=number,
        json_name=json_name,
        type=type_,
        map_key=map_key,
        repeated="r" in flags,
        pointer="p" in flags,
        omitempty="o" in flags,
        inline="i" in flags,
    )


@cache
def message(name: str) -> dict[int, Field]:
    """The fields of message ``name`` by number; ``KeyError`` if the schema lacks it."""
    return {row[0]: _compile(row) for row in MESSAGES[name]}


_GROUP_VERSIONS = {
    "core": "v1",
    "apps": "apps/v1",
    "batch": "batch/v1",
    "rbac": "rbac.authorization.k8s.io/v1",
    "networking": "networking.k8s.io/v1",
    "policy": "policy/v1",
    "scheduling": "scheduling.k8s.io/v1",
    "authentication": "authentication.k8s.io/v1",
    "authorization": "authorization.k8s.io/v1",
    "autoscaling": "autoscaling/v1",
    "autoscalingv2": "autoscaling/v2",
    "certificates": "certificates.k8s.io/v1",
}

_TOP_LEVEL = (
    "core.Binding",
    "core.ConfigMap",
    "core.Endpoints",
    "core.Event",
    "core.LimitRange",
    "core.Namespace",
    "core.Node",
    "core.PersistentVolume",
    "core.PersistentVolumeClaim",
    "core.Pod",
    "core.PodTemplate",
    "core.ReplicationController",
    "core.ResourceQuota",
    "core.Secret",
    "core.Service",
    "core.ServiceAccount",
    "apps.ControllerRevision",
    "apps.DaemonSet",
    "apps.Deployment",
    "apps.ReplicaSet",
    "apps.StatefulSet",
    "batch.CronJob",
    "batch.Job",
    "rbac.ClusterRole",
    "rbac.ClusterRoleBinding",
    "rbac.Role",
    "rbac.RoleBinding",
    "networking.Ingress",
    "networking.IngressClass",
    "networking.NetworkPolicy",
    "policy.Eviction",
    "policy.PodDisruptionBudget",
    "scheduling.PriorityClass",
    "authentication.SelfSubjectReview",
    "authentication.TokenRequest",
    "authentication.TokenReview",
    "authorization.LocalSubjectAccessReview",
    "authorization.SelfSubjectAccessReview",
    "authorization.SelfSubjectRulesReview",
    "authorization.SubjectAccessReview",
    "autoscaling.HorizontalPodAutoscaler",
    "autoscaling.Scale",
    "autoscalingv2.HorizontalPodAutoscaler",
    "certificates.CertificateSigningRequest",
)

# (apiVersion, kind) -> message name, for the objects a client may send.
KINDS: dict[tuple[str, str], str] = {
    (_GROUP_VERSIONS[name.split(".")[0]], name.split(".")[1]): name for name in _TOP_LEVEL
}

# DeleteOptions is registered in every group version (and in meta.k8s.io/v1).
OPTIONS_KINDS = {"DeleteOptions": "meta.DeleteOptions"}


def kind_message(api_version: str, kind: str) -> str | None:
    """The message name for a top-level ``apiVersion``/``kind``, or None if not known."""
    found = KINDS.get((api_version, kind))
    if found is None and kind in OPTIONS_KINDS:
        known = {*_GROUP_VERSIONS.values(), "meta.k8s.io/v1"}
        if api_version in known:
            return OPTIONS_KINDS[kind]
    return found
