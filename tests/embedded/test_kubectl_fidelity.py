"""What trying kubectl by hand against the embedded cluster turned up, beyond the scenario:
defaulting on create and update, ``kubectl diff`` noise, server-side-applied Secrets, and the
pod streams (log, exec, attach, portforward) of a cluster that runs no kubelets."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.embedded.conftest import Kubectl
from tests.procs import ClusterProcess

NS = "fidelity"
PODS = f"/api/v1/namespaces/{NS}/pods"

DAEMONSET = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {NS}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec: {{containers: [{{name: a, image: agent:1}}]}}
"""
STATEFULSET = f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {NS}}}
spec:
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec: {{containers: [{{name: db, image: db:1}}]}}
"""
SERVICE = f"""
apiVersion: v1
kind: Service
metadata: {{name: edge, namespace: {NS}}}
spec:
  type: NodePort
  selector: {{app: edge}}
  ports: [{{port: 80}}]
"""


@pytest.fixture(scope="module")
def ns(kctl: Kubectl) -> str:
    kctl.run("create", "namespace", NS)
    return NS


@pytest.fixture(scope="module")
def http(cluster: ClusterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=cluster.url,
        verify=ssl.create_default_context(cafile=str(cluster.ca_file)),
        headers={"Authorization": f"Bearer {cluster.token}"},
        timeout=10,
    ) as client:
        yield client


def _pod(http: httpx.Client, name: str, containers: list[str], node: str = "") -> None:
    spec: dict = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    created = http.post(PODS, json={"metadata": {"name": name}, "spec": spec})
    assert created.status_code == 201, created.text


def test_create_deployment_gets_the_rolling_update_defaults(kctl: Kubectl, ns: str) -> None:
    # kubectl create deployment sends `strategy: {}`: each field is defaulted on its own.
    kctl.run("create", "deployment", "web", "--image=nginx", "-n", ns)
    strategy = kctl.json("get", "deploy", "web", "-n", ns)["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert (
        "StrategyType:           RollingUpdate"
        in kctl.run("describe", "deploy", "web", "-n", ns).stdout
    )


def test_daemonset_and_statefulset_defaults(kctl: Kubectl, ns: str) -> None:
    kctl.run("apply", "-f", "-", stdin=DAEMONSET + "---" + STATEFULSET)
    ds = kctl.json("get", "ds", "agent", "-n", ns)["spec"]
    assert ds["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    assert ds["revisionHistoryLimit"] == 10
    sts = kctl.json("get", "sts", "db", "-n", ns)["spec"]
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert sts["replicas"] == 1


def test_replace_with_the_original_manifest_keeps_defaults_and_allocations(
    kctl: Kubectl, ns: str
) -> None:
    kctl.run("create", "-f", "-", stdin=DAEMONSET.replace("agent", "agent2") + "---" + SERVICE)
    before = kctl.json("get", "ds", "agent2", "-n", ns)
    service = kctl.json("get", "svc", "edge", "-n", ns)["spec"]
    kctl.run("replace", "-f", "-", stdin=DAEMONSET.replace("agent", "agent2") + "---" + SERVICE)
    after = kctl.json("get", "ds", "agent2", "-n", ns)
    # The same manifest: nothing changed, so no new generation and the defaults stay.
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] == 1
    replaced = kctl.json("get", "svc", "edge", "-n", ns)["spec"]
    assert replaced["clusterIP"] == service["clusterIP"]
    assert replaced["ports"][0]["nodePort"] == service["ports"][0]["nodePort"]
    assert replaced["ports"][0]["targetPort"] == 80


def test_diff_after_server_side_apply_shows_only_the_change(kctl: Kubectl, ns: str) -> None:
    cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: diffed, namespace: {ns}}}\n"
    kctl.run("apply", "--server-side", "-f", "-", stdin=cm + "data: {a: '1'}\n")
    # Client-side diff patches `annotations: {}` in; the real server encodes no empty map.
    diff = kctl.run("diff", "-f", "-", stdin=cm + "data: {a: '2'}\n", check=False)
    assert diff.returncode == 1, diff.stderr
    changed = [line for line in diff.stdout.splitlines() if line[:1] in "+-"]
    assert [line for line in changed if not line.startswith(("+++", "---"))] == [
        '-  a: "1"',
        '+  a: "2"',
    ]


def test_server_side_applied_secret_stores_string_data_as_data(kctl: Kubectl, ns: str) -> None:
    secret = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: ssa, namespace: {ns}}}\n"
    kctl.run("apply", "--server-side", "-f", "-", stdin=secret + "stringData: {pw: hunter2}\n")
    stored = kctl.json("get", "secret", "ssa", "-n", ns)
    assert stored["data"] == {"pw": "aHVudGVyMg=="}
    assert "stringData" not in stored


def test_logs_of_a_pod_no_node_runs_are_empty(kctl: Kubectl, http: httpx.Client, ns: str) -> None:
    _pod(http, "idle", ["main"])
    logs = kctl.run("logs", "idle", "-n", ns)
    assert logs.stdout == ""
    assert http.get(f"{PODS}/idle/log").status_code == 204
    wrong = kctl.run("logs", "idle", "-c", "nope", "-n", ns, check=False)
    assert "container nope is not valid for pod idle" in wrong.stderr
    bad = http.get(f"{PODS}/idle/log", params={"tailLines": "-5", "limitBytes": "0"}).json()
    assert bad["code"] == 422
    assert bad["message"] == (
        'PodLogOptions "idle" is invalid: [tailLines: Invalid value: -5: must be greater than '
        "or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]"
    )
    assert http.get(f"{PODS}/ghost/log").json()["message"] == 'pods "ghost" not found'


def test_exec_and_attach_say_the_pod_has_no_host(
    kctl: Kubectl, http: httpx.Client, ns: str
) -> None:
    _pod(http, "pending", ["main"])
    _pod(http, "two", ["a", "b"])
    result = kctl.run("exec", "pending", "-n", ns, "--", "ls", check=False)
    assert result.returncode == 1
    assert "pod pending does not have a host assigned" in result.stderr
    attach = http.post(f"{PODS}/pending/attach", params={"stdout": "true"}).json()
    assert (attach["code"], attach["reason"]) == (400, "BadRequest")
    assert attach["message"] == "pod pending does not have a host assigned"
    which = http.post(f"{PODS}/two/exec", params={"command": "ls"}).json()
    assert (
        which["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    )
    forward = http.post(f"{PODS}/pending/portforward", params={"ports": "80"}).json()
    assert forward["message"] == "pod pending does not have a host assigned"


def test_a_pod_bound_to_a_node_names_the_missing_node_or_kubelet(
    http: httpx.Client, ns: str
) -> None:
    _pod(http, "placed", ["main"], node="node-1")
    missing = http.get(f"{PODS}/placed/log")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'nodes "node-1" not found'
    assert http.post("/api/v1/nodes", json={"metadata": {"name": "node-1"}}).status_code == 201
    for response in (http.get(f"{PODS}/placed/log"), http.post(f"{PODS}/placed/exec")):
        assert response.status_code == 500
        assert 'node "node-1" has no kubelet' in response.json()["message"]


def _handshake(cluster: ClusterProcess, path: str, token: str | None) -> InvalidStatus:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = cluster.url.replace("https://", "wss://") + path
    with pytest.raises(InvalidStatus) as refused:
        connect(
            url, ssl=context, additional_headers=headers, subprotocols=["v5.channel.k8s.io"]
        ).close()
    return refused.value


def test_websocket_exec_is_refused_with_the_status(
    cluster: ClusterProcess, http: httpx.Client, ns: str
) -> None:
    """kubectl >= 1.31 tries a WebSocket first: its refusal must carry the real reason."""
    _pod(http, "ws", ["main"])
    refused = _handshake(cluster, f"{PODS}/ws/exec?command=ls&stdout=true", cluster.token)
    assert refused.response.status_code == 400
    body = json.loads(refused.response.body or b"{}")
    assert body["message"] == "pod ws does not have a host assigned"
    other = _handshake(cluster, f"/api/v1/namespaces/{ns}/configmaps?watch=true", cluster.token)
    assert other.response.status_code == 400
    assert "WebSocket upgrades are served only for pods" in (other.response.body or b"").decode()
    anonymous = _handshake(cluster, f"{PODS}/ws/exec?command=ls", None)
    assert anonymous.response.status_code == 401
