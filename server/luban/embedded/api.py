"""The resource endpoints of the embedded cluster: CRUD, list, watch and subresources."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from luban.embedded.bodies import media_type, read_body
from luban.embedded.defaults import DefaultsContext, apply_defaults, normalize
from luban.embedded.fieldvalidation import (
    FieldCheck,
    apply_duplicates,
    field_validation,
    load_apply,
    patch_check,
    read_checked_object,
)
from luban.embedded.listing import (
    Snapshots,
    decode_continue,
    encode_continue,
    expired_continue,
    parse_limit,
    parse_list_query,
)
from luban.embedded.objects import (
    carry_over,
    check_type_meta,
    metadata_of,
    now_rfc3339,
    stamp_create,
)
from luban.embedded.podstreams import POD_STREAMS, pod_stream
from luban.embedded.registry import CRD_KEY, NAMESPACE_KEY, Registry, type_key
from luban.embedded.store import Event, Store, Stored, Write
from luban.embedded.table import build_table, table_version, wants_table
from luban.embedded.watch import WatchHub
from luban.kube import apply as ssa
from luban.kube.errors import (
    MODIFIED,
    APIError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    gone,
    method_not_supported,
    not_found,
)
from luban.kube.patch import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
    supports_strategic_merge,
)
from luban.kube.patchmeta import list_strategy, list_strategy_from_schema
from luban.kube.requestinfo import RequestInfo
from luban.kube.resources import ResourceType
from luban.kube.schema import apply_defaults as schema_defaults
from luban.kube.schema import prune_with_paths, validate, validate_crd
from luban.kube.strict import prune_with_unknown
from luban.kube.validation import (
    FieldError,
    invalid_status,
    name_rule_for,
    validate_object_meta,
    validate_object_meta_update,
)

JSON = "application/json"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
DEFAULT_WATCH_TIMEOUT = 1800
BOOKMARK_INTERVAL = 5.0


@dataclass
class ClusterOptions:
    """Limits and knobs of the embedded API server."""

    max_body_bytes: int = 3 * 1024 * 1024
    watch_window: int = 10_000
    bookmark_interval: float = BOOKMARK_INTERVAL
    min_watch_timeout: float = DEFAULT_WATCH_TIMEOUT
    extra: dict[str, Any] = field(default_factory=dict)


class InvalidError(APIError):
    """A 422 whose body is the full ``Invalid`` Status with causes."""

    def __init__(self, rt: ResourceType, name: str, errors: list[FieldError]) -> None:
        body = invalid_status(rt.kind, rt.group, name, errors)
        super().__init__(422, body["message"], "Invalid", body.get("details"))
        self.body = body

    def status(self) -> dict[str, Any]:
        """The exact ``Invalid`` Status."""
        return self.body


def _json_response(body: bytes, code: int = 200) -> Response:
    return Response(body, status_code=code, media_type=JSON)


def _status_success(rt: ResourceType, name: str, uid: str) -> bytes:
    details: dict[str, Any] = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.resource
    details["uid"] = uid
    return orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


class ResourceAPI:
    """Serves ``/api/v1/...`` and ``/apis/{group}/{version}/...`` resource requests."""

    def __init__(
        self, store: Store, hub: WatchHub, registry: Registry, options: ClusterOptions
    ) -> None:
        self.store = store
        self.hub = hub
        self.registry = registry
        self.options = options
        self.defaults = DefaultsContext()
        self.snapshots = Snapshots()
        self.stopping = asyncio.Event()

    # -- entry point -------------------------------------------------------------------------

    async def handle(self, request: Request, info: RequestInfo) -> Response:
        """Answer one resource request."""
        rt = self.registry.get(info.api_group, info.api_version, info.resource)
        if rt is None:
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        namespace = info.namespace if rt.namespaced else ""
        if not rt.namespaced and info.namespace and info.resource != "namespaces":
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        if rt.namespaced and not namespace and info.verb not in ("list", "watch"):
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        sub = info.subresource
        if sub and sub not in rt.subresources:
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        verb = info.verb
        if sub in ("status", "scale", "finalize"):
            return await self._subresource(request, rt, namespace, info.name, sub, verb)
        if sub in POD_STREAMS and rt.group == "" and rt.resource == "pods":
            pod = self._lookup(rt, namespace, info.name).obj
            return pod_stream(pod, sub, request.query_params, self._node)
        if sub:
            raise method_not_supported(rt.resource + "/" + sub, rt.group, verb)
        if verb == "get":
            return self._get(request, rt, namespace, info.name)
        if verb == "list":
            return self._list(request, rt, namespace or None)
        if verb == "watch":
            return self._watch(request, rt, namespace or None, info.name)
        if verb == "create":
            return await self._create(request, rt, namespace)
        if verb == "update":
            return await self._update(request, rt, namespace, info.name)
        if verb == "patch":
            return await self._patch(request, rt, namespace, info.name)
        if verb == "delete":
            return await self._delete(request, rt, namespace, info.name)
        if verb == "deletecollection":
            return await self._delete_collection(request, rt, namespace or None)
        raise method_not_supported(rt.resource, rt.group, verb)

    # -- encoding ----------------------------------------------------------------------------

    def _raw(self, stored: Stored, rt: ResourceType) -> bytes:
        if stored.obj.get("apiVersion") == rt.api_version:
            return stored.raw
        converted = stored.copy()
        converted["apiVersion"] = rt.api_version
        return orjson.dumps(converted)

    def _object(self, stored: Stored, rt: ResourceType) -> dict[str, Any]:
        if stored.obj.get("apiVersion") == rt.api_version:
            return stored.obj
        converted = stored.copy()
        converted["apiVersion"] = rt.api_version
        return converted

    def _respond(
        self, request: Request, rt: ResourceType, stored: Stored, code: int = 200
    ) -> Response:
        accept = request.headers.get("accept", "")
        if wants_table(accept):
            table = build_table(
                rt,
                [self._object(stored, rt)],
                {"resourceVersion": str(stored.rv)},
                request.query_params.get("includeObject", "Metadata"),
                api_version=f"meta.k8s.io/{table_version(accept)}",
            )
            return _json_response(orjson.dumps(table), code)
        if _wants_yaml(accept):
            return Response(
                yaml.safe_dump(self._object(stored, rt), sort_keys=False),
                code,
                media_type="application/yaml",
            )
        return _json_response(self._raw(stored, rt), code)

    # -- reads -------------------------------------------------------------------------------

    def _lookup(self, rt: ResourceType, namespace: str, name: str) -> Stored:
        stored = self.store.get(type_key(rt), namespace, name)
        if stored is None:
            raise not_found(rt.resource, rt.group, name)
        return stored

    def _node(self, name: str) -> dict[str, Any] | None:
        stored = self.store.get("/nodes", "", name)
        return stored.obj if stored is not None else None

    def _get(self, request: Request, rt: ResourceType, namespace: str, name: str) -> Response:
        return self._respond(request, rt, self._lookup(rt, namespace, name))

    def _list(self, request: Request, rt: ResourceType, namespace: str | None) -> Response:
        params = request.query_params
        query = parse_list_query(rt, params)
        limit = parse_limit(params)
        token = params.get("continue", "")
        self._check_list_rv(params)
        if token:
            snapshot_id, rv, offset = decode_continue(token)
            held = self.snapshots.get(snapshot_id)
            if held is None:
                raise expired_continue()
            rv, items = held
        else:
            rv = self.store.resource_version
            if query.name is not None and namespace is not None:
                one = self.store.get(type_key(rt), namespace, query.name)
                candidates = [one] if one is not None else []
            else:
                candidates = self.store.list_objects(type_key(rt), namespace)
            items = [s for s in candidates if query.predicate(s.obj)]
            offset = 0
        page = items[offset : offset + limit] if limit else items[offset:]
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            snapshot_id = (token and decode_continue(token)[0]) or self.snapshots.hold(items, rv)
            metadata["continue"] = encode_continue(snapshot_id, rv, offset + limit)
            metadata["remainingItemCount"] = len(items) - offset - limit
        accept = request.headers.get("accept", "")
        if wants_table(accept):
            table = build_table(
                rt,
                [self._object(s, rt) for s in page],
                metadata,
                params.get("includeObject", "Metadata"),
                api_version=f"meta.k8s.io/{table_version(accept)}",
            )
            return _json_response(orjson.dumps(table))
        head = orjson.dumps(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata}
        )
        if _wants_yaml(accept):
            document = orjson.loads(head)
            document["items"] = [self._object(s, rt) for s in page]
            return Response(
                yaml.safe_dump(document, sort_keys=False), media_type="application/yaml"
            )
        body = b"".join(
            (head[:-1], b',"items":[', b",".join(self._raw(s, rt) for s in page), b"]}")
        )
        return _json_response(body)

    def _check_list_rv(self, params: Any) -> None:
        raw = params.get("resourceVersion", "")
        match = params.get("resourceVersionMatch", "")
        if match and match not in ("Exact", "NotOlderThan"):
            raise bad_request(f"resourceVersionMatch: Unsupported value: {match!r}")
        if match and not raw:
            raise bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if not raw or raw == "0":
            return
        try:
            wanted = int(raw)
        except ValueError:
            raise bad_request(f"invalid resource version: {raw!r}") from None
        current = self.store.resource_version
        if wanted > current:
            raise APIError(
                504,
                f"Too large resource version: {wanted}, current: {current}",
                "Timeout",
                {
                    "causes": [
                        {
                            "reason": "ResourceVersionTooLarge",
                            "message": "Too large resource version",
                        }
                    ],
                    "retryAfterSeconds": 1,
                },
            )
        if match == "Exact" and wanted != current:
            raise gone(f"too old resource version: {wanted} ({current})")

    # -- watch -------------------------------------------------------------------------------

    def _watch(
        self, request: Request, rt: ResourceType, namespace: str | None, name: str
    ) -> Response:
        params = request.query_params
        query = parse_list_query(rt, params, name)
        parse_limit(params)  # validated like the real server's ListOptions
        raw_rv = params.get("resourceVersion", "")
        since: int | None = None
        error: bytes | None = None
        if raw_rv not in ("", "0"):
            try:
                since = int(raw_rv)
            except ValueError:
                raise bad_request(f"invalid resource version: {raw_rv!r}") from None
            if since < self.store.oldest_watchable:
                status = gone(f"too old resource version: {since} ({self.store.oldest_watchable})")
                error = orjson.dumps({"type": "ERROR", "object": status.status()}) + b"\n"
        timeout_raw = params.get("timeoutSeconds", "")
        try:
            timeout = (
                float(timeout_raw)
                if timeout_raw
                else self.options.min_watch_timeout * (1 + random.random())  # noqa: S311
            )
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds: {timeout_raw!r}") from None
        bookmarks = _truthy(params.get("allowWatchBookmarks"))
        send_initial = _truthy(params.get("sendInitialEvents"))
        if send_initial and not bookmarks:
            raise bad_request("sendInitialEvents requires allowWatchBookmarks=true")
        if send_initial:
            since, error = None, None  # a streaming list: current state, then the end bookmark
        accept = request.headers.get("accept", "")
        as_table = wants_table(accept)
        table_api = f"meta.k8s.io/{table_version(accept)}" if as_table else ""
        if error is not None:
            return StreamingResponse(_once(error), media_type=JSON)
        initial: list[Stored] = []
        if since is None:
            if query.name is not None and namespace is not None:
                one = self.store.get(type_key(rt), namespace, query.name)
                initial = [one] if one is not None else []
            else:
                initial = self.store.list_objects(type_key(rt), namespace)
        watcher = self.hub.subscribe(type_key(rt), namespace, query.predicate, since, initial)
        initial_end_rv = self.store.resource_version if send_initial else None
        hub, store, options, stopping = self.hub, self.store, self.options, self.stopping
        first_table = [True]

        def encode(kind: str, stored: Stored) -> bytes:
            if as_table:
                table = build_table(
                    rt,
                    [self._object(stored, rt)],
                    {"resourceVersion": str(stored.rv)},
                    params.get("includeObject", "Metadata"),
                    api_version=table_api,
                )
                if not first_table[0]:
                    table["columnDefinitions"] = []
                first_table[0] = False
                return orjson.dumps({"type": kind, "object": table}) + b"\n"
            return b'{"type":"' + kind.encode() + b'","object":' + self._raw(stored, rt) + b"}\n"

        def drain() -> tuple[list[bytes], bool]:
            chunks: list[bytes] = []
            while not watcher.queue.empty():
                item = watcher.queue.get_nowait()
                if item is None:
                    return chunks, True
                chunks.append(encode(*item))
            return chunks, False

        async def stream() -> AsyncIterator[bytes]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            last_bookmark = loop.time()
            try:
                chunks, ended = drain()
                if initial_end_rv is not None:
                    chunks.append(_bookmark(rt, initial_end_rv, initial_end=True))
                if chunks:
                    yield b"".join(chunks)
                while not ended:
                    remaining = deadline - loop.time()
                    if remaining <= 0 or stopping.is_set():
                        return
                    try:
                        item = await asyncio.wait_for(watcher.queue.get(), min(remaining, 1.0))
                    except TimeoutError:
                        now = loop.time()
                        if bookmarks and now - last_bookmark >= options.bookmark_interval:
                            last_bookmark = now
                            yield _bookmark(rt, store.resource_version)
                        continue
                    if item is None:
                        return
                    chunks, ended = drain()
                    yield encode(*item) + b"".join(chunks)
            finally:
                hub.unsubscribe(watcher)

        return StreamingResponse(stream(), media_type=JSON)

    # -- writes ------------------------------------------------------------------------------

    def _manager(self, request: Request) -> str:
        manager = request.query_params.get("fieldManager", "")
        if len(manager) > 128:
            raise bad_request("fieldManager: Too long: may not be more than 128 bytes")
        return manager or ssa.default_manager(request.headers.get("user-agent", ""))

    def _strategy(self, rt: ResourceType) -> Callable[[tuple[str, ...]], Any]:
        if rt.custom and rt.schema is not None:
            schema = rt.schema
            return lambda path: list_strategy_from_schema(schema, path)
        return lambda path: list_strategy(rt.api_version, rt.kind, path)

    def _fields(self, rt: ResourceType, sub: str) -> dict[str, Any]:
        """Field-ownership options: schema-driven map kinds for CRs, status reset rules."""
        options: dict[str, Any] = {"subresource": sub}
        if rt.custom and rt.schema is not None:
            options["map_kind"] = ssa.map_kind_from_schema(rt.schema)
        if rt.has_status and not sub:
            options["reset_fields"] = (("status",),)
        return options

    def _dry_run(self, request: Request) -> bool:
        values = request.query_params.getlist("dryRun")
        for value in values:
            if value != "All":
                raise bad_request(f'dryRun: Unsupported value: {value!r}: supported values: "All"')
        return bool(values)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACE_KEY, "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns.obj["metadata"].get("deletionTimestamp"):
            raise forbidden(
                rt.resource,
                rt.group,
                "",
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )

    def _validate(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, check: FieldCheck
    ) -> list[str]:
        """Validate ``obj`` (dropping unknown fields, defaulting custom resources).

        ``check`` carries the request's fieldValidation: unknown (and duplicate) fields are an
        error under ``Strict`` (at decode time like the real server), a warning under ``Warn``
        (the default) and silently dropped under ``Ignore``. Returns the warnings.
        """
        unknown: list[str] = []
        if not rt.custom:
            pruned_builtin, unknown = prune_with_unknown(rt.api_version, rt.kind, obj)
            obj.clear()
            obj.update(pruned_builtin)
        elif rt.schema is not None:
            pruned_custom, unknown = prune_with_paths(obj, rt.schema)
            obj.clear()
            obj.update(schema_defaults(pruned_custom, rt.schema))
        warnings = check.report(rt, unknown)
        meta = metadata_of(obj)
        name = str(meta.get("name") or meta.get("generateName") or "")
        errors: list[FieldError] = []
        if old is None:
            errors += validate_object_meta(
                meta, rt.namespaced, name_rule_for(rt.group, rt.resource)
            )
        else:
            errors += validate_object_meta_update(meta, old["metadata"])
        if rt.custom and rt.schema is not None:
            errors += validate(
                {k: v for k, v in obj.items() if k != "metadata"}, _without_meta(rt.schema)
            )
        if type_key(rt) == CRD_KEY:
            errors += validate_crd(obj)
        if errors:
            raise InvalidError(rt, name, errors)
        return warnings

    async def _commit(self, writes: list[Write], dry_run: bool) -> list[Event]:
        if dry_run:
            return []
        events, durable = self.store.write(writes)
        await durable
        return events

    async def _create(self, request: Request, rt: ResourceType, namespace: str) -> Response:
        obj, check = await read_checked_object(request, self.options.max_body_bytes)
        dry_run = self._dry_run(request)
        check_type_meta(obj, rt)
        normalize(rt.group, rt.kind, obj)
        stamp_create(obj, rt, namespace)
        warnings = self._validate(rt, obj, None, check)
        name = obj["metadata"]["name"]
        self._check_namespace(rt, namespace)
        if self.store.get(type_key(rt), namespace, name) is not None:
            raise already_exists(rt.resource, rt.group, name)
        if not rt.custom:
            apply_defaults(rt.group, rt.kind, obj, self.defaults)
        obj = ssa.record_update(
            None, obj, self._manager(request), "Update", self._strategy(rt), **self._fields(rt, "")
        )
        if dry_run:
            return _with_warnings(_json_response(orjson.dumps(obj), 201), warnings)
        events = await self._commit([Write(type_key(rt), namespace, name, obj)], False)
        return _with_warnings(self._respond(request, rt, events[0].stored, 201), warnings)

    async def _update(
        self, request: Request, rt: ResourceType, namespace: str, name: str, sub: str = ""
    ) -> Response:
        obj, check = await read_checked_object(request, self.options.max_body_bytes)
        check_type_meta(obj, rt)
        meta = metadata_of(obj)
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["name"] = name
        return await self._store_update(
            request, rt, namespace, name, obj, sub, self._manager(request), check=check
        )

    async def _store_update(
        self,
        request: Request,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        sub: str,
        manager: str,
        operation: str = "Update",
        check: FieldCheck | None = None,
    ) -> Response:
        dry_run = self._dry_run(request)
        old = self._lookup(rt, namespace, name)
        wanted_rv = obj.get("metadata", {}).get("resourceVersion")
        if wanted_rv and str(wanted_rv) != str(old.rv):
            raise conflict(rt.resource, rt.group, name, MODIFIED)
        # An unconditional update (no resourceVersion) applies to the current version.
        metadata_of(obj)["resourceVersion"] = str(old.rv)
        normalize(rt.group, rt.kind, obj)
        if not rt.custom and sub != "status":
            apply_defaults(rt.group, rt.kind, obj, self.defaults, old.obj)
        new = carry_over(obj, old.copy(), rt, sub)
        check = check or FieldCheck(field_validation(request))
        warnings = self._validate(rt, new, old.obj, check)
        if operation == "Update":
            new = ssa.record_update(
                old.obj, new, manager, "Update", self._strategy(rt), **self._fields(rt, sub)
            )
        if type_key(rt) == CRD_KEY and sub != "status":
            new.setdefault("status", copy.deepcopy(old.obj.get("status", {})))
        writes = self._finalize_if_done(rt, namespace, name, new)
        unchanged = _same_content(new, old.obj)
        if unchanged:
            return _with_warnings(self._respond(request, rt, old), warnings)
        if dry_run:
            return _with_warnings(_json_response(orjson.dumps(new)), warnings)
        events = await self._commit(writes, False)
        if events[0].type == "DELETED":
            return _with_warnings(self._respond(request, rt, events[0].stored), warnings)
        return _with_warnings(self._respond(request, rt, events[0].stored), warnings)

    def _finalize_if_done(
        self, rt: ResourceType, namespace: str, name: str, new: dict[str, Any]
    ) -> list[Write]:
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return [Write(type_key(rt), namespace, name, None)]
        return [Write(type_key(rt), namespace, name, new)]

    async def _patch(
        self, request: Request, rt: ResourceType, namespace: str, name: str, sub: str = ""
    ) -> Response:
        kind = PATCH_TYPES.get(media_type(request))
        if kind is None:
            raise APIError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(PATCH_TYPES)}",
                "UnsupportedMediaType",
            )
        validation = field_validation(request)
        body = await read_body(request, self.options.max_body_bytes)
        manager = self._manager(request)
        if kind == "apply":
            return await self._apply(request, rt, namespace, name, body, manager, sub)
        try:
            patch = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"error decoding patch: {exc}") from None
        old = self._lookup(rt, namespace, name)
        current = self._object(old, rt)
        try:
            if kind == "json":
                patched = json_patch(copy.deepcopy(current), patch)
            elif kind == "merge":
                if not isinstance(patch, dict):
                    raise bad_request("error decoding patch: a merge patch must be a JSON object")
                patched = json_merge_patch(current, patch)
            else:
                if rt.custom or not supports_strategic_merge(rt.api_version, rt.kind):
                    raise APIError(
                        415,
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml",
                        "UnsupportedMediaType",
                    )
                if not isinstance(patch, dict):
                    raise bad_request(
                        "error decoding patch: a strategic merge patch must be a JSON object"
                    )
                patched = strategic_merge_patch(current, patch, rt.api_version, rt.kind)
        except PatchError as exc:
            if exc.code == 400:
                raise bad_request(str(exc)) from None
            raise APIError(exc.code, str(exc), "Invalid" if exc.code == 422 else None) from None
        if not isinstance(patched, dict):
            raise bad_request("the patch produced something that is not an object")
        check_type_meta(patched, rt)
        meta = metadata_of(patched)
        if meta.get("name") != name:
            raise bad_request(
                "metadata.name: Invalid value: the name may not be changed by a patch"
            )
        check = patch_check(validation, kind, body, patch, patched)
        return await self._store_update(
            request, rt, namespace, name, patched, sub, manager, check=check
        )

    async def _apply(
        self,
        request: Request,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: bytes,
        manager: str,
        sub: str,
    ) -> Response:
        if not request.query_params.get("fieldManager"):
            raise bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests"
            )
        validation = field_validation(request)
        try:
            applied, repeated = load_apply(body, validation)
        except yaml.YAMLError:
            raise bad_request(
                "error decoding YAML: the apply configuration is not valid YAML"
            ) from None
        if not isinstance(applied, dict):
            raise bad_request("the apply configuration must be an object")
        check_type_meta(applied, rt)
        meta = metadata_of(applied)
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        meta["name"] = name
        force = _truthy(request.query_params.get("force"))
        old = self.store.get(type_key(rt), namespace, name)
        try:
            result = ssa.server_side_apply(
                self._object(old, rt) if old else None,
                applied,
                manager,
                force,
                self._strategy(rt),
                **self._fields(rt, sub),
            )
        except ssa.ApplyBadRequest as exc:
            raise bad_request(str(exc)) from None
        except ssa.ApplyConflict as exc:
            conflict_status = exc.status()
            raise APIError(
                409, conflict_status["message"], "Conflict", conflict_status.get("details")
            ) from None
        repeated_warnings = apply_duplicates(validation, repeated)
        if old is None:
            dry_run = self._dry_run(request)
            normalize(rt.group, rt.kind, result)
            stamp_create(result, rt, namespace)
            warnings = repeated_warnings + self._validate(rt, result, None, FieldCheck(validation))
            self._check_namespace(rt, namespace)
            if not rt.custom:
                apply_defaults(rt.group, rt.kind, result, self.defaults)
            if dry_run:
                return _with_warnings(_json_response(orjson.dumps(result), 201), warnings)
            events = await self._commit([Write(type_key(rt), namespace, name, result)], False)
            return _with_warnings(self._respond(request, rt, events[0].stored, 201), warnings)
        result["metadata"]["resourceVersion"] = ""
        response = await self._store_update(
            request, rt, namespace, name, result, sub, manager, "Apply", FieldCheck(validation)
        )
        return _with_warnings(response, repeated_warnings)

    # -- delete ------------------------------------------------------------------------------

    async def _delete_options(self, request: Request) -> dict[str, Any]:
        body = await read_body(request, self.options.max_body_bytes)
        options: dict[str, Any] = {}
        if body.strip():
            from luban.embedded.bodies import parse_document

            parsed = parse_document(body, media_type(request))
            if not isinstance(parsed, dict):
                raise bad_request("the body of a delete request must be DeleteOptions")
            options = parsed
        params = request.query_params
        if "propagationPolicy" in params:
            options["propagationPolicy"] = params["propagationPolicy"]
        if "gracePeriodSeconds" in params:
            options["gracePeriodSeconds"] = params["gracePeriodSeconds"]
        if params.getlist("dryRun"):
            options["dryRun"] = params.getlist("dryRun")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        if options.get("orphanDependents") is True and policy is None:
            options["propagationPolicy"] = "Orphan"
        return options

    def _deletion_writes(
        self, rt: ResourceType, stored: Stored, options: dict[str, Any]
    ) -> list[Write]:
        meta = stored.obj["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(
                rt.resource,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(stored.rv):
            raise conflict(
                rt.resource,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {stored.rv}",
            )
        policy = options.get("propagationPolicy")
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        graceful = type_key(rt) in (NAMESPACE_KEY, CRD_KEY)
        if not finalizers and not graceful:
            return [Write(type_key(rt), namespace, name, None)]
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or []):
            return []
        updated = stored.copy()
        updated["metadata"]["finalizers"] = finalizers
        updated["metadata"].setdefault("deletionTimestamp", now_rfc3339())
        updated["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        if type_key(rt) == NAMESPACE_KEY:
            updated.setdefault("status", {})["phase"] = "Terminating"
        if type_key(rt) == CRD_KEY:
            updated["metadata"]["finalizers"] = [
                *finalizers,
                *(
                    ["customresourcecleanup.apiextensions.k8s.io"]
                    if "customresourcecleanup.apiextensions.k8s.io" not in finalizers
                    else []
                ),
            ]
        return [Write(type_key(rt), namespace, name, updated)]

    async def _delete(
        self, request: Request, rt: ResourceType, namespace: str, name: str
    ) -> Response:
        options = await self._delete_options(request)
        stored = self._lookup(rt, namespace, name)
        writes = self._deletion_writes(rt, stored, options)
        if options.get("dryRun"):
            return _json_response(_status_success(rt, name, stored.obj["metadata"].get("uid", "")))
        if not writes:
            return self._respond(request, rt, stored, 202)
        events = await self._commit(writes, False)
        if events[0].type == "DELETED":
            return _json_response(_status_success(rt, name, stored.obj["metadata"].get("uid", "")))
        return self._respond(request, rt, events[0].stored, 202)

    async def _delete_collection(
        self, request: Request, rt: ResourceType, namespace: str | None
    ) -> Response:
        options = await self._delete_options(request)
        query = parse_list_query(rt, request.query_params)
        parse_limit(request.query_params)  # validated like the real server's ListOptions
        victims = [
            s for s in self.store.list_objects(type_key(rt), namespace) if query.predicate(s.obj)
        ]
        writes: list[Write] = []
        for stored in victims:
            writes += self._deletion_writes(rt, stored, options)
        if writes and not options.get("dryRun"):
            await self._commit(writes, False)
        head = orjson.dumps(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
            }
        )
        return _json_response(
            head[:-1] + b',"items":[' + b",".join(self._raw(s, rt) for s in victims) + b"]}"
        )

    # -- subresources ------------------------------------------------------------------------

    async def _subresource(
        self, request: Request, rt: ResourceType, namespace: str, name: str, sub: str, verb: str
    ) -> Response:
        if sub == "scale":
            from luban.embedded.scale import ScaleSubresource

            return await ScaleSubresource(self).handle(request, rt, namespace, name, verb)
        if verb == "get":
            return self._get(request, rt, namespace, name)
        if verb == "update":
            return await self._update(
                request, rt, namespace, name, "status" if sub == "status" else ""
            )
        if verb == "patch":
            return await self._patch(
                request, rt, namespace, name, "status" if sub == "status" else ""
            )
        raise method_not_supported(f"{rt.resource}/{sub}", rt.group, verb)


def _without_meta(schema: dict[str, Any]) -> dict[str, Any]:
    properties = dict(schema.get("properties") or {})
    properties.pop("metadata", None)
    return {**schema, "properties": properties}


def _wants_yaml(accept: str) -> bool:
    return accept.startswith("application/yaml")


def _same_content(new: dict[str, Any], old: dict[str, Any]) -> bool:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {
            k: v
            for k, v in obj.get("metadata", {}).items()
            if k not in ("resourceVersion", "managedFields")
        }
        return {**obj, "metadata": meta}

    return strip(new) == strip(old)


def _with_warnings(response: Response, warnings: list[str]) -> Response:
    for warning in warnings[:20]:
        quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.append("Warning", f'299 - "{quoted}"')
    return response


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    event = {
        "type": "BOOKMARK",
        "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": metadata},
    }
    return orjson.dumps(event) + b"\n"


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk
