"""The ClusterRole aggregation controller: fills ``rules`` of roles with an aggregationRule.

Like kube-controller-manager's ``clusterrole-aggregation`` controller: an aggregated role's
rules are the (de-duplicated) rules of every other ClusterRole matching one of its
``clusterRoleSelectors``, in name order. Changes to any ClusterRole re-run it; writes only
happen when the rules differ, so chains (``view`` -> ``edit`` -> ``admin``) converge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from luban.embedded.auth.rbac import CLUSTER_ROLES
from luban.embedded.store import Event, Store, Write
from luban.kube.selectors import LabelSelector, SelectorError, label_selector_from_dict

logger = logging.getLogger(__name__)


def _selectors(role: dict[str, Any]) -> list[LabelSelector] | None:
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    selectors: list[LabelSelector] = []
    for raw in rule.get("clusterRoleSelectors") or ():
        if not isinstance(raw, dict):
            continue
        with contextlib.suppress(SelectorError):
            selectors.append(label_selector_from_dict(raw))
    return selectors


class AggregationController:
    """Keeps aggregated ClusterRoles' rules in step with the roles they select."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Aggregate once now, then follow ClusterRole changes."""
        self.store.add_listener(self._on_events)
        await self.sync()
        self._task = asyncio.create_task(self._run(), name="luban-rbac-aggregation")

    async def stop(self) -> None:
        """Stop following changes."""
        self.store.remove_listener(self._on_events)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_events(self, events: list[Event]) -> None:
        if any(event.type_key == CLUSTER_ROLES for event in events):
            self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.sync()
            except Exception:
                logger.exception("ClusterRole aggregation failed")
                await asyncio.sleep(0.5)
                self._dirty.set()

    async def sync(self) -> None:
        """Rewrite every aggregated ClusterRole whose rules are out of date."""
        roles = self.store.list_objects(CLUSTER_ROLES)
        writes: list[Write] = []
        for stored in roles:
            selectors = _selectors(stored.obj)
            if selectors is None:
                continue
            name = stored.obj["metadata"]["name"]
            rules: list[Any] = []
            for other in roles:
                labels = other.obj["metadata"].get("labels") or {}
                if other.obj["metadata"]["name"] == name:
                    continue
                if not any(selector.matches(labels) for selector in selectors):
                    continue
                for rule in other.obj.get("rules") or ():
                    if rule not in rules:
                        rules.append(rule)
            if rules != (stored.obj.get("rules") or []):
                updated = stored.copy()
                updated["rules"] = rules
                writes.append(Write(CLUSTER_ROLES, "", name, updated))
        if writes:
            _, durable = self.store.write(writes)
            await durable
