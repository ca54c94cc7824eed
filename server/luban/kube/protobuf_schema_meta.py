"""Protobuf schema: apimachinery meta/v1 messages (ObjectMeta, LabelSelector, DeleteOptions).

Field numbers as in apimachinery ``pkg/apis/meta/v1/generated.proto``; JSON names, pointer-ness and
``omitempty`` as in the Go types' struct tags. Row format: see ``protobuf_schema``.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[tuple[int, str, str, str], ...]] = {
    "meta.Condition": (
        (1, "type", "string", ""),
        (2, "status", "string", ""),
        (3, "observedGeneration", "int64", "o"),
        (4, "lastTransitionTime", "Time", ""),
        (5, "reason", "string", ""),
        (6, "message", "string", ""),
    ),
    "meta.DeleteOptions": (
        (1, "gracePeriodSeconds", "int64", "po"),
        (2, "preconditions", "meta.Preconditions", "po"),
        (3, "orphanDependents", "bool", "po"),
        (4, "propagationPolicy", "string", "po"),
        (5, "dryRun", "string", "ro"),
        (6, "ignoreStoreReadErrorWithClusterBreakingPotential", "bool", "po"),
    ),
    "meta.FieldSelectorRequirement": (
        (1, "key", "string", ""),
        (2, "operator", "string", ""),
        (3, "values", "string", "ro"),
    ),
    "meta.LabelSelector": (
        (1, "matchLabels", "map[string]string", "o"),
        (2, "matchExpressions", "meta.LabelSelectorRequirement", "ro"),
    ),
    "meta.LabelSelectorRequirement": (
        (1, "key", "string", ""),
        (2, "operator", "string", ""),
        (3, "values", "string", "ro"),
    ),
    "meta.ManagedFieldsEntry": (
        (1, "manager", "string", "o"),
        (2, "operation", "string", "o"),
        (3, "apiVersion", "string", "o"),
        (4, "time", "Time", "po"),
        (6, "fieldsType", "string", "o"),
        (7, "fieldsV1", "FieldsV1", "po"),
        (8, "subresource", "string", "o"),
    ),
    "meta.ObjectMeta": (
        (1, "name", "string", "o"),
        (2, "generateName", "string", "o"),
        (3, "namespace", "string", "o"),
        (4, "selfLink", "string", "o"),
        (5, "uid", "string", "o"),
        (6, "resourceVersion", "string", "o"),
        (7, "generation", "int64", "o"),
        (8, "creationTimestamp", "Time", "o"),
        (9, "deletionTimestamp", "Time", "po"),
        (10, "deletionGracePeriodSeconds", "int64", "po"),
        (11, "labels", "map[string]string", "o"),
        (12, "annotations", "map[string]string", "o"),
        (13, "ownerReferences", "meta.OwnerReference", "ro"),
        (14, "finalizers", "string", "ro"),
        (17, "managedFields", "meta.ManagedFieldsEntry", "ro"),
    ),
    "meta.OwnerReference": (
        (1, "kind", "string", ""),
        (3, "name", "string", ""),
        (4, "uid", "string", ""),
        (5, "apiVersion", "string", ""),
        (6, "controller", "bool", "po"),
        (7, "blockOwnerDeletion", "bool", "po"),
    ),
    "meta.Preconditions": (
        (1, "uid", "string", "po"),
        (2, "resourceVersion", "string", "po"),
    ),
}
