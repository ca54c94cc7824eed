"""The kubectl scenario of issue #3 against ``luban cluster serve``, once per kubectl version
(1.37 pinned, 1.32 when installed: see tests/kubectls.py), each on a fresh cluster."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded.conftest import Kubectl
from tests.procs import run_cluster

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - {name: MODE, value: prod}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 80}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {password: hunter2}
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec: {type: string, pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'}
              image: {type: string}
              replicas: {type: integer, minimum: 1, maximum: 10}
"""


@pytest.fixture(scope="module")
def kctl(scenario_kubectl: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    """``scenario_kubectl`` against its own cluster: the steps below build on each other."""
    with run_cluster(tmp_path_factory.mktemp("cluster") / "data") as cluster:
        yield Kubectl(scenario_kubectl, cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-home"))


def test_namespace_and_apply(kctl: Kubectl) -> None:
    assert "namespace/shop created" in kctl.run("create", "namespace", "shop").stdout
    out = kctl.run("apply", "-f", "-", stdin=MANIFESTS).stdout
    for line in (
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
        "secret/creds created",
    ):
        assert line in out
    again = kctl.run("apply", "-f", "-", stdin=MANIFESTS).stdout
    assert "deployment.apps/web unchanged" in again
    assert "configmap/settings unchanged" in again


def test_get_json_yaml_and_columns(kctl: Kubectl) -> None:
    deployment = kctl.json("get", "deployment", "web", "-n", "shop")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["generation"] == 1
    assert "last-applied-configuration" in str(deployment["metadata"]["annotations"])
    secret = kctl.json("get", "secret", "creds", "-n", "shop")
    assert secret["data"] == {"password": "aHVudGVyMg=="}
    assert "kind: ConfigMap" in kctl.run("get", "cm", "settings", "-n", "shop", "-o", "yaml").stdout
    table = kctl.run("get", "deploy,svc,cm", "-n", "shop").stdout
    assert "READY" in table
    assert "CLUSTER-IP" in table
    assert "settings" in table
    service = kctl.json("get", "svc", "web", "-n", "shop")
    assert service["spec"]["clusterIP"].startswith("10.")


def test_label_annotate_and_three_patch_types(kctl: Kubectl) -> None:
    kctl.run("label", "cm", "settings", "-n", "shop", "tier=backend")
    kctl.run("annotate", "cm", "settings", "-n", "shop", "owner=ops")
    kctl.run("patch", "cm", "settings", "-n", "shop", "--type=merge", "-p", '{"data":{"size":"L"}}')
    kctl.run(
        "patch",
        "cm",
        "settings",
        "-n",
        "shop",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/data/color","value":"green"}]',
    )
    kctl.run(
        "patch",
        "deploy",
        "web",
        "-n",
        "shop",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}',
    )
    cm = kctl.json("get", "cm", "settings", "-n", "shop")
    assert cm["metadata"]["labels"] == {"tier": "backend"}
    assert cm["metadata"]["annotations"]["owner"] == "ops"
    assert cm["data"] == {"color": "green", "size": "L"}
    deployment = kctl.json("get", "deploy", "web", "-n", "shop")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28"
    assert container["env"] == [{"name": "MODE", "value": "prod"}]  # strategic merge kept it
    assert deployment["metadata"]["generation"] == 2
    bad = kctl.run(
        "patch",
        "cm",
        "settings",
        "-n",
        "shop",
        "--type=json",
        "-p",
        '[{"op":"test","path":"/data/color","value":"red"}]',
        check=False,
    )
    assert bad.returncode != 0


def test_scale_and_server_side_apply(kctl: Kubectl) -> None:
    kctl.run("scale", "deploy", "web", "-n", "shop", "--replicas=3")
    assert kctl.json("get", "deploy", "web", "-n", "shop")["spec"]["replicas"] == 3
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: shop}\ndata: {a: '1'}\n"
    kctl.run("apply", "--server-side", "-f", "-", stdin=cm)
    kctl.run(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        stdin=cm.replace("a: '1'", "a: '2'"),
        check=False,
    )
    conflict = kctl.run(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        stdin=cm.replace("a: '1'", "a: '2'"),
        check=False,
    )
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower()
    kctl.run(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=other",
        "-f",
        "-",
        stdin=cm.replace("a: '1'", "a: '2'"),
    )
    live = kctl.json("get", "cm", "ssa", "-n", "shop", "--show-managed-fields")
    assert live["data"] == {"a": "2"}
    managers = {entry["manager"] for entry in live["metadata"]["managedFields"]}
    assert "other" in managers


def test_get_watch_sees_a_change(kctl: Kubectl) -> None:
    watch = subprocess.Popen(
        [
            str(kctl.binary),
            "--kubeconfig",
            str(kctl.kubeconfig),
            "get",
            "cm",
            "-n",
            "shop",
            "-w",
            "-o",
            "name",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"HOME": str(kctl.home), "PATH": "/usr/bin:/bin"},
    )
    try:
        time.sleep(1.5)
        kctl.run("create", "configmap", "watched", "-n", "shop", "--from-literal=x=1")
        deadline = time.monotonic() + 15
        lines: list[str] = []
        assert watch.stdout is not None
        while time.monotonic() < deadline:
            line = watch.stdout.readline()
            lines.append(line)
            if "watched" in line:
                break
        # The object did not exist when the watch started: this line is a watch event.
        assert any(line.strip() == "configmap/watched" for line in lines), lines
    finally:
        watch.terminate()
        watch.wait(10)


