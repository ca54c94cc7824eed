"""Pod status analysis: which pods are in trouble, why, and what to do about it.

Works as the caller: it lists pods through a Kubernetes client that impersonates whoever
asked, so a caller sees findings only for pods they may list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luban_pod_analyzer.rules import SEVERITY_RANK, Finding, analyze
from luban_sdk import Extension, KubeError, context

SORT_KEYS = ("severity", "name", "namespace", "restarts", "problem")


class AnalyzerConfig(BaseModel):
    """``extensions.pod-analyzer`` in the kernel's config file."""

    restart_threshold: int = Field(default=5, ge=1)
    default_limit: int = Field(default=50, ge=1, le=1000)


extension = Extension(
    name="pod-analyzer",
    api_group="podanalyzer.luban.io",
    version="v1alpha1",
    display_name="Pod Status Analysis",
    description="Finds pods in trouble and explains why, with evidence and a suggested fix.",
    extension_version="0.1.0",
    config_model=AnalyzerConfig,
)


def _bad_request(message: str) -> Response:
    return JSONResponse(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "BadRequest",
            "code": 400,
        },
        status_code=400,
    )


def _sort_key(name: str) -> Callable[[Finding], tuple[Any, ...]]:
    def key(f: Finding) -> tuple[Any, ...]:
        by: dict[str, tuple[Any, ...]] = {
            "severity": (SEVERITY_RANK[f.severity], f.restarts),
            "name": (f.pod, f.container),
            "namespace": (f.namespace, f.pod),
            "restarts": (f.restarts,),
            "problem": (f.problem,),
        }
        return (*by[name], f.namespace, f.pod, f.container, f.problem)

    return key


async def _findings(request: Request, path: str) -> Response:
    ctx = context(request)
    config = ctx.config_as(AnalyzerConfig)
    query = request.query_params
    sort_by = query.get("sortBy", "severity")
    if sort_by not in SORT_KEYS:
        return _bad_request(f"sortBy must be one of {', '.join(SORT_KEYS)}")
    try:
        page = int(query.get("page", "1"))
        limit = int(query.get("limit", str(config.default_limit)))
    except ValueError:
        return _bad_request("page and limit must be integers")
    if page < 1 or not 1 <= limit <= 1000:
        return _bad_request("page must be >= 1 and limit within 1..1000")
    ascending = query.get("ascending", "false").lower() == "true"
    severity = query.get("severity")
    if severity is not None and severity not in SEVERITY_RANK:
        return _bad_request(f"severity must be one of {', '.join(SEVERITY_RANK)}")
    assert ctx.kube is not None
    try:
        pods = await ctx.kube.get(path)
    except KubeError as exc:
        return JSONResponse(exc.status, status_code=exc.code)
    findings = [f for pod in pods.get("items", []) for f in analyze(pod, config.restart_threshold)]
    if severity is not None:
        findings = [f for f in findings if f.severity == severity]
    findings.sort(key=_sort_key(sort_by), reverse=not ascending)
    start = (page - 1) * limit
    ctx.logger.debug("analyzed %d pods: %d findings", len(pods.get("items", [])), len(findings))
    return JSONResponse(
        {
            "items": [f.as_dict() for f in findings[start : start + limit]],
            "totalItems": len(findings),
        }
    )


@extension.get("/namespaces/{namespace}/findings", permission=("list", "pods"))
async def namespace_findings(request: Request) -> Response:
    """Findings for the pods of one namespace."""
    return await _findings(request, f"/api/v1/namespaces/{request.path_params['namespace']}/pods")


@extension.get("/findings", permission=("list", "pods"))
async def all_findings(request: Request) -> Response:
    """Findings for the pods of every namespace (needs cluster-wide list on pods)."""
    return await _findings(request, "/api/v1/pods")
