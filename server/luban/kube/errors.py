"""Kubernetes API errors as exceptions, each rendering the ``Status`` the real server sends.

Messages follow ``k8s.io/apimachinery/pkg/api/errors`` so client libraries map them to the
right exception types and kubectl prints the familiar text.
"""

from __future__ import annotations

from typing import Any

from luban.status import status_body


class APIError(Exception):
    """An error answered as a ``Status`` with ``code`` and ``reason``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.details = details
        self.headers = headers

    def status(self) -> dict[str, Any]:
        """The ``Status`` body."""
        return status_body(self.code, self.message, self.reason, self.details)


def _details(resource: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> APIError:
    """``pods "x" not found`` (404)."""
    return APIError(
        404,
        f'{_qualified(resource, group)} "{name}" not found',
        "NotFound",
        _details(resource, group, name),
    )


def already_exists(resource: str, group: str, name: str) -> APIError:
    """``pods "x" already exists`` (409)."""
    return APIError(
        409,
        f'{_qualified(resource, group)} "{name}" already exists',
        "AlreadyExists",
        _details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str, why: str) -> APIError:
    """``Operation cannot be fulfilled on pods "x": <why>`` (409)."""
    return APIError(
        409,
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        "Conflict",
        _details(resource, group, name),
    )


MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def bad_request(message: str) -> APIError:
    """A 400 ``BadRequest``."""
    return APIError(400, message, "BadRequest")


def forbidden(resource: str, group: str, name: str, why: str) -> APIError:
    """``pods "x" is forbidden: <why>`` (403); ``name`` may be empty for collections."""
    subject = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return APIError(
        403, f"{subject} is forbidden: {why}", "Forbidden", _details(resource, group, name)
    )


def gone(message: str) -> APIError:
    """A 410 ``Expired`` (a resourceVersion older than the retained window)."""
    return APIError(410, message, "Expired")


def method_not_supported(resource: str, group: str, action: str) -> APIError:
    """``<action> is not supported on resources of kind "pods"`` (405)."""
    return APIError(
        405,
        f'{action} is not supported on resources of kind "{_qualified(resource, group)}"',
        "MethodNotAllowed",
        {"group": group, "kind": resource} if group else {"kind": resource},
    )


def unsupported_media_type(content_type: str) -> APIError:
    """A 415 for a body type the endpoint does not take."""
    return APIError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml, application/vnd.kubernetes.protobuf "
        f'(got "{content_type}")',
        "UnsupportedMediaType",
    )


def too_large(limit: int) -> APIError:
    """A 413 for a body over ``limit`` bytes."""
    return APIError(
        413, f"the request body exceeds the {limit} byte limit", "RequestEntityTooLarge"
    )
