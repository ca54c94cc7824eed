"""Object lifecycle rules: what the server stamps on create and preserves on update."""

from __future__ import annotations

import copy
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from luban.kube.errors import bad_request
from luban.kube.resources import ResourceType

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SPECLESS = frozenset(
    {"ConfigMap", "Secret", "Event", "Endpoints", "ServiceAccount", "Role", "ClusterRole",
     "RoleBinding", "ClusterRoleBinding", "Namespace", "ControllerRevision", "StorageClass",
     "PriorityClass", "Lease", "LimitRange", "PodTemplate", "IngressClass"}
)  # fmt: skip


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (second precision, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    """``prefix`` plus five random characters, as the name generator does."""
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def check_type_meta(obj: dict[str, Any], rt: ResourceType) -> None:
    """Fill a missing apiVersion/kind from the URL; refuse ones that contradict it (400)."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if api_version in (None, ""):
        obj["apiVersion"] = rt.api_version
    elif api_version != rt.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})"
        )
    if kind in (None, ""):
        obj["kind"] = rt.kind
    elif kind != rt.kind:
        raise bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )


def metadata_of(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]``, refusing a body whose metadata is not an object (400)."""
    meta = obj.setdefault("metadata", {})
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    return meta


def tracks_generation(rt: ResourceType) -> bool:
    """Whether the type bumps metadata.generation on spec changes."""
    return rt.custom or rt.kind not in _SPECLESS


def stamp_create(obj: dict[str, Any], rt: ResourceType, namespace: str) -> None:
    """Set the server-owned metadata of a new object (name generation included)."""
    meta = metadata_of(obj)
    if rt.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(str(meta["generateName"]))
    if meta.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to be created")
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    if tracks_generation(rt):
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if rt.has_status and rt.custom:
        obj.pop("status", None)


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what a change of bumps the generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def carry_over(
    new: dict[str, Any], old: dict[str, Any], rt: ResourceType, subresource: str
) -> dict[str, Any]:
    """The object to store for an update of ``old`` to ``new`` through ``subresource``."""
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        result["metadata"]["resourceVersion"] = new.get("metadata", {}).get(
            "resourceVersion", old["metadata"].get("resourceVersion")
        )
        return result
    meta = metadata_of(new)
    old_meta = old["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "namespace", "name"):  # fmt: skip
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if rt.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if tracks_generation(rt) and spec_of(new) != spec_of(old):
        meta["generation"] = int(old_meta.get("generation", 0)) + 1
    return new
