"""The controllers an API server needs to be complete on its own.

- CRDs: serve established versions, set their conditions, and on deletion remove their
  objects before the CRD itself.
- Namespaces: give new ones a ``default`` ServiceAccount; empty terminating ones, then delete.
- Garbage collection: dependents of a deleted owner are deleted (background), deleted first
  (foreground, ``foregroundDeletion`` finalizer) or released (``orphan`` finalizer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from typing import Any

from luban.embedded.objects import now_rfc3339
from luban.embedded.registry import CRD_KEY, NAMESPACE_KEY, Registry, custom_types
from luban.embedded.store import Event, Store, Stored, Write
from luban.embedded.watch import WatchHub

logger = logging.getLogger(__name__)

CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACE_FINALIZER = "kubernetes"
RETRY_SECONDS = 0.5
_Ref = tuple[str, str, str]  # (type key, namespace, name)


def _condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": now_rfc3339(),
        "reason": reason,
        "message": message,
    }


class Controllers:
    """Runs the CRD, namespace and garbage-collection loops over store events."""

    def __init__(self, store: Store, registry: Registry, hub: WatchHub) -> None:
        self.store = store
        self.registry = registry
        self.hub = hub
        self._queue: asyncio.Queue[_Ref] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._dependents: dict[str, set[_Ref]] = defaultdict(set)  # owner uid -> dependents
        self._uids: dict[str, _Ref] = {}

    async def start(self) -> None:
        """Index what is stored, establish stored CRDs, and start the loop."""
        for tk in self.store.type_keys():
            for stored in self.store.list_objects(tk):
                self._index(tk, stored, None)
        for stored in self.store.list_objects(CRD_KEY):
            self._serve_crd(stored.obj)
        self.store.add_listener(self._on_events)
        self._task = asyncio.create_task(self._run(), name="luban-embedded-controllers")
        for tk in (CRD_KEY, NAMESPACE_KEY):
            for stored in self.store.list_objects(tk):
                self._queue.put_nowait((tk, "", stored.obj["metadata"]["name"]))
        for stored in self._all_deleting():
            meta = stored.obj["metadata"]
            self._queue.put_nowait(self._uids.get(meta.get("uid", ""), ("", "", "")))

    def _all_deleting(self) -> list[Stored]:
        return [
            s
            for tk in self.store.type_keys()
            for s in self.store.list_objects(tk)
            if s.obj["metadata"].get("deletionTimestamp") and tk not in (CRD_KEY, NAMESPACE_KEY)
        ]

    async def stop(self) -> None:
        """Stop the loop."""
        self.store.remove_listener(self._on_events)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- event intake ------------------------------------------------------------------------

    def _index(self, tk: str, stored: Stored | None, previous: Stored | None) -> None:
        if previous is not None:
            for ref in previous.obj["metadata"].get("ownerReferences") or []:
                self._dependents[ref.get("uid", "")].discard((tk, *_key(previous)))
            self._uids.pop(previous.obj["metadata"].get("uid", ""), None)
        if stored is not None:
            ref_key = (tk, *_key(stored))
            for ref in stored.obj["metadata"].get("ownerReferences") or []:
                self._dependents[ref.get("uid", "")].add(ref_key)
            self._uids[stored.obj["metadata"].get("uid", "")] = ref_key

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            deleted = event.type == "DELETED"
            self._index(event.type_key, None if deleted else event.stored, event.previous)
            meta = event.stored.obj["metadata"]
            if event.type_key in (CRD_KEY, NAMESPACE_KEY):
                self._queue.put_nowait((event.type_key, "", event.name))
            elif meta.get("deletionTimestamp") and not deleted:
                self._queue.put_nowait((event.type_key, event.namespace, event.name))
            if not deleted:
                # an owner that does not exist (any more) makes this a dangling dependent
                for owner in meta.get("ownerReferences") or ():
                    if owner.get("uid", "") not in self._uids:
                        self._queue.put_nowait(("uid", "", owner.get("uid", "")))
            if deleted:
                self._queue.put_nowait(("uid", "", meta.get("uid", "")))
                if event.namespace:
                    ns = self.store.get(NAMESPACE_KEY, "", event.namespace)
                    if ns is not None and ns.obj["metadata"].get("deletionTimestamp"):
                        self._queue.put_nowait((NAMESPACE_KEY, "", event.namespace))

    async def _run(self) -> None:
        while True:
            ref = await self._queue.get()
            try:
                retry = await self._reconcile(ref)
            except Exception:
                logger.exception("embedded controller failed on %s", ref)
                retry = True
            if retry:
                asyncio.get_running_loop().call_later(RETRY_SECONDS, self._queue.put_nowait, ref)

    async def _reconcile(self, ref: _Ref) -> bool:
        tk, namespace, name = ref
        if tk == "uid":
            return await self._collect_orphans(name)
        if tk == CRD_KEY:
            return await self._crd(name)
        if tk == NAMESPACE_KEY:
            return await self._namespace(name)
        stored = self.store.get(tk, namespace, name)
        if stored is not None and stored.obj["metadata"].get("deletionTimestamp"):
            return await self._owner_finalizers(tk, stored)
        return False

    async def _write(self, writes: list[Write]) -> None:
        if writes:
            _, durable = self.store.write(writes)
            await durable

    # -- CRDs --------------------------------------------------------------------------------

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec", {})
        group, plural = spec.get("group", ""), spec.get("names", {}).get("plural", "")
        if crd["metadata"].get("deletionTimestamp"):
            return
        self.registry.set_custom(group, plural, custom_types(crd))

    async def _crd(self, name: str) -> bool:
        stored = self.store.get(CRD_KEY, "", name)
        if stored is None:
            return False
        crd = stored.obj
        spec = crd.get("spec", {})
        group, plural = spec.get("group", ""), spec.get("names", {}).get("plural", "")
        if crd["metadata"].get("deletionTimestamp"):
            tk = f"{group}/{plural}"
            self.registry.set_custom(group, plural, [])
            self.hub.close_type(tk)
            victims = self.store.list_objects(tk)
            await self._write([Write(tk, *_key(s), None) for s in victims])
            final = stored.copy()
            final["metadata"]["finalizers"] = [
                f for f in final["metadata"].get("finalizers", []) if f != CRD_FINALIZER
            ]
            if final["metadata"]["finalizers"]:
                await self._write([Write(CRD_KEY, "", name, final)])
            else:
                await self._write([Write(CRD_KEY, "", name, None)])
            return False
        self._serve_crd(crd)
        updated = stored.copy()
        meta = updated["metadata"]
        if CRD_FINALIZER not in meta.setdefault("finalizers", []):
            meta["finalizers"].append(CRD_FINALIZER)
        status = updated.setdefault("status", {})
        storage = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), None)
        stored_versions = status.setdefault("storedVersions", [])
        if storage and storage not in stored_versions:
            stored_versions.append(storage)
        status["acceptedNames"] = spec.get("names", {})
        kinds = {c.get("type") for c in status.get("conditions", [])}
        conditions = status.setdefault("conditions", [])
        if "NamesAccepted" not in kinds:
            conditions.append(_condition("NamesAccepted", "NoConflicts", "no conflicts found"))
        if "Established" not in kinds:
            conditions.append(
                _condition(
                    "Established", "InitialNamesAccepted", "the initial names have been accepted"
                )
            )
        if updated != crd:
            await self._write([Write(CRD_KEY, "", name, updated)])
        return False

    # -- namespaces --------------------------------------------------------------------------

    async def _namespace(self, name: str) -> bool:
        stored = self.store.get(NAMESPACE_KEY, "", name)
        if stored is None:
            return False
        meta = stored.obj["metadata"]
        if not meta.get("deletionTimestamp"):
            if self.store.get("/serviceaccounts", name, "default") is None:
                await self._write(
                    [Write("/serviceaccounts", name, "default", _service_account(name))]
                )
            return False
        remaining = False
        writes: list[Write] = []
        for tk in self.store.type_keys():
            if tk in (NAMESPACE_KEY, CRD_KEY):
                continue
            for obj in self.store.list_objects(tk, name):
                remaining = True
                obj_meta = obj.obj["metadata"]
                if not obj_meta.get("finalizers"):
                    writes.append(Write(tk, name, obj_meta["name"], None))
                elif not obj_meta.get("deletionTimestamp"):
                    marked = obj.copy()
                    marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                    marked["metadata"]["deletionGracePeriodSeconds"] = 0
                    writes.append(Write(tk, name, obj_meta["name"], marked))
        await self._write(writes)
        if remaining:
            return any(self.store.list_objects(tk, name) for tk in self.store.type_keys()
                       if tk not in (NAMESPACE_KEY, CRD_KEY))  # fmt: skip
        current = self.store.get(NAMESPACE_KEY, "", name)
        if current is None:
            return False
        final = current.copy()
        spec_finalizers = [
            f for f in final.get("spec", {}).get("finalizers", []) if f != NAMESPACE_FINALIZER
        ]
        final.setdefault("spec", {})["finalizers"] = spec_finalizers
        if not spec_finalizers and not final["metadata"].get("finalizers"):
            await self._write([Write(NAMESPACE_KEY, "", name, None)])
        elif final != current.obj:
            await self._write([Write(NAMESPACE_KEY, "", name, final)])
        return False

    # -- garbage collection ------------------------------------------------------------------

    async def _collect_orphans(self, owner_uid: str) -> bool:
        writes: list[Write] = []
        for tk, namespace, name in list(self._dependents.get(owner_uid, ())):
            dependent = self.store.get(tk, namespace, name)
            if dependent is None:
                continue
            refs = dependent.obj["metadata"].get("ownerReferences") or []
            if all(self._uids.get(ref.get("uid", "")) is None for ref in refs):
                if dependent.obj["metadata"].get("finalizers"):
                    if not dependent.obj["metadata"].get("deletionTimestamp"):
                        marked = dependent.copy()
                        marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                        writes.append(Write(tk, namespace, name, marked))
                else:
                    writes.append(Write(tk, namespace, name, None))
        self._dependents.pop(owner_uid, None)
        await self._write(writes)
        return False

    async def _owner_finalizers(self, tk: str, stored: Stored) -> bool:
        meta = stored.obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        uid = meta.get("uid", "")
        dependents = [
            d
            for d in (self.store.get(*ref) for ref in self._dependents.get(uid, ()))
            if d is not None
        ]
        if "orphan" in finalizers:
            writes = []
            for dependent in dependents:
                released = dependent.copy()
                released["metadata"]["ownerReferences"] = [
                    r
                    for r in released["metadata"].get("ownerReferences", [])
                    if r.get("uid") != uid
                ]
                if not released["metadata"]["ownerReferences"]:
                    del released["metadata"]["ownerReferences"]
                writes.append(
                    Write(
                        self._uids[dependent.obj["metadata"]["uid"]][0], *_key(dependent), released
                    )
                )
            finalizers.remove("orphan")
            writes.append(self._without_finalizers(tk, stored, finalizers))
            await self._write(writes)
            return False
        if "foregroundDeletion" in finalizers:
            if dependents:
                writes = []
                for dependent in dependents:
                    ref = self._uids[dependent.obj["metadata"]["uid"]]
                    if dependent.obj["metadata"].get("finalizers"):
                        if not dependent.obj["metadata"].get("deletionTimestamp"):
                            marked = dependent.copy()
                            marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                            writes.append(Write(ref[0], ref[1], ref[2], marked))
                    else:
                        writes.append(Write(ref[0], ref[1], ref[2], None))
                await self._write(writes)
                return True
            finalizers.remove("foregroundDeletion")
            await self._write([self._without_finalizers(tk, stored, finalizers)])
        return False

    def _without_finalizers(self, tk: str, stored: Stored, finalizers: list[str]) -> Write:
        namespace, name = _key(stored)
        if not finalizers:
            return Write(tk, namespace, name, None)
        updated = stored.copy()
        updated["metadata"]["finalizers"] = finalizers
        return Write(tk, namespace, name, updated)


def _key(stored: Stored) -> tuple[str, str]:
    meta = stored.obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def _service_account(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "default",
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now_rfc3339(),
        },
    }
