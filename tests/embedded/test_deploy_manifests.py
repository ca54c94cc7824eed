"""The shipped deploy manifests are valid Kubernetes objects (server-side dry run)."""

from __future__ import annotations

from tests.embedded.conftest import Kubectl
from tests.procs import REPO


def test_deploy_manifests_pass_a_server_side_dry_run(kctl: Kubectl) -> None:
    manifests = REPO / "config" / "deploy" / "luban.yaml"
    # Like a real server, a dry run cannot place objects in a namespace that does not exist.
    refused = kctl.run("apply", "-f", str(manifests), "--dry-run=server", check=False)
    assert 'namespaces "luban-system" not found' in refused.stderr
    created = kctl.run("apply", "-f", str(manifests)).stdout
    assert "deployment.apps/luban created" in created
    assert "clusterrole.rbac.authorization.k8s.io/luban-kernel created" in created
    deployment = kctl.json("get", "deployment", "luban", "-n", "luban-system")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "luban"
    kctl.run(
        "apply", "-f", str(manifests), "--server-side", "--force-conflicts", "--dry-run=server"
    )
