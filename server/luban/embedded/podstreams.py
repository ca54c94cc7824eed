"""Pod streaming subresources (log, exec, attach, portforward) in a cluster without kubelets.

The real API server checks the pod and container, then relays to the kubelet of the pod's
node (pkg/registry/core/pod/strategy.go: LogLocation, streamLocation, PortForwardLocation).
The embedded cluster runs no kubelets, so it answers as far as the API server itself goes:
an empty log (204) for a pod no node runs, ``pod X does not have a host assigned`` for exec,
attach and port-forward, ``nodes "N" not found`` for a pod bound to an unknown node, and an
error naming the missing kubelet otherwise. Nothing here is ever 405: discovery lists
these subresources, so clients (``kubectl logs/exec/port-forward/cp``) must get the real
answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import Response

from luban.kube.errors import APIError, bad_request, not_found
from luban.kube.validation import FieldError, forbidden, invalid, invalid_status

POD_STREAMS = frozenset({"log", "exec", "attach", "portforward"})

NodeLookup = Callable[[str], dict[str, Any] | None]


def _names(containers: Any) -> list[str]:
    return [str(c.get("name", "")) for c in containers or () if isinstance(c, dict)]


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"  # how Go's %s prints a []string


def _container(pod: dict[str, Any], wanted: str) -> str:
    """``validateContainer``: the named container, or the only one when none is named."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    containers = _names(spec.get("containers"))
    every = [
        *_names(spec.get("initContainers")),
        *containers,
        *_names(spec.get("ephemeralContainers")),
    ]
    if wanted:
        if wanted not in every:
            raise bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise bad_request(f"a container name must be specified for pod {name}")
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: {_go_list(every)}"
    )


def _int_param(params: Mapping[str, str], key: str) -> int | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def _check_log_options(name: str, params: Mapping[str, str]) -> None:
    """``ValidatePodLogOptions``: a 422 naming each bad option."""
    errors: list[FieldError] = []
    tail = _int_param(params, "tailLines")
    if tail is not None and tail < 0:
        errors.append(invalid("tailLines", tail, "must be greater than or equal to 0"))
    limit = _int_param(params, "limitBytes")
    if limit is not None and limit < 1:
        errors.append(invalid("limitBytes", limit, "must be greater than 0"))
    since = _int_param(params, "sinceSeconds")
    if since is not None and params.get("sinceTime"):
        errors.append(
            forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified")
        )
    elif since is not None and since < 1:
        errors.append(invalid("sinceSeconds", since, "must be greater than 0"))
    if errors:
        body = invalid_status("PodLogOptions", "", name, errors)
        raise APIError(422, body["message"], "Invalid", body.get("details"))


def _no_kubelet(node: str, nodes: NodeLookup) -> APIError:
    if nodes(node) is None:
        return not_found("nodes", "", node)
    return APIError(
        500,
        f'error dialing backend: node "{node}" has no kubelet (the embedded cluster runs none)',
        "InternalError",
    )


def pod_stream(
    pod: dict[str, Any], sub: str, params: Mapping[str, str], nodes: NodeLookup
) -> Response:
    """Answer ``pods/{sub}`` for ``pod`` (the caller found it; a missing pod is its 404)."""
    name = pod["metadata"]["name"]
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    if sub == "log":
        _check_log_options(name, params)
        _container(pod, params.get("container", ""))
        if not node:
            return Response(status_code=204)  # no location: StreamObject answers No Content
        raise _no_kubelet(node, nodes)
    if sub != "portforward":
        _container(pod, params.get("container", ""))
    if not node:
        raise bad_request(f"pod {name} does not have a host assigned")
    raise _no_kubelet(node, nodes)
