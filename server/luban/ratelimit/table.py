"""The policy index the hot path consults: literal path prefixes, then a per-path cache."""

from __future__ import annotations

from collections.abc import Sequence

from luban.ratelimit.policy import Policy

MAX_CACHED_PATHS = 8192
MAX_CACHED_PATH_LENGTH = 512


class PolicyTable:
    """An immutable snapshot of the active policies, indexed for cheap lookups.

    Policies are indexed by the literal segments their pattern starts with; a path's
    candidates are looked up under each of its own prefixes and tested once, and the
    result is remembered per path, so a repeated path costs one dict lookup.
    """

    __slots__ = ("_anywhere", "_by_prefix", "_cache", "_depth", "_exempt", "_order", "policies")

    def __init__(self, policies: Sequence[Policy], exempt_paths: Sequence[str]) -> None:
        self.policies = tuple(policies)
        self._exempt = frozenset(exempt_paths)
        self._anywhere = tuple(p for p in policies if not p.pattern.prefix)
        by_prefix: dict[str, list[Policy]] = {}
        for policy in policies:
            if policy.pattern.prefix:
                by_prefix.setdefault(policy.pattern.prefix, []).append(policy)
        self._by_prefix = {prefix: tuple(found) for prefix, found in by_prefix.items()}
        self._depth = max((prefix.count("/") for prefix in by_prefix), default=0)
        self._cache: dict[str, tuple[Policy, ...]] = {}
        self._order = {id(p): index for index, p in enumerate(self.policies)}

    def for_path(self, path: str) -> tuple[Policy, ...]:
        """Policies whose path pattern matches ``path`` (methods and request info not yet)."""
        found = self._cache.get(path)
        if found is not None:
            return found
        found = self._match(path)
        if len(path) <= MAX_CACHED_PATH_LENGTH:
            if len(self._cache) >= MAX_CACHED_PATHS:
                self._cache.clear()  # a flood of distinct paths: start over, stay bounded
            self._cache[path] = found
        return found

    def _match(self, path: str) -> tuple[Policy, ...]:
        if path in self._exempt or not self.policies:
            return ()
        candidates = list(self._anywhere)
        end = 0
        for _ in range(self._depth):
            end = path.find("/", end + 1)
            prefix = path if end < 0 else path[:end]
            candidates += self._by_prefix.get(prefix, ())
            if end < 0:
                break
        order = self._order
        candidates.sort(key=lambda p: order[id(p)])
        return tuple(p for p in candidates if p.pattern.test(path))

    def candidates(self, path: str, method: str) -> tuple[Policy, ...]:
        """Policies whose pattern and methods match (request-info conditions still to check)."""
        return tuple(p for p in self.for_path(path) if not p.methods or method in p.methods)
