"""OpenAPI v3 ``paths`` for served resources, shaped like the real API server's.

kubectl reads these: ``kubectl explain`` finds a resource's GVK on the operations of
``/apis/{g}/{v}/[namespaces/{namespace}/]{resource}[/{name}]``; ``kubectl apply`` checks that
the PATCH operation of a GVK takes ``fieldValidation`` (then it leaves validation to the server)
and accepts ``application/strategic-merge-patch+json`` (then it computes strategic patches from
the schemas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from luban.embedded.openapi_schemas import (
    META,
    Schema,
    gvk,
    kind_schema_name,
    list_schema_name,
    ref,
)
from luban.kube.resources import ResourceType

_JSON_YAML_PB = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_WATCH_TYPES = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
_SMP = "application/strategic-merge-patch+json"

_PARAMS: dict[str, tuple[str, str, str]] = {
    # name: (in, JSON type, description)
    "name": ("path", "string", "name of the resource"),
    "namespace": (
        "path",
        "string",
        "object name and auth scope, such as for teams and projects",
    ),
    "pretty": (
        "query",
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the "
        "user-agent indicates a browser or command-line HTTP tool (curl and wget).",
    ),
    "dryRun": (
        "query",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or "
        "unrecognized dryRun directive will result in an error response and no further "
        "processing of the request. Valid values are: - All: all dry run stages will be "
        "processed",
    ),
    "fieldManager": (
        "query",
        "string",
        "fieldManager is a name associated with the actor or entity that is making these "
        "changes. The value must be less than or 128 characters long, and only contain "
        "printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    ),
    "fieldValidation": (
        "query",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request "
        "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
        "This will ignore any unknown fields that are silently dropped from the object, and "
        "will ignore all but the last duplicate field that the decoder encounters. - Warn: "
        "This will send a warning via the standard warning response header for each unknown "
        "field that is dropped from the object, and for each duplicate field that is "
        "encountered. The request will still succeed if there are no other errors, and will "
        "only persist the last of any duplicate fields. - Strict: This will fail the request "
        "with a BadRequest error if any unknown fields would be dropped from the object, or "
        "if any duplicate fields are present. The error returned from the server will "
        "contain all unknown and duplicate fields encountered.",
    ),
    "force": (
        "query",
        "boolean",
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting '
        "fields owned by other people. Force flag must be unset for non-apply patch requests.",
    ),
    "allowWatchBookmarks": (
        "query",
        "boolean",
        'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not '
        "implement bookmarks may ignore this flag and bookmarks are sent at the server's "
        "discretion.",
    ),
    "continue": (
        "query",
        "string",
        "The continue option should be set when retrieving more results from the server. "
        "Since this value is server defined, clients may only use the continue value from a "
        "previous query result with identical query parameters.",
    ),
    "fieldSelector": (
        "query",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to "
        "everything.",
    ),
    "labelSelector": (
        "query",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to "
        "everything.",
    ),
    "limit": (
        "query",
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items "
        "exist, the server will set the `continue` field on the list metadata to a value that "
        "can be used with the same initial query to retrieve the next set of results.",
    ),
    "resourceVersion": (
        "query",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served "
        "from. See https://kubernetes.io/docs/reference/using-api/api-concepts/"
        "#resource-versions for details. Defaults to unset",
    ),
    "resourceVersionMatch": (
        "query",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is "
        "highly recommended that resourceVersionMatch be set for list calls where "
        "resourceVersion is set. Defaults to unset",
    ),
    "sendInitialEvents": (
        "query",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the "
        "watch stream will begin with synthetic events to produce the current state of "
        "objects in the collection, followed by a bookmark event.",
    ),
    "timeoutSeconds": (
        "query",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of "
        "any activity or inactivity.",
    ),
    "watch": (
        "query",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, "
        "update, and remove notifications. Specify resourceVersion.",
    ),
    "gracePeriodSeconds": (
        "query",
        "integer",
        "The duration in seconds before the object should be deleted. Value must be "
        "non-negative integer. The value zero indicates delete immediately.",
    ),
    "orphanDependents": (
        "query",
        "boolean",
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. "
        "Should the dependent objects be orphaned.",
    ),
    "propagationPolicy": (
        "query",
        "string",
        "Whether and how garbage collection will be performed. Either this field or "
        "OrphanDependents may be set, but not both. Acceptable values are: 'Orphan', "
        "'Background' and 'Foreground'.",
    ),
}

_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")


def param(name: str) -> Schema:
    """The inline parameter object for ``name``."""
    where, json_type, description = _PARAMS[name]
    out: Schema = {
        "name": name,
        "in": where,
        "description": description,
        "schema": {"type": json_type, "uniqueItems": True},
    }
    if where == "path":
        out["required"] = True
    return out


def camel_group(group: str) -> str:
    """``rbac.authorization.k8s.io`` -> ``RbacAuthorization``, ``""`` -> ``Core``."""
    if not group:
        return "Core"
    return "".join(p[:1].upper() + p[1:] for p in group.removesuffix(".k8s.io").split(".") if p)


def tag(group: str, version: str) -> str:
    """The operations' tag: ``apps_v1``, ``core_v1``, ``rbacAuthorization_v1``."""
    camel = camel_group(group)
    return f"{camel[:1].lower()}{camel[1:]}_{version}"


