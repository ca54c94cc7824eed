"""``GET .../{resource}?capabilities``: what a client can filter and sort on, and how."""

from __future__ import annotations

from typing import Any

from luban.resources.discovery import ResourceInfo
from luban.resources.query import FILTER_OPERATORS


def capabilities(info: ResourceInfo) -> dict[str, Any]:
    """The query features the Resource API offers for ``info``."""
    return {
        "kind": "ResourceQueryCapabilities",
        "apiVersion": "luban.io/v1alpha1",
        "resource": {
            "group": info.group,
            "version": info.version,
            "resource": info.resource,
            "kind": info.kind,
            "namespaced": info.namespaced,
        },
        "fields": {
            "filterable": "any dotted path; [key] for keys containing dots, "
            "e.g. metadata.labels[app.kubernetes.io/name]",
            "sortable": "any dotted path; name, namespace, creationTimestamp are aliases",
            "indexed": [
                "metadata.namespace",
                "metadata.labels (=, ==, in, exists)",
                "sort paths (maintained after first use)",
            ],
        },
        "parameters": {
            "name": {"description": "case-insensitive substring of metadata.name"},
            "names": {"description": "comma list of exact names"},
            "namespaces": {"description": "comma list of namespaces (cluster-wide URLs)"},
            "uid": {},
            "ownerReference": {"description": "an owner's uid"},
            "ownerKind": {},
            "label": {"description": "key=value or key; repeated = AND"},
            "annotation": {"description": "key=value or key; repeated = AND"},
            "labelSelector": {"description": "Kubernetes label selector syntax"},
            "fieldSelector": {
                "operators": ["=", "==", "!="],
                "description": "any dotted path; a ~ before the value makes it case-insensitive",
            },
            "filter": {
                "operators": list(FILTER_OPERATORS),
                "description": "path OP value; ~ is a case-insensitive substring; "
                "< > <= >= compare numbers or RFC 3339 times; in/notin take (a,b); "
                "commas = OR; repeated filter parameters = AND",
            },
            "sortBy": {
                "default": "creationTimestamp",
                "description": "comma list of paths; -path descending, +path ascending; "
                "unprefixed keys follow 'ascending'; ties by namespace/name",
            },
            "ascending": {"default": False},
            "page": {"default": 1, "description": "1-based, with limit"},
            "limit": {"description": "absent or -1: everything"},
            "summary": {"description": "path: counts of each value over every matching item"},
            "resourceVersion": {"description": "wait (bounded) until the cache has seen it"},
            "watch": {
                "description": "stream matching changes; text/event-stream for SSE; "
                "resumable from the list's resourceVersion (or Last-Event-ID)"
            },
        },
        "query": {
            "method": "POST",
            "path": "{list URL}/query",
            "body": "a JSON object with the same parameters (lists allowed)",
        },
    }
