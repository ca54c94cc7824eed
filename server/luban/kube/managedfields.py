"""`metadata.managedFields` entries: decoding, encoding, ordering, capping.

Managers are identified the way the API server does it: Apply entries by
(manager, subresource), Update entries by (manager, apiVersion, subresource).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from luban.kube.fieldsets import FieldSet
from luban.kube.goquote import go_quote

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


@dataclass(frozen=True)
class ManagerKey:
    """Who manages a set: for Apply entries `api_version` is always empty."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    def identifier(self) -> str:
        """The JSON identifier upstream sorts and prints managers by."""
        d = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "subresource": self.subresource,
        }
        return json.dumps(
            {k: v for k, v in d.items() if v}, separators=(",", ":"), ensure_ascii=False
        )

    def describe(self) -> str:
        """How conflict messages name the manager, e.g. `"kubectl-edit" using apps/v1`."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


@dataclass
class VersionedSet:
    """The fields one manager owns, at the API version it used."""

    fields: FieldSet
    api_version: str
    applied: bool


@dataclass
class Managed:
    """Decoded managedFields: field sets and their timestamps, by manager."""

    sets: dict[ManagerKey, VersionedSet]
    times: dict[ManagerKey, str | None]

    @classmethod
    def empty(cls) -> Managed:
        return cls({}, {})

    def copy(self) -> Managed:
        return Managed(
            {
                k: VersionedSet(v.fields.copy(), v.api_version, v.applied)
                for k, v in self.sets.items()
            },
            dict(self.times),
        )


def now_rfc3339() -> str:
    """The current time the way metav1.Time serializes (seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(t: str | None) -> float:
    if not t:
        return 0
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0


def is_reset(entries: Any) -> bool:
    """True if a client sent managedFields meaning "clear them": `[]` or `[{}]`."""
    if entries == []:
        return True
    return (
        isinstance(entries, list)
        and len(entries) == 1
        and isinstance(entries[0], dict)
        and not any(v not in (None, "", {}) for v in entries[0].values())
    )


def decode(entries: Any) -> Managed:
    """Parse managedFields; raises ValueError for anything the real server rejects."""
    if entries is None:
        return Managed.empty()
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    out = Managed.empty()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        op = e.get("operation")
        if op not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = e.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("apiVersion must not be empty")
        ftype = e.get("fieldsType")
        if not ftype:
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if ftype != "FieldsV1":
            raise ValueError(f"invalid fieldsType {ftype!r} in managed fields entry {i}")
        manager, sub, t = e.get("manager", ""), e.get("subresource", ""), e.get("time")
        if (
            not isinstance(manager, str)
            or not isinstance(sub, str)
            or not (t is None or isinstance(t, str))
        ):
            raise ValueError(f"invalid managed fields entry {i}")
        fields = FieldSet.from_fields_v1(e.get("fieldsV1") if e.get("fieldsV1") is not None else {})
        k = ManagerKey(manager, op, "" if op == APPLY else api_version, sub)
        out.sets[k] = VersionedSet(fields, api_version, op == APPLY)
        out.times[k] = t
    return out


def encode(managed: Managed) -> list[dict[str, Any]]:
    """Entries in the server's order: Apply before Update, then by time, manager, version."""
    entries = []
    for k, vs in managed.sets.items():
        e: dict[str, Any] = {
            "manager": k.manager,
            "operation": APPLY if vs.applied else k.operation,
            "apiVersion": vs.api_version,
        }
        if managed.times.get(k):
            e["time"] = managed.times[k]
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = vs.fields.to_fields_v1()
        if k.subresource:
            e["subresource"] = k.subresource
        if not e["manager"]:
            del e["manager"]
        entries.append(e)
    entries.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return entries


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update managers into "ancient-changes" once there are too many."""
    updaters = [k for k, vs in managed.sets.items() if not vs.applied]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda k: (int(_seconds(managed.times.get(k))), k.identifier()))
    first_by_version: dict[str, ManagerKey] = {}
    length = len(updaters)
    for k in updaters:
        if length <= limit:
            break
        vs = managed.sets[k]
        bucket = ManagerKey(ANCIENT_CHANGES, UPDATE, vs.api_version)
        first = first_by_version.get(vs.api_version)
        if first is None:
            first_by_version[vs.api_version] = k
            continue
        if k == bucket:  # upstream would fold the bucket into itself and drop it
            continue
        if bucket not in managed.sets:
            managed.sets[bucket] = managed.sets.pop(first)
            managed.times.pop(first, None)
        managed.sets[bucket] = VersionedSet(
            vs.fields.union(managed.sets[bucket].fields), vs.api_version, vs.applied
        )
        managed.times[bucket] = managed.times.get(k)
        del managed.sets[k]
        managed.times.pop(k, None)
        length -= 1