def prefix(group: str, version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/{group}/{version}`` otherwise."""
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _content(schema: Schema, types: Sequence[str]) -> Schema:
    return {t: {"schema": schema} for t in types}


def _responses(
    schema: Schema, *codes: tuple[str, str], types: Sequence[str] = _JSON_YAML_PB
) -> Schema:
    out: Schema = {
        code: {"description": text, "content": _content(schema, types)} for code, text in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


class _Target:
    """What one operation reads or writes: a component schema and its GVK."""

    def __init__(self, schema: str, group: str, version: str, kind: str) -> None:
        self.schema = schema
        self.gvk = gvk(group, version, kind)


def _op(
    op_id: str,
    description: str,
    action: str,
    target: _Target,
    t: ResourceType,
    params: Sequence[str] = (),
    body: Schema | None = None,
    body_types: Sequence[str] = ("*/*",),
    responses: Schema | None = None,
) -> Schema:
    op: Schema = {
        "tags": [tag(t.group, t.version)],
        "description": description,
        "operationId": op_id,
        "parameters": [param(p) for p in params],
        "responses": responses or _responses(ref(target.schema), ("200", "OK")),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": target.gvk,
    }
    if not op["parameters"]:
        del op["parameters"]
    if body is not None:
        op["requestBody"] = {"content": _content(body, body_types), "required": True}
    return op


def resource_paths(t: ResourceType) -> dict[str, Schema]:
    """Every path of one resource: collection, item, subresources and the legacy watch paths."""
    base = prefix(t.group, t.version)
    ns = "Namespaced" if t.namespaced else ""
    op_kind = f"{camel_group(t.group)}{t.version[:1].upper()}{t.version[1:]}"
    me = _Target(kind_schema_name(t), t.group, t.version, t.kind)
    lst = _Target(list_schema_name(t), t.group, t.version, t.list_kind)
    status = _Target(f"{META}.Status", "", "v1", "Status")
    event = _Target(f"{META}.WatchEvent", t.group, t.version, t.kind)
    coll = (
        f"{base}/namespaces/{{namespace}}/{t.resource}" if t.namespaced else f"{base}/{t.resource}"
    )
    item = f"{coll}/{{name}}"
    scope = ("namespace",) if t.namespaced else ()
    verbs = set(t.verbs)
    paths: dict[str, Schema] = {}

    collection: Schema = {}
    if "list" in verbs:
        collection["get"] = _op(
            f"list{op_kind}{ns}{t.kind}",
            f"list or watch objects of kind {t.kind}",
            "list",
            lst,
            t,
            _LIST_PARAMS,
            responses=_responses(ref(lst.schema), ("200", "OK"), types=_WATCH_TYPES),
        )
    if "create" in verbs:
        collection["post"] = _op(
            f"create{op_kind}{ns}{t.kind}",
            f"create a {t.kind}",
            "post",
            me,
            t,
            _WRITE_PARAMS,
            body=ref(me.schema),
            responses=_responses(
                ref(me.schema), ("200", "OK"), ("201", "Created"), ("202", "Accepted")
            ),
        )
    if "deletecollection" in verbs:
        collection["delete"] = _op(
            f"delete{op_kind}Collection{ns}{t.kind}",
            f"delete collection of {t.kind}",
            "deletecollection",
            status,
            t,
            (*_DELETE_PARAMS, *_LIST_PARAMS[:-1]),
            body=ref(f"{META}.DeleteOptions"),
        )
        collection["delete"]["x-kubernetes-group-version-kind"] = me.gvk
    if collection:
        collection["parameters"] = [param(p) for p in (*scope, "pretty")]
        paths[coll] = collection

    single: Schema = {}
    if "get" in verbs:
        single["get"] = _op(
            f"read{op_kind}{ns}{t.kind}", f"read the specified {t.kind}", "get", me, t
        )
    if "update" in verbs:
        single["put"] = _op(
            f"replace{op_kind}{ns}{t.kind}",
            f"replace the specified {t.kind}",
            "put",
            me,
            t,
            _WRITE_PARAMS,
            body=ref(me.schema),
            responses=_responses(ref(me.schema), ("200", "OK"), ("201", "Created")),
        )
    if "patch" in verbs:
        single["patch"] = _patch(
            f"patch{op_kind}{ns}{t.kind}", f"partially update the specified {t.kind}", me, t
        )
    if "delete" in verbs:
        single["delete"] = _op(
            f"delete{op_kind}{ns}{t.kind}",
            f"delete a {t.kind}",
            "delete",
            status,
            t,
            _DELETE_PARAMS,
            body=ref(f"{META}.DeleteOptions"),
            responses=_responses(ref(f"{META}.Status"), ("200", "OK"), ("202", "Accepted")),
        )
        single["delete"]["x-kubernetes-group-version-kind"] = me.gvk
    if single:
        single["parameters"] = [param(p) for p in ("name", *scope, "pretty")]
        paths[item] = single

    for sub in t.subresources:
        sub_path = _subresource(sub, t, op_kind, ns, me)
        if sub_path:
            sub_path["parameters"] = [param(p) for p in ("name", *scope, "pretty")]
            paths[f"{item}/{sub}"] = sub_path

    if "watch" in verbs:
        watch_base = f"{base}/watch"
        watch_coll = (
            f"{watch_base}/namespaces/{{namespace}}/{t.resource}"
            if t.namespaced
            else f"{watch_base}/{t.resource}"
        )
        watch_types = _WATCH_TYPES
        paths[watch_coll] = {
            "get": _op(
                f"watch{op_kind}{ns}{t.kind}List",
                f"watch individual changes to a list of {t.kind}",
                "watchlist",
                event,
                t,
                responses=_responses(ref(event.schema), ("200", "OK"), types=watch_types),
            ),
            "parameters": [param(p) for p in (*_LIST_PARAMS, *scope, "pretty")],
        }
        paths[f"{watch_coll}/{{name}}"] = {
            "get": _op(
                f"watch{op_kind}{ns}{t.kind}",
                f"watch changes to an object of kind {t.kind}",
                "watch",
                event,
                t,
                responses=_responses(ref(event.schema), ("200", "OK"), types=watch_types),
            ),
            "parameters": [param(p) for p in (*_LIST_PARAMS, "name", *scope, "pretty")],
        }
    if t.namespaced and "list" in verbs:
        paths[f"{base}/{t.resource}"] = {
            "get": _op(
                f"list{op_kind}{t.kind}ForAllNamespaces",
                f"list or watch objects of kind {t.kind}",
                "list",
                lst,
                t,
                responses=_responses(ref(lst.schema), ("200", "OK"), types=_WATCH_TYPES),
            ),
            "parameters": [param(p) for p in (*_LIST_PARAMS, "pretty")],
        }
        if "watch" in verbs:
            paths[f"{base}/watch/{t.resource}"] = {
                "get": _op(
                    f"watch{op_kind}{t.kind}ListForAllNamespaces",
                    f"watch individual changes to a list of {t.kind}",
                    "watchlist",
                    event,
                    t,
                    responses=_responses(ref(event.schema), ("200", "OK"), types=_WATCH_TYPES),
                ),
                "parameters": [param(p) for p in (*_LIST_PARAMS, "pretty")],
            }
    return paths


def _patch(op_id: str, description: str, target: _Target, t: ResourceType) -> Schema:
    types = (*_PATCH_TYPES, _SMP) if not t.custom else _PATCH_TYPES
    return _op(
        op_id,
        description,
        "patch",
        target,
        t,
        (*_WRITE_PARAMS, "force"),
        body=ref(f"{META}.Patch"),
        body_types=types,
        responses=_responses(ref(target.schema), ("200", "OK"), ("201", "Created")),
    )


# Subresources whose body is another kind: (component, group, version, kind, verbs).
_SUB_KINDS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "scale": (
        "io.k8s.api.autoscaling.v1.Scale",
        "autoscaling",
        "v1",
        "Scale",
        ("get", "put", "patch"),
    ),
    "eviction": ("io.k8s.api.policy.v1.Eviction", "policy", "v1", "Eviction", ("post",)),
    "binding": ("io.k8s.api.core.v1.Binding", "", "v1", "Binding", ("post",)),
    "token": (
        "io.k8s.api.authentication.v1.TokenRequest",
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
        ("post",),
    ),
}
_SAME_KIND = {
    "status": ("get", "put", "patch"),
    "ephemeralcontainers": ("get", "put", "patch"),
    "finalize": ("put",),
}
_CONNECT = {
    "exec": ("PodExecOptions", ("get", "post")),
    "attach": ("PodAttachOptions", ("get", "post")),
    "portforward": ("PodPortForwardOptions", ("get", "post")),
    "proxy": ("ProxyOptions", ("get", "post", "put", "patch", "delete", "head", "options")),
}


def _subresource(sub: str, t: ResourceType, op_kind: str, ns: str, me: _Target) -> Schema:
    suffix = {"ephemeralcontainers": "EphemeralContainers"}.get(sub, sub.capitalize())
    base_id = f"{op_kind}{ns}{t.kind}{suffix}"
    out: Schema = {}
    if sub in _SAME_KIND or sub in _SUB_KINDS:
        if sub in _SUB_KINDS:
            schema, group, version, kind, verbs = _SUB_KINDS[sub]
            target = _Target(schema, group, version, kind)
        else:
            verbs = _SAME_KIND[sub]
            target = me
        if "get" in verbs:
            out["get"] = _op(
                f"read{base_id}", f"read {sub} of the specified {t.kind}", "get", target, t
            )
        if "put" in verbs:
            out["put"] = _op(
                f"replace{base_id}",
                f"replace {sub} of the specified {t.kind}",
                "put",
                target,
                t,
                _WRITE_PARAMS,
                body=ref(target.schema),
                responses=_responses(ref(target.schema), ("200", "OK"), ("201", "Created")),
            )
        if "patch" in verbs:
            out["patch"] = _patch(
                f"patch{base_id}", f"partially update {sub} of the specified {t.kind}", target, t
            )
        if "post" in verbs:
            out["post"] = _op(
                f"create{base_id}",
                f"create {sub} of a {t.kind}",
                "post",
                target,
                t,
                _WRITE_PARAMS,
                body=ref(target.schema),
                responses=_responses(
                    ref(target.schema), ("200", "OK"), ("201", "Created"), ("202", "Accepted")
                ),
            )
        return out
    string: Schema = {"type": "string"}
    if sub == "log":
        out["get"] = _op(
            f"read{base_id}",
            f"read log of the specified {t.kind}",
            "get",
            me,
            t,
            responses=_responses(string, ("200", "OK"), types=("text/plain", "application/json")),
        )
        return out
    if sub in _CONNECT:
        options, verbs = _CONNECT[sub]
        if sub == "proxy":
            options = f"{t.kind}{options}"
        target = _Target("", t.group, t.version, options)
        for verb in verbs:
            op = _op(
                f"connect{verb.capitalize()}{base_id}",
                f"connect {verb.upper()} requests to {sub} of {t.kind}",
                "connect",
                target,
                t,
                responses=_responses(string, ("200", "OK"), types=("*/*",)),
            )
            out[verb] = op
    return out


def group_root_path(group: str, version: str) -> dict[str, Schema]:
    """``/apis/{g}/{v}/`` (the group version's APIResourceList)."""
    op_id = f"get{camel_group(group)}{version[:1].upper()}{version[1:]}APIResources"
    return {
        f"{prefix(group, version)}/": {
            "get": {
                "tags": [tag(group, version)],
                "description": "get available resources",
                "operationId": op_id,
                "responses": _responses(ref(f"{META}.APIResourceList"), ("200", "OK")),
            }
        }
    }


def document_paths(group: str, version: str, types: Sequence[ResourceType]) -> dict[str, Any]:
    """All paths of one group version's document."""
    paths: dict[str, Any] = group_root_path(group, version)
    for t in sorted(types, key=lambda x: x.resource):
        paths.update(resource_paths(t))
    return paths
