"""The Resource API over HTTP: ``/kapi/v1/...`` and ``/kapis/{group}/{version}/...``.

Reads (list, get, watch, query, capabilities) are answered from the caches after checking the
caller's rights; writes are forwarded upstream as the caller (impersonation). Extensions own
their ``/kapis/{group}/{version}`` prefixes: the kernel router sends those to the extension
manager before this application sees them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from luban.auth.user import UserInfo
from luban.config import ResourcesConfig
from luban.kube.errors import APIError, forbidden, not_found
from luban.proxy.headers import impersonation_headers, text_headers
from luban.resources.authz import Authorizer, is_allowed
from luban.resources.capabilities import capabilities
from luban.resources.discovery import ResourceInfo
from luban.resources.engine import matcher, run
from luban.resources.fields import invalid
from luban.resources.manager import CacheManager
from luban.resources.query import Query, body_params, parse_query
from luban.resources.store import Store
from luban.resources.upstream import UpstreamSource
from luban.resources.watch import EventFormat, WatchResponse, stream
from luban.status import status_body

logger = logging.getLogger("luban.resources")

USER_KEY = "luban.user"
RV_HEADER = "X-Resource-Version"
ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))
_FORWARDED_REQUEST = ("content-type", "accept")
_FORWARDED_RESPONSE = ("content-type", "warning")


@dataclass(frozen=True)
class Target:
    """What a Resource API path names."""

    group: str
    version: str
    resource: str
    namespace: str | None
    name: str
    subresource: str


def parse_target(path: str) -> Target | None:
    """Split a ``/kapi`` or ``/kapis`` path; None when it names no resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "kapi":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "kapis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(group, version, rest[0], namespace,
                  rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else "")  # fmt: skip


def _json(body: object, headers: dict[str, str] | None = None, code: int = 200) -> Response:
    return Response(orjson.dumps(body), code, headers, media_type="application/json")


def _error(exc: APIError) -> Response:
    return _json(exc.status(), exc.headers, exc.code)


