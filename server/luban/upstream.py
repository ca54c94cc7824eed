"""Choosing the Kubernetes API server the kernel fronts: a kubeconfig, in-cluster, or embedded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class UpstreamChoice:
    """Where the upstream comes from: ``kubeconfig`` (+ path), ``in-cluster`` or ``embedded``."""

    source: str
    kubeconfig: Path | None = None

    def describe(self) -> str:
        """One phrase for the log."""
        if self.source == "kubeconfig":
            return f"kubeconfig {self.kubeconfig}"
        return self.source


def choose_upstream(
    kubeconfig_flag: Path | None,
    embedded: bool,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> UpstreamChoice:
    """The upstream in the documented order: --embedded, --kubeconfig, $KUBECONFIG,
    in-cluster service account, ~/.kube/config; the embedded cluster when none is found."""
    env = os.environ if environ is None else environ
    if embedded:
        return UpstreamChoice("embedded")
    if kubeconfig_flag is not None:
        return UpstreamChoice("kubeconfig", kubeconfig_flag)
    for candidate in filter(None, env.get("KUBECONFIG", "").split(os.pathsep)):
        if Path(candidate).is_file():
            return UpstreamChoice("kubeconfig", Path(candidate))
    if env.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT_DIR / "token").is_file():
        return UpstreamChoice("in-cluster")
    default = (home or Path.home()) / ".kube" / "config"
    if default.is_file():
        return UpstreamChoice("kubeconfig", default)
    return UpstreamChoice("embedded")