def test_crd_then_custom_objects(kctl: Kubectl) -> None:
    kctl.run("apply", "-f", "-", stdin=CRD)
    kctl.run(
        "wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=10s"
    )
    good = (
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: nightly, "
        "namespace: shop}\nspec: {cronSpec: '0 3 * * *', image: backup, replicas: 2}\n"
    )
    kctl.run("apply", "-f", "-", stdin=good)
    table = kctl.run("get", "crontabs", "-n", "shop").stdout
    assert "SPEC" in table
    assert "0 3 * * *" in table
    assert kctl.json("get", "ct", "nightly", "-n", "shop")["spec"]["replicas"] == 2
    bad = good.replace("nightly", "broken").replace("replicas: 2", "replicas: 50")
    rejected = kctl.run("apply", "-f", "-", stdin=bad, check=False)
    assert rejected.returncode != 0
    assert "spec.replicas" in rejected.stderr
    assert "should be less than or equal to 10" in rejected.stderr
    missing = kctl.run("get", "ct", "broken", "-n", "shop", check=False)
    assert "NotFound" in missing.stderr


def test_api_resources_and_explain(kctl: Kubectl) -> None:
    resources = kctl.run("api-resources").stdout
    for name in ("deployments", "configmaps", "crontabs", "customresourcedefinitions"):
        assert name in resources
    explained = kctl.run("explain", "deployment.spec.replicas").stdout
    assert "replicas" in explained


def test_delete_wait_and_namespace_deletion(kctl: Kubectl) -> None:
    kctl.run("delete", "deploy", "web", "-n", "shop", "--wait")
    assert "NotFound" in kctl.run("get", "deploy", "web", "-n", "shop", check=False).stderr
    kctl.run("delete", "namespace", "shop", "--wait", "--timeout=30s")
    assert "NotFound" in kctl.run("get", "ns", "shop", check=False).stderr
    assert kctl.json("get", "cm", "-A")["items"] == [] or all(
        item["metadata"]["namespace"] != "shop" for item in kctl.json("get", "cm", "-A")["items"]
    )
    leftover = kctl.run("get", "crontabs", "-A", "-o", "json").stdout
    assert json.loads(leftover)["items"] == []


def test_crd_deletion_removes_the_resource(kctl: Kubectl) -> None:
    kctl.run("delete", "crd", "crontabs.stable.example.com", "--wait", "--timeout=30s")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "crontabs" not in kctl.run("api-resources").stdout:
            break
        time.sleep(0.2)
    assert "crontabs" not in kctl.run("api-resources").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("create", "secret", "generic", "s1", "--from-literal=k=v"),
        ("create", "secret", "tls", "t1", "--cert=CERT", "--key=KEY"),
        (
            "create",
            "secret",
            "docker-registry",
            "d1",
            "--docker-server=r.example",
            "--docker-username=u",
            "--docker-password=p",
        ),
        ("create", "service", "clusterip", "c1", "--tcp=80:8080"),
        ("create", "service", "nodeport", "n1", "--tcp=80:8080"),
        ("create", "service", "loadbalancer", "l1", "--tcp=443:8443"),
        ("create", "service", "externalname", "e1", "--external-name=example.com"),
        ("create", "serviceaccount", "sa1"),
        ("create", "deployment", "dep1", "--image=nginx", "--replicas=2"),
        ("create", "job", "job1", "--image=busybox"),
        ("create", "cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *"),
        ("create", "role", "r1", "--verb=get", "--resource=pods"),
        ("create", "rolebinding", "rb1", "--role=r1", "--user=alice"),
        ("create", "clusterrole", "cr1", "--verb=list", "--resource=nodes"),
        ("create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=alice"),
        ("create", "ingress", "ing1", "--rule=foo.example/=svc1:80"),
        ("create", "poddisruptionbudget", "pdb1", "--selector=app=x", "--min-available=1"),
        ("create", "priorityclass", "pc1", "--value=1000"),
        ("create", "quota", "q1", "--hard=pods=10"),
        ("create", "configmap", "cm1", "--from-literal=a=b"),
    ],
)
def test_every_kubectl_create_subcommand(
    kctl: Kubectl, args: tuple[str, ...], tmp_path: Path
) -> None:
    kctl.run("create", "namespace", "creations", check=False)
    if "--cert=CERT" in args:
        from luban.tls import ensure_serving_certificate

        files = ensure_serving_certificate(tmp_path, [])
        args = tuple(
            a.replace("CERT", str(files.cert)).replace("KEY", str(files.key)) for a in args
        )
    namespaced = args[1] not in ("clusterrole", "clusterrolebinding", "priorityclass")
    extra = ("-n", "creations") if namespaced else ()
    result = kctl.run(*args, *extra)
    assert "created" in result.stdout
    kind = {
        "secret": "secret",
        "service": "service",
        "poddisruptionbudget": "pdb",
        "quota": "resourcequota",
    }.get(args[1], args[1])
    name = args[3] if args[1] in ("secret", "service") else args[2]
    got = kctl.json("get", kind, name, *extra)
    assert got["metadata"]["name"] == name
    assert got["metadata"]["uid"]
