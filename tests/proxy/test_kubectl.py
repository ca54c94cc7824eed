"""The kubectl scenario of issue #3, unchanged, through ``luban serve`` (the proxy) against
the embedded cluster it starts: the same test functions, with ``kctl`` pointing at the kernel,
once per kubectl version (tests/kubectls.py), each with its own kernel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded import test_kubectl as scenario
from tests.embedded.conftest import Kubectl
from tests.procs import KernelProcess, run_kernel


@pytest.fixture(scope="module")
def scenario_kernel(
    scenario_kubectl: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelProcess]:
    """``luban serve`` with its default upstream: the embedded cluster it starts itself.

    Fresh for each ``scenario_kubectl`` (hence the otherwise unused parameter).
    """
    with run_kernel(tmp_path_factory.mktemp("kubectl-kernel") / "data") as process:
        yield process


@pytest.fixture(scope="module")
def kctl(
    scenario_kubectl: Path,
    scenario_kernel: KernelProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Kubectl:
    """``scenario_kubectl`` with the kernel's admin kubeconfig."""
    return Kubectl(
        scenario_kubectl,
        scenario_kernel.kubeconfig,
        tmp_path_factory.mktemp("kubectl-home"),
    )


# In the scenario's own order (it builds on earlier steps); collected here against the kernel.
test_namespace_and_apply = scenario.test_namespace_and_apply
test_get_json_yaml_and_columns = scenario.test_get_json_yaml_and_columns
test_label_annotate_and_three_patch_types = scenario.test_label_annotate_and_three_patch_types
test_scale_and_server_side_apply = scenario.test_scale_and_server_side_apply
test_get_watch_sees_a_change = scenario.test_get_watch_sees_a_change
test_crd_then_custom_objects = scenario.test_crd_then_custom_objects
test_api_resources_and_explain = scenario.test_api_resources_and_explain
test_delete_wait_and_namespace_deletion = scenario.test_delete_wait_and_namespace_deletion
test_crd_deletion_removes_the_resource = scenario.test_crd_deletion_removes_the_resource
test_every_kubectl_create_subcommand = scenario.test_every_kubectl_create_subcommand


def test_exec_refused_upstream_shows_the_upstreams_reason(kctl: Kubectl) -> None:
    # kubectl tries a WebSocket, falls back to SPDY when that is refused, and prints the SPDY
    # answer: it must carry the upstream's reason, not the proxy's "use WebSockets".
    kctl.run("create", "namespace", "exec-refused")
    kctl.run("run", "idle", "-n", "exec-refused", "--image", "busybox:1", "--restart", "Never")
    result = kctl.run("exec", "idle", "-n", "exec-refused", "--", "ls", check=False)
    assert result.returncode != 0
    assert "pod idle does not have a host assigned" in result.stderr, result.stderr
    assert "SPDY" not in result.stderr, result.stderr
    kctl.run("delete", "namespace", "exec-refused", "--wait=false")
