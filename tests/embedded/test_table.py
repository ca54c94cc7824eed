"""Server-side Table printing: Accept negotiation, ages, built-in printers and CRD columns.

Expected cells follow the real API server's printers (``pkg/printers/internalversion``,
run in wide mode as the server always does) and the apiextensions table convertor.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from luban.embedded.table import build_table, human_duration, table_version, wants_table
from luban.kube.resources import BUILTIN_TYPES, ResourceType

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(resource: str) -> ResourceType:
    return next(t for t in BUILTIN_TYPES if t.resource == resource)


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(hours=5), **extra}


def table(resource: str | ResourceType, *objects: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kind = rt(resource) if isinstance(resource, str) else resource
    return build_table(kind, list(objects), {"resourceVersion": "42"}, now=NOW, **kw)


def cells(resource: str | ResourceType, obj: dict[str, Any]) -> list[Any]:
    row: list[Any] = table(resource, obj)["rows"][0]["cells"]
    return row


def column_names(resource: str | ResourceType, wide: bool = False) -> list[str]:
    cols = table(resource)["columnDefinitions"]
    return [c["name"] for c in cols if wide or c["priority"] == 0]


# --------------------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-2), "<invalid>"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(seconds=200), "3m20s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=5, minutes=7), "5h7m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(hours=48), "2d"),
        (timedelta(hours=51), "2d3h"),
        (timedelta(days=7, hours=23), "7d23h"),
        (timedelta(days=8, hours=5), "8d"),
        (timedelta(days=120), "120d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=731), "2y1d"),
        (timedelta(days=365 * 8), "8y"),
        (timedelta(days=365 * 12 + 100), "12y"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


# --------------------------------------------------------------------------- Accept


@pytest.mark.parametrize(
    ("accept", "table", "version"),
    [
        (KUBECTL_ACCEPT, True, "v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", True, "v1beta1"),
        ("application/json; as=Table; g=meta.k8s.io; v=v1", True, "v1"),
        ("application/yaml;as=Table;v=v1;g=meta.k8s.io", True, "v1"),
        ("*/*;as=Table;v=v1;g=meta.k8s.io", True, "v1"),
        ("application/json", False, "v1"),
        ("", False, "v1"),
        ("*/*", False, "v1"),
        # the plain type is listed first, so it wins
        ("application/json,application/json;as=Table;v=v1;g=meta.k8s.io", False, "v1"),
        # ... unless its q is lower
        ("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", True, "v1"),
        # protobuf cannot carry a Table: skipped, the next clause decides
        (
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json",
            False,
            "v1",
        ),
        (
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
            "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
            True,
            "v1beta1",
        ),
        # unknown versions or groups are skipped
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", False, "v1"),
        ("application/json;as=Table;v=v1;g=example.com", False, "v1"),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", False, "v1"),
        ("text/html,application/json;as=Table;v=v1;g=meta.k8s.io", True, "v1"),
    ],
)
def test_accept_negotiation(accept: str, table: bool, version: str) -> None:
    assert wants_table(accept) is table
    assert table_version(accept) == version


# --------------------------------------------------------------------------- Table shape


def test_table_shape_matches_the_api_server() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm", uid="u1")}
    result = build_table(rt("configmaps"), [obj], {"resourceVersion": "7", "continue": ""}, now=NOW)
    assert list(result) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "7"}
    for col in result["columnDefinitions"]:
        assert set(col) == {"name", "type", "format", "description", "priority"}
    assert result["columnDefinitions"][0]["format"] == "name"
    row = result["rows"][0]
    assert row == {
        "cells": ["cm", 0, "5h"],
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        },
    }


def test_include_object_policies() -> None:
    obj = {"metadata": meta("cm"), "data": {"a": "1"}}
    full = table("configmaps", obj, include_object="Object")["rows"][0]["object"]
    assert full == {"apiVersion": "v1", "kind": "ConfigMap", **obj}
    assert table("configmaps", obj, include_object="None")["rows"][0]["object"] is None
    default = table("configmaps", obj, include_object="")["rows"][0]["object"]
    assert default["kind"] == "PartialObjectMetadata"
    beta = table("configmaps", obj, api_version="meta.k8s.io/v1beta1")
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    with pytest.raises(ValueError, match='unrecognized includeObject value: "Everything"'):
        table("configmaps", obj, include_object="Everything")
    with pytest.raises(ValueError, match="no Table exists"):
        table("configmaps", obj, api_version="v1")


def test_list_metadata_is_carried() -> None:
    result = build_table(
        rt("pods"), [], {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3}
    )
    assert result["metadata"] == {
        "resourceVersion": "9",
        "continue": "abc",
        "remainingItemCount": 3,
    }
    assert result["rows"] == []


# --------------------------------------------------------------------------- pods


def pod(
    containers: list[dict[str, Any]],
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    init_specs: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": c["name"]} for c in containers]}
    if init_specs is not None:
        spec["initContainers"] = init_specs
    st: dict[str, Any] = {"phase": phase, "containerStatuses": containers, **status}
    if init is not None:
        st["initContainerStatuses"] = init
    return {"metadata": meta("web-0"), "spec": spec, "status": st}


def running(name: str, ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(hours=1)}},
        **extra,
    }


def waiting(name: str, reason: str, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def test_pod_columns() -> None:
    assert column_names("pods") == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert column_names("pods", wide=True)[5:] == [
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]


def test_running_pod_with_one_of_two_ready() -> None:
    obj = pod([running("app"), running("sidecar", ready=False)], podIP="10.0.0.5")
    obj["spec"]["nodeName"] = "node-1"
    assert cells("pods", obj) == [
        "web-0",
        "1/2",
        "Running",
        "0",
        "5h",
        "10.0.0.5",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_crash_loop_with_recent_restart() -> None:
    crashed = waiting(
        "app",
        "CrashLoopBackOff",
        restarts=3,
        lastState={"terminated": {"exitCode": 1, "finishedAt": ago(minutes=5)}},
    )
    row = cells("pods", pod([crashed, running("sidecar")]))
    assert row[1:4] == ["1/2", "CrashLoopBackOff", "3 (5m ago)"]


def test_restarts_sum_and_latest_termination() -> None:
    a = running("a", restarts=2, lastState={"terminated": {"finishedAt": ago(hours=3)}})
    b = running("b", restarts=1, lastState={"terminated": {"finishedAt": ago(minutes=90)}})
    assert cells("pods", pod([a, b]))[3] == "3 (90m ago)"


def test_restarts_without_termination_time() -> None:
    assert cells("pods", pod([running("a", restarts=4)]))[3] == "4"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ({"waiting": {"reason": "ErrImagePull"}}, "ErrImagePull"),
        ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
        ({"terminated": {"exitCode": 0, "reason": "Completed"}}, "Completed"),
        ({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "OOMKilled"),
        ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
        ({"terminated": {"exitCode": 0, "signal": 9}}, "Signal:9"),
    ],
)
def test_container_state_reasons(state: dict[str, Any], status: str) -> None:
    obj = pod([{"name": "app", "ready": False, "restartCount": 0, "state": state}])
    assert cells("pods", obj)[1:3] == ["0/1", status]


def test_first_container_with_a_reason_wins() -> None:
    obj = pod([waiting("a", "ImagePullBackOff"), waiting("b", "CrashLoopBackOff")])
    assert cells("pods", obj)[2] == "ImagePullBackOff"


def test_pending_pod_without_statuses() -> None:
    obj = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Pending"},
    }
    assert cells("pods", obj)[1:4] == ["0/1", "Pending", "0"]


def test_succeeded_pod_has_a_completed_row_condition() -> None:
    done = {
        "name": "job",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    result = table("pods", pod([done], phase="Succeeded"))
    row = result["rows"][0]
    assert row["cells"][2] == "Completed"
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    failed = table("pods", pod([waiting("a", "Error")], phase="Failed"))["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in table("pods", pod([running("a")]))["rows"][0]


def test_completed_container_next_to_a_running_one() -> None:
    done = {
        "name": "a",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    ready = [{"type": "Ready", "status": "True"}]
    assert cells("pods", pod([done, running("b")], conditions=ready))[2] == "Running"
    assert cells("pods", pod([done, running("b")]))[2] == "NotReady"


def test_init_containers() -> None:
    specs = [{"name": "init-a"}, {"name": "init-b"}]
    first_running = [
        {"name": "init-a", "restartCount": 0, "state": {"running": {}}},
        waiting("init-b", "PodInitializing"),
    ]
    obj = pod([waiting("app", "PodInitializing")], "Pending", first_running, specs)
    assert cells("pods", obj)[1:3] == ["0/1", "Init:0/2"]

    second = [
        {"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        waiting("init-b", "CrashLoopBackOff", restarts=2),
    ]
    obj = pod([waiting("app", "PodInitializing")], "Pending", second, specs)
    assert cells("pods", obj)[2:4] == ["Init:CrashLoopBackOff", "2"]

    failed = [
        {
            "name": "init-a",
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 3, "reason": "Error"}},
        }
    ]
    obj = pod([waiting("app", "PodInitializing")], "Pending", failed, specs[:1])
    assert cells("pods", obj)[2] == "Init:Error"

    no_reason = [{"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]
    obj = pod([waiting("app", "PodInitializing")], "Pending", no_reason, specs[:1])
    assert cells("pods", obj)[2] == "Init:ExitCode:3"


def test_sidecar_init_container_counts_as_a_container() -> None:
    specs = [{"name": "proxy", "restartPolicy": "Always"}]
    sidecar = [
        {
            "name": "proxy",
            "ready": True,
            "started": True,
            "restartCount": 1,
            "state": {"running": {}},
            "lastState": {"terminated": {"finishedAt": ago(minutes=30)}},
        }
    ]
    initialized = {"conditions": [{"type": "Initialized", "status": "True"}]}
    obj = pod([running("app")], "Running", sidecar, specs, **initialized)
    assert cells("pods", obj)[1:4] == ["2/2", "Running", "1 (30m ago)"]


def test_terminating_and_lost_pods() -> None:
    obj = pod([running("a")])
    obj["metadata"]["deletionTimestamp"] = ago(seconds=10)
    assert cells("pods", obj)[2] == "Terminating"
    obj["status"]["reason"] = "NodeLost"
    assert cells("pods", obj)[2] == "Unknown"
    done = pod([running("a")], phase="Succeeded")
    done["metadata"]["deletionTimestamp"] = ago(seconds=10)
    assert cells("pods", done)[2] == "Succeeded"  # a terminal pod is not "Terminating"


def test_scheduling_gated_pod() -> None:
    obj = {
        "metadata": meta("g"),
        "spec": {"containers": [{"name": "a"}], "nominatedNodeName": "x"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ],
        },
    }
    assert cells("pods", obj)[2] == "SchedulingGated"


def test_pod_wide_columns() -> None:
    obj = pod(
        [running("a")],
        podIPs=[{"ip": "fd00::5"}, {"ip": "10.0.0.5"}],
        podIP="10.0.0.5",
        nominatedNodeName="node-2",
        conditions=[{"type": "example.com/ready", "status": "True"}],
    )
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/ready"},
        {"conditionType": "example.com/other"},
    ]
    assert cells("pods", obj)[5:] == ["fd00::5", "<none>", "node-2", "1/2"]


# --------------------------------------------------------------------------- workloads


def template(*images: str) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}


def test_deployment_mid_rollout() -> None:
    obj = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
            "template": template("nginx:1.27", "envoy:1"),
        },
        "status": {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2},
    }
    assert column_names("deployments") == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert cells("deployments", obj) == [
        "web",
        "2/3",
        1,
        2,
        "5h",
        "c0,c1",
        "nginx:1.27,envoy:1",
        "app=web,tier in (a,b)",
    ]


def test_deployment_without_status_and_bad_selector() -> None:
    obj = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 0,
            "selector": {"matchExpressions": [{"key": "k", "operator": "Bogus"}]},
            "template": template("a"),
        },
    }
    assert cells("deployments", obj)[1:4] == ["0/0", 0, 0]
    assert cells("deployments", obj)[-1] == "<invalid>"


def test_replica_set_and_statefulset() -> None:
    rs = {
        "metadata": meta("web-5d4f"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template("a"),
        },
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    assert column_names("replicasets") == ["Name", "Desired", "Current", "Ready", "Age"]
    assert cells("replicasets", rs) == ["web-5d4f", 3, 3, 1, "5h", "c0", "a", "app=web"]
    sts = {
        "metadata": meta("db"),
        "spec": {"replicas": 2, "template": template("pg")},
        "status": {"readyReplicas": 2},
    }
    assert column_names("statefulsets", wide=True) == [
        "Name",
        "Ready",
        "Age",
        "Containers",
        "Images",
    ]
    assert cells("statefulsets", sts) == ["db", "2/2", "5h", "c0", "pg"]


def test_daemonset() -> None:
    ds = {
        "metadata": meta("agent"),
        "spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            "template": {
                **template("agent:1"),
                "spec": {**template("agent:1")["spec"], "nodeSelector": {"os": "linux"}},
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert column_names("daemonsets") == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
    ]
    assert cells("daemonsets", ds) == [
        "agent",
        3,
        3,
        2,
        3,
        2,
        "os=linux",
        "5h",
        "c0",
        "agent:1",
        "app",
    ]


def test_jobs() -> None:
    assert column_names("jobs") == ["Name", "Status", "Completions", "Duration", "Age"]
    done = {
        "metadata": meta("pi"),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "template": template("perl"),
            "selector": {"matchLabels": {"b": "2", "a": "1"}},
        },
        "status": {
            "succeeded": 1,
            "startTime": ago(minutes=10),
            "completionTime": ago(minutes=6, seconds=40),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert cells("jobs", done) == ["pi", "Complete", "1/1", "3m20s", "5h", "c0", "perl", "a=1,b=2"]
    running_job = {
        "metadata": meta("work"),
        "spec": {"parallelism": 3, "template": template("w")},
        "status": {"active": 3, "startTime": ago(seconds=45)},
    }
    assert cells("jobs", running_job)[1:4] == ["Running", "0/1 of 3", "45s"]
    not_started = {
        "metadata": meta("later"),
        "spec": {"suspend": True, "template": template("w")},
        "status": {"conditions": [{"type": "Suspended", "status": "True"}]},
    }
    assert cells("jobs", not_started)[1:4] == ["Suspended", "0/1", ""]
    failed = {
        "metadata": meta("f"),
        "spec": {"completions": 2, "template": template("w")},
        "status": {"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]},
    }
    assert cells("jobs", failed)[1:3] == ["Failed", "0/2"]


def test_cronjob() -> None:
    cj = {
        "metadata": meta("backup"),
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": template("backup:2")}},
        },
        "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ago(minutes=3)},
    }
    assert column_names("cronjobs") == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
    ]
    assert cells("cronjobs", cj) == [
        "backup",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "3m",
        "5h",
        "c0",
        "backup:2",
        "<none>",
    ]
    cj["spec"]["timeZone"] = "Europe/Berlin"
    del cj["spec"]["suspend"]
    del cj["status"]["lastScheduleTime"]
    assert cells("cronjobs", cj)[2:6] == ["Europe/Berlin", "<unset>", 1, "<none>"]


# --------------------------------------------------------------------------- services & network


def service(svc_type: str | None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 80, "protocol": "TCP"}], **spec}
    if svc_type:
        body["type"] = svc_type
    return {"metadata": meta("svc"), "spec": body}


def test_service_columns() -> None:
    assert column_names("services") == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
    ]
    assert column_names("services", wide=True)[-1] == "Selector"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            service(
                "ClusterIP",
                clusterIP="10.96.0.10",
                clusterIPs=["10.96.0.10"],
                selector={"app": "web"},
            ),
            ["ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5h", "app=web"],
        ),
        (
            service("ClusterIP", clusterIP="None", clusterIPs=["None"]),
            ["ClusterIP", "None", "<none>", "80/TCP", "5h", "<none>"],
        ),
        (
            service(
                "NodePort",
                clusterIP="10.96.0.11",
                ports=[
                    {"port": 80, "protocol": "TCP"},
                    {"port": 443, "nodePort": 30001, "protocol": "TCP"},
                    {"port": 53, "nodePort": 30053, "protocol": "UDP"},
                ],
                externalIPs=["1.2.3.4"],
            ),
            [
                "NodePort",
                "10.96.0.11",
                "1.2.3.4",
                "80/TCP,443:30001/TCP,53:30053/UDP",
                "5h",
                "<none>",
            ],
        ),
        (
            service(
                "LoadBalancer", clusterIP="10.96.0.12", ports=[{"port": 443, "nodePort": 31443}]
            ),
            ["LoadBalancer", "10.96.0.12", "<pending>", "443:31443/TCP", "5h", "<none>"],
        ),
        (
            {
                **service("LoadBalancer", clusterIPs=["10.96.0.13"], externalIPs=["9.9.9.9"]),
                "status": {
                    "loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}
                },
            },
            [
                "LoadBalancer",
                "10.96.0.13",
                "5.6.7.8,lb.example.com,9.9.9.9",
                "80/TCP",
                "5h",
                "<none>",
            ],
        ),
        (
            service("ExternalName", externalName="db.example.com", ports=[]),
            ["ExternalName", "<none>", "db.example.com", "<none>", "5h", "<none>"],
        ),
    ],
)
def test_service_types(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("services", obj) == ["svc", *expected]


def test_endpoints() -> None:
    many = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                "ports": [{"port": 80}, {"port": 443}],
            }
        ],
    }
    assert cells("endpoints", many) == [
        "web",
        "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
        "5h",
    ]
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "fd00::1"}]}]}
    assert cells("endpoints", headless)[1] == "fd00::1"
    v6 = {
        "metadata": meta("h"),
        "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}],
    }
    assert cells("endpoints", v6)[1] == "[fd00::1]:80"
    assert cells("endpoints", {"metadata": meta("none")})[1] == "<none>"


@pytest.mark.parametrize(
    ("hosts", "text"),
    [
        (["a", "", "b", "c"], "a,b,c"),
        (["a", "b", "", ""], "a,b"),
        (["a", "b", "c", ""], "a,b,c + 1 more..."),
        (["a", "b", "c", "d", "e"], "a,b,c + 2 more..."),
        (["", ""], "*"),
    ],
)
def test_ingress_host_summary(hosts: list[str], text: str) -> None:
    rules = [{"host": h} if h else {} for h in hosts]
    obj = {"metadata": meta("i"), "spec": {"rules": rules}}
    assert cells("ingresses", obj)[2] == text


def test_ingress() -> None:
    obj = {
        "metadata": meta("site"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}},
    }
    assert column_names("ingresses") == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert cells("ingresses", obj) == [
        "site",
        "nginx",
        "a.example.com,b.example.com",
        "1.1.1.1",
        "80, 443",
        "5h",
    ]
    bare = {"metadata": meta("bare"), "spec": {}}
    assert cells("ingresses", bare) == ["bare", "<none>", "*", "", "80", "5h"]


# --------------------------------------------------------------------------- config & cluster


def test_configmap_secret_serviceaccount_namespace() -> None:
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert cells("configmaps", cm) == ["cfg", 3, "5h"]
    secret = {
        "metadata": meta("tls"),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "", "tls.key": ""},
    }
    assert column_names("secrets") == ["Name", "Type", "Data", "Age"]
    assert cells("secrets", secret) == ["tls", "kubernetes.io/tls", 2, "5h"]
    sa = {"metadata": meta("default")}
    assert column_names("serviceaccounts") == ["Name", "Secrets", "Age"]
    assert cells("serviceaccounts", sa) == ["default", 0, "5h"]
    ns = {"metadata": meta("kube-system"), "status": {"phase": "Active"}}
    assert column_names("namespaces") == ["Name", "Status", "Age"]
    assert cells("namespaces", ns) == ["kube-system", "Active", "5h"]


def test_node() -> None:
    node = {
        "metadata": meta(
            "cp-1",
            labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"},
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {
                "kubeletVersion": "v1.33.0",
                "osImage": "Debian",
                "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://2.0",
            },
        },
    }
    assert column_names("nodes") == ["Name", "Status", "Roles", "Age", "Version"]
    assert cells("nodes", node) == [
        "cp-1",
        "Ready,SchedulingDisabled",
        "control-plane,master",
        "5h",
        "v1.33.0",
        "192.168.1.10",
        "<none>",
        "Debian",
        "6.1",
        "containerd://2.0",
    ]
    bare = {
        "metadata": meta("n"),
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    assert cells("nodes", bare)[1:3] == ["NotReady", "<none>"]
    assert cells("nodes", {"metadata": meta("n")})[1] == "Unknown"
    assert cells("nodes", {"metadata": meta("n")})[7:] == ["<unknown>"] * 3


def test_event() -> None:
    ev = {
        "metadata": meta("web.17f"),
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(hours=2),
        "lastTimestamp": ago(minutes=1),
        "count": 12,
    }
    assert column_names("events") == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert cells("events", ev) == [
        "60s",
        "Warning",
        "BackOff",
        "pod/web-0",
        "spec.containers{app}",
        "kubelet, node-1",
        "Back-off restarting failed container",
        "120m",
        12,
        "web.17f",
    ]
    new_api = {
        "metadata": meta("e2"),
        "involvedObject": {"kind": "Node"},
        "eventTime": "2025-03-01T11:59:30.000000Z",
        "reportingComponent": "scheduler",
        "type": "Normal",
        "reason": "Scheduled",
    }
    assert cells("events", new_api)[:4] == ["30s", "Normal", "Scheduled", "node"]
    assert cells("events", new_api)[5] == "scheduler"
    assert cells("events", new_api)[7:9] == ["30s", 1]


def test_persistent_volumes_and_claims() -> None:
    pv = {
        "metadata": meta("pv-1"),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "fast",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert column_names("persistentvolumes") == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
    ]
    assert cells("persistentvolumes", pv) == [
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "fast",
        "<unset>",
        "",
        "5h",
        "Filesystem",
    ]
    pvc = {
        "metadata": meta("data"),
        "spec": {
            "volumeName": "pv-1",
            "storageClassName": "fast",
            "resources": {"requests": {"storage": "5Gi"}},
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "10Gi"},
        },
    }
    assert cells("persistentvolumeclaims", pvc) == [
        "data",
        "Bound",
        "pv-1",
        "10Gi",
        "RWO",
        "fast",
        "<unset>",
        "5h",
        "<unset>",
    ]
    pending = {
        "metadata": meta("new", annotations={"volume.beta.kubernetes.io/storage-class": "slow"}),
        "spec": {"resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Pending"},
    }
    assert cells("persistentvolumeclaims", pending)[1:6] == ["Pending", "", "", "", "slow"]


def test_rbac_bindings_and_default_printers() -> None:
    rb = {
        "metadata": meta("read"),
        "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    assert column_names("rolebindings") == ["Name", "Role", "Age"]
    assert cells("rolebindings", rb) == [
        "read",
        "ClusterRole/view",
        "5h",
        "alice, bob",
        "devs",
        "tools/ci",
    ]
    assert cells("clusterrolebindings", rb)[:3] == ["read", "ClusterRole/view", "5h"]
    for resource in ("roles", "clusterroles", "limitranges", "customresourcedefinitions"):
        result = table(resource, {"metadata": meta("r", creationTimestamp="2024-05-06T07:08:09Z")})
        assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
            ("Name", "string"),
            ("Created At", "date"),
        ]
        assert result["rows"][0]["cells"] == ["r", "2024-05-06T07:08:09Z"]


def test_unknown_type_uses_default_convertor() -> None:
    kind = ResourceType("example.com", "v1", "gadgets", "Gadget", True)
    assert cells(kind, {"metadata": {"name": "g"}}) == ["g", "0001-01-01T00:00:00Z"]


def test_small_cluster_types() -> None:
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-1_abc"}}
    assert cells("leases", lease) == ["kube-scheduler", "cp-1_abc", "5h"]
    sc = {
        "metadata": meta(
            "standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
        ),
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert column_names("storageclasses") == [
        "Name",
        "Provisioner",
        "ReclaimPolicy",
        "VolumeBindingMode",
        "AllowVolumeExpansion",
        "Age",
    ]
    assert cells("storageclasses", sc) == [
        "standard (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "5h",
    ]
    pc = {
        "metadata": meta("high"),
        "value": 1000,
        "globalDefault": False,
        "preemptionPolicy": "Never",
    }
    assert cells("priorityclasses", pc) == ["high", 1000, False, "5h", "Never"]
    pdb = {
        "metadata": meta("pdb"),
        "spec": {"minAvailable": "50%"},
        "status": {"disruptionsAllowed": 1},
    }
    assert cells("poddisruptionbudgets", pdb) == ["pdb", "50%", "N/A", 1, "5h"]
    quota = {
        "metadata": meta("q"),
        "status": {
            "hard": {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "10", "limits.cpu": "4"},
            "used": {"requests.cpu": "500m", "pods": "3"},
        },
    }
    assert cells("resourcequotas", quota) == [
        "q",
        "pods: 3/10, requests.cpu: 500m/2",
        "limits.cpu: 0/4, limits.memory: 0/4Gi",
        "5h",
    ]


def test_controller_revision_and_pod_template() -> None:
    rev = {
        "metadata": meta(
            "web-7c9",
            ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        ),
        "revision": 2,
    }
    assert cells("controllerrevisions", rev) == ["web-7c9", "statefulset.apps/web", 2, "5h"]
    tmpl = {"metadata": meta("t"), "template": template("busybox")}
    assert cells("podtemplates", tmpl) == ["t", "c0", "busybox", "app=web"]


# --------------------------------------------------------------------------- custom resources


def crd_type(*columns: dict[str, Any]) -> ResourceType:
    return ResourceType(
        "stable.example.com",
        "v1",
        "crontabs",
        "CronTab",
        True,
        printer_columns=columns,
        custom=True,
    )


CRONTAB = {
    "apiVersion": "stable.example.com/v1",
    "kind": "CronTab",
    "metadata": meta("my-cron"),
    "spec": {
        "cronSpec": "* * * * */5",
        "replicas": 3,
        "ratio": 0.25,
        "big": 1e6,
        "paused": True,
        "nested": {"b": [1, 2], "a": "<x>"},
        "nothing": None,
    },
    "status": {
        "lastRun": ago(minutes=7),
        "conditions": [
            {"type": "Synced", "status": "False"},
            {"type": "Ready", "status": "True", "message": "all good"},
        ],
    },
}


def test_crd_without_columns_prints_age() -> None:
    result = table(crd_type(), CRONTAB)
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert result["rows"][0]["cells"] == ["my-cron", "5h"]


def test_crd_printer_columns() -> None:
    kind = crd_type(
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
        {
            "name": "Replicas",
            "type": "integer",
            "jsonPath": ".spec.replicas",
            "description": "How many.",
        },
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Last Run", "type": "date", "jsonPath": ".status.lastRun"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "First", "type": "string", "jsonPath": ".status.conditions[0].type"},
        {"name": "Last", "type": "string", "jsonPath": ".status.conditions[-1].message"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nope"},
        {"name": "WrongType", "type": "integer", "jsonPath": ".spec.cronSpec"},
        {"name": "Nested", "type": "string", "jsonPath": ".spec.nested"},
        {"name": "Big", "type": "string", "jsonPath": ".spec.big"},
        {"name": "Null", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )
    result = table(kind, CRONTAB)
    cols = result["columnDefinitions"]
    assert [c["name"] for c in cols][:3] == ["Name", "Spec", "Replicas"]
    assert (
        cols[1]["description"]
        == "Custom resource definition column (in JSONPath format): .spec.cronSpec"
    )
    assert cols[2]["description"] == "How many."
    assert cols[3]["priority"] == 1
    assert result["rows"][0]["cells"] == [
        "my-cron",
        "* * * * */5",
        3,
        0.25,
        True,
        "7m",
        "True",
        "Synced",
        "all good",
        None,
        None,
        '{"a":"\\u003cx\\u003e","b":[1,2]}',
        "1e+06",
        "<no value>",
        "5h",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        (3, "3"),
        (False, "false"),
        ("s", "s"),
    ],
)
def test_crd_string_column_formats_values_like_go(value: Any, text: str) -> None:
    kind = crd_type({"name": "V", "type": "string", "jsonPath": ".spec.v"})
    obj = {**CRONTAB, "spec": {"v": value}}
    assert cells(kind, obj) == ["my-cron", text]


def test_crd_date_and_number_edge_cases() -> None:
    kind = crd_type(
        {"name": "When", "type": "date", "jsonPath": ".spec.when"},
        {"name": "N", "type": "number", "jsonPath": ".spec.n"},
        {"name": "I", "type": "integer", "jsonPath": ".spec.i"},
        {
            "name": "Keyed",
            "type": "string",
            "jsonPath": ".metadata.labels['app.kubernetes.io/name']",
        },
        {
            "name": "Escaped",
            "type": "string",
            "jsonPath": ".metadata.labels.app\\.kubernetes\\.io/name",
        },
    )
    labels = {"app.kubernetes.io/name": "cron"}
    obj = {"metadata": meta("c", labels=labels), "spec": {"when": "yesterday", "n": 2, "i": 2.9}}
    assert cells(kind, obj) == ["c", "<invalid>", 2.0, 2, "cron", "cron"]


def test_replace_keeps_printer_columns_per_version() -> None:
    base = crd_type({"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"})
    other = replace(base, printer_columns=())
    assert column_names(base) == ["Name", "Spec"]
    assert column_names(other) == ["Name", "Age"]