class ResourceAPI:
    """The ASGI application serving ``/kapi`` and ``/kapis``."""

    def __init__(
        self,
        caches: CacheManager,
        authorizer: Authorizer,
        source: UpstreamSource,
        config: ResourcesConfig,
    ) -> None:
        self.caches = caches
        self.authorizer = authorizer
        self.source = source
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        kapis = scope["path"].startswith("/kapis/")
        scope["luban.route"] = "/kapis/{group}/{version}/**" if kapis else "/kapi/v1/**"
        request = Request(scope, receive)
        try:
            response = await self._handle(request)
        except APIError as exc:
            response = _error(exc)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response | WatchResponse:
        target = parse_target(request.url.path)
        info = None
        if target is not None:
            info = await self.caches.resolve(target.group, target.version, target.resource)
        if target is None or info is None or (target.namespace is not None and not info.namespaced):
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        user: UserInfo = request.scope.get(USER_KEY) or ANONYMOUS
        method = request.method
        name, sub = target.name, target.subresource
        if method == "POST" and name == "query" and not sub:
            body = await request.body()
            try:
                document = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise invalid("body", body[:64].decode(errors="replace"), "not JSON") from None
            return await self._list(request, user, info, target, parse_query(body_params(document)))
        if method == "GET" and not sub:
            if name:
                return await self._get(user, info, target)
            params = parse_qsl(request.url.query, keep_blank_values=True)
            if any(k == "capabilities" for k, _ in params):
                return _json(capabilities(info))
            return await self._list(request, user, info, target, parse_query(params))
        return await self._forward(request, user, info, target)

    async def _authorize(self, user: UserInfo, verb: str, info: ResourceInfo,
                         namespace: str, name: str = "") -> None:  # fmt: skip
        decision = await self.authorizer.allowed(
            user, verb=verb, resource=info.resource, group=info.group,
            namespace=namespace, name=name,
        )  # fmt: skip
        if not is_allowed(decision):
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            why = f'User "{user.name}" cannot {verb} resource "{info.resource}"'
            if info.group:
                why += f' in API group "{info.group}"'
            raise forbidden(info.resource, info.group, name, f"{why} {scope}")

    async def _store(self, info: ResourceInfo) -> Store:
        if "list" not in info.verbs or "watch" not in info.verbs:
            raise APIError(405, f"{info.label} cannot be listed and watched, so it is not cached",
                           "MethodNotAllowed")  # fmt: skip
        return await self.caches.store(info)

    async def _get(self, user: UserInfo, info: ResourceInfo, target: Target) -> Response:
        namespace = target.namespace or ""
        await self._authorize(user, "get", info, namespace, target.name)
        store = await self._store(info)
        entry = store.entries.get((namespace, target.name))
        if entry is None:
            raise not_found(info.resource, info.group, target.name)
        return Response(entry.raw, media_type="application/json",
                        headers={RV_HEADER: str(store.resource_version)})  # fmt: skip

    async def _list(
        self, request: Request, user: UserInfo, info: ResourceInfo, target: Target, query: Query
    ) -> Response | WatchResponse:
        verb = "watch" if query.watch else "list"
        if target.namespace is None and info.namespaced and query.namespaces is not None:
            for namespace in sorted(query.namespaces):
                await self._authorize(user, verb, info, namespace)
        else:
            await self._authorize(user, verb, info, target.namespace or "")
        store = await self._store(info)
        if query.watch:
            return self._watch(request, store, info, target, query)
        if query.resource_version is not None and query.resource_version > store.resource_version:
            seen = await store.wait_for(query.resource_version,
                                        self.config.read_your_writes_timeout_seconds)  # fmt: skip
            if not seen:
                raise APIError(504, f"Too large resource version: {query.resource_version}, "
                               f"current: {store.resource_version}", "Timeout",
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})  # fmt: skip
        result = run(store, query, target.namespace)
        rv = str(result.resource_version)
        head = b'{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"%s"},"items":[' % (
            rv.encode()
        )
        body = head + b",".join(e.raw for e in result.entries) + b'],"totalItems":%d' % result.total
        if query.summary:
            body += b',"summary":' + orjson.dumps(result.summary)
        return Response(body + b"}", media_type="application/json", headers={RV_HEADER: rv})

    def _watch(
        self, request: Request, store: Store, info: ResourceInfo, target: Target, query: Query
    ) -> WatchResponse:
        sse = "text/event-stream" in request.headers.get("accept", "")
        since = query.resource_version
        if since is None and sse and (last := request.headers.get("last-event-id")):
            since = int(last) if last.isdigit() else None
        store.ensure_paths(query.paths())  # the filter reads them from every entry
        events = stream(
            store, info, matcher(query, target.namespace), since, EventFormat(sse),
            bookmarks=query.bookmarks, seconds=query.timeout_seconds,
            backlog=self.config.watcher_backlog,
        )  # fmt: skip
        media = "text/event-stream" if sse else "application/json"
        headers = {"Cache-Control": "no-cache", RV_HEADER: str(store.resource_version)}
        return WatchResponse(events, media, headers)

    async def _forward(
        self, request: Request, user: UserInfo, info: ResourceInfo, target: Target
    ) -> Response:
        """Anything not answered from the cache goes upstream, as the caller."""
        upstream = self.source()
        if upstream is None or upstream.session is None:
            raise APIError(503, "no upstream API server", "ServiceUnavailable")
        path = info.path(target.namespace, quote(target.name), quote(target.subresource))
        if request.url.query:
            path += "?" + request.url.query
        headers = [(k, v) for k, v in request.headers.items() if k in _FORWARDED_REQUEST]
        headers += text_headers(impersonation_headers(user))
        headers.append(("Accept-Encoding", "identity"))
        if authorization := await upstream.credentials.authorization():
            headers.append(("Authorization", authorization))
        try:
            async with upstream.session.request(
                request.method, upstream.server + path, data=await request.body(),
                headers=headers, timeout=aiohttp.ClientTimeout(total=60),
            ) as answer:  # fmt: skip
                body = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() in _FORWARDED_RESPONSE}
                return Response(body, answer.status, kept)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return _json(status_body(502, f"upstream unreachable ({exc.__class__.__name__})"),
                         code=502)  # fmt: skip
