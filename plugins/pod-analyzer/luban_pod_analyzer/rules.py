"""Diagnosis rules: from one pod's spec and status to findings with evidence and a fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
_PULL_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
_KILLED_BY_SIGNAL = (137, 143)


@dataclass(frozen=True)
class Finding:
    """One problem of one pod (or one of its containers)."""

    namespace: str
    pod: str
    container: str
    problem: str
    severity: str
    evidence: dict[str, Any]
    suggestion: str
    restarts: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON item shape."""
        return {
            "namespace": self.namespace,
            "pod": self.pod,
            "container": self.container,
            "problem": self.problem,
            "severity": self.severity,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "restarts": self.restarts,
        }


def _containers(pod: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    spec = pod.get("spec") or {}
    specs = {
        c.get("name"): c for c in [*spec.get("initContainers", []), *spec.get("containers", [])]
    }
    status = pod.get("status") or {}
    for cs in [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]:
        yield cs, specs.get(cs.get("name"), {})


def analyze(pod: dict[str, Any], restart_threshold: int) -> list[Finding]:
    """Every problem ``pod`` shows in its status."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    findings: list[Finding] = []

    def add(
        container: str,
        problem: str,
        severity: str,
        evidence: dict[str, Any],
        suggestion: str,
        restarts: int = 0,
    ) -> None:
        findings.append(
            Finding(namespace, name, container, problem, severity, evidence, suggestion, restarts)
        )

    if status.get("phase") == "Failed" and status.get("reason") == "Evicted":
        add(
            "",
            "Evicted",
            "medium",
            {"reason": "Evicted", "message": status.get("message", "")},
            "The node ran short of a resource (see message). Set requests matching real usage, "
            "free the node's disk/memory, then delete the evicted pod.",
        )
    if status.get("phase") == "Pending":
        for condition in status.get("conditions", []):
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
            ):
                add(
                    "",
                    "Unschedulable",
                    "high",
                    {"condition": "PodScheduled=False", "message": condition.get("message", "")},
                    "No node fits the pod (see message): lower its resource requests, relax node "
                    "selectors/affinity/tolerations, or add capacity.",
                )

    for cs, spec in _containers(pod):
        container = cs.get("name", "")
        restarts = int(cs.get("restartCount", 0))
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        reported = False
        if waiting.get("reason") == "CrashLoopBackOff":
            add(
                container,
                "CrashLoopBackOff",
                "critical",
                {
                    "reason": "CrashLoopBackOff",
                    "restartCount": restarts,
                    "lastExitCode": last.get("exitCode"),
                    "lastReason": last.get("reason"),
                    "message": waiting.get("message", ""),
                },
                f"The container keeps crashing. Read `kubectl logs {name} -c {container} "
                "--previous -n " + namespace + "` for the cause; check its command, config and "
                "dependencies.",
                restarts,
            )
            reported = True
        if waiting.get("reason") in _PULL_REASONS:
            add(
                container,
                waiting["reason"],
                "high",
                {
                    "reason": waiting["reason"],
                    "image": cs.get("image") or spec.get("image"),
                    "message": waiting.get("message", ""),
                },
                "The image cannot be pulled: check the image name and tag exist, the registry is "
                "reachable, and imagePullSecrets grant access.",
                restarts,
            )
            reported = True
        if "OOMKilled" in (last.get("reason"), terminated.get("reason")):
            limits = (spec.get("resources") or {}).get("limits") or {}
            add(
                container,
                "OOMKilled",
                "high",
                {
                    "reason": "OOMKilled",
                    "exitCode": (last or terminated).get("exitCode"),
                    "memoryLimit": limits.get("memory"),
                    "restartCount": restarts,
                },
                "The container ran out of memory: raise resources.limits.memory (and requests) "
                "or reduce the workload's memory use.",
                restarts,
            )
            reported = True
        running = "running" in state
        if running and cs.get("ready") is False and spec.get("readinessProbe"):
            add(
                container,
                "ReadinessProbeFailing",
                "medium",
                {
                    "ready": False,
                    "started": cs.get("started"),
                    "readinessProbe": spec.get("readinessProbe"),
                },
                "The readiness probe fails, so the pod gets no traffic: check the probe's "
                "path/port/command against what the app serves, and its timing.",
                restarts,
            )
        if (
            spec.get("livenessProbe")
            and restarts > 0
            and not reported
            and last.get("exitCode") in _KILLED_BY_SIGNAL
            and last.get("reason") != "OOMKilled"
        ):
            add(
                container,
                "LivenessProbeFailing",
                "medium",
                {
                    "restartCount": restarts,
                    "lastExitCode": last.get("exitCode"),
                    "livenessProbe": spec.get("livenessProbe"),
                },
                "The kubelet restarts the container after failed liveness probes: check the "
                "probe's endpoint and raise initialDelaySeconds/timeoutSeconds for slow starts.",
                restarts,
            )
            reported = True
        if restarts >= restart_threshold and not reported:
            add(
                container,
                "FrequentRestarts",
                "medium",
                {
                    "restartCount": restarts,
                    "lastExitCode": last.get("exitCode"),
                    "lastReason": last.get("reason"),
                },
                "The container restarts often: look at its previous logs and exit codes.",
                restarts,
            )
    return findings
