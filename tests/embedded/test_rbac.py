"""Authentication and RBAC of the embedded cluster, judged by kubectl with per-user tokens."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.embedded.conftest import Kubectl
from tests.procs import ClusterProcess

TOKENS = 'alice-token,alice,uid-alice,"dev,qa"\nbob-token,bob,uid-bob\n'
ISSUER = "https://kubernetes.default.svc.cluster.local"


@pytest.fixture(scope="module")
def http(cluster: ClusterProcess) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    with httpx.Client(base_url=cluster.url, verify=context, timeout=30) as client:
        yield client


def _wait_for(http: httpx.Client, token: str, allowed: set[int]) -> int:
    deadline = time.monotonic() + 10
    while True:
        code = http.get("/api", headers={"Authorization": f"Bearer {token}"}).status_code
        if code in allowed or time.monotonic() > deadline:
            return code
        time.sleep(0.1)


@pytest.fixture(scope="module")
def users(cluster: ClusterProcess, kctl: Kubectl, http: httpx.Client) -> None:
    """alice (view in namespace a) and bob (no bindings) from the token file."""
    (cluster.data_dir / "tokens.csv").write_text(TOKENS)
    assert _wait_for(http, "bob-token", {200}) == 200
    for namespace in ("a", "b"):
        kctl.run("create", "namespace", namespace)
    kctl.run("create", "rolebinding", "alice-view", "-n", "a", "--clusterrole=view", "--user=alice")


def as_user(kctl: Kubectl, token: str, *args: str, check: bool = False) -> tuple[int, str, str]:
    result = kctl.run("--token", token, *args, check=check)
    return result.returncode, result.stdout, result.stderr


def test_alice_view_in_namespace_a(kctl: Kubectl, users: None) -> None:
    kctl.run("run", "web", "-n", "a", "--image=nginx")
    code, out, _ = as_user(kctl, "alice-token", "get", "pods", "-n", "a", "-o", "name")
    assert code == 0
    assert out.strip() == "pod/web"
    code, _, err = as_user(kctl, "alice-token", "get", "pods", "-n", "b")
    assert code == 1
    assert (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "b"' in err
    )
    code, _, err = as_user(kctl, "alice-token", "get", "secrets", "-n", "a")
    assert 'User "alice" cannot list resource "secrets"' in err
    code, _, err = as_user(kctl, "alice-token", "delete", "pod", "web", "-n", "a")
    assert code == 1
    assert 'cannot delete resource "pods"' in err
    code, out, _ = as_user(kctl, "alice-token", "logs", "web", "-n", "a", check=False)
    assert "forbidden" not in out


def test_forbidden_status_shape(http: httpx.Client, users: None) -> None:
    auth = {"Authorization": "Bearer alice-token"}
    response = http.get("/apis/apps/v1/namespaces/b/deployments/x", headers=auth)
    assert response.status_code == 403
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "x" is forbidden: User "alice" cannot get resource '
        '"deployments" in API group "apps" in the namespace "b"',
        "reason": "Forbidden",
        "details": {"name": "x", "group": "apps", "kind": "deployments"},
        "code": 403,
    }
    response = http.get("/api/v1/nodes", headers=auth)
    assert response.json()["message"] == (
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
        "at the cluster scope"
    )
    assert response.json()["details"] == {"kind": "nodes"}
    response = http.get("/logs/", headers=auth)
    assert response.status_code == 403
    assert response.json()["message"] == 'forbidden: User "alice" cannot get path "/logs/"'


def test_can_i(kctl: Kubectl, users: None) -> None:
    def can(*args: str) -> str:
        return as_user(kctl, "alice-token", "auth", "can-i", *args)[1].strip()

    assert can("list", "pods", "-n", "a") == "yes"
    assert can("watch", "deployments.apps", "-n", "a") == "yes"
    assert can("get", "pods", "--subresource=log", "-n", "a") == "yes"
    assert can("create", "pods", "-n", "a") == "no"
    assert can("list", "secrets", "-n", "a") == "no"
    assert can("list", "pods", "-n", "b") == "no"
    assert can("get", "/api") == "yes"
    assert can("get", "/logs") == "no"
    listing = as_user(kctl, "alice-token", "auth", "can-i", "--list", "-n", "a")[1]
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
    assert "pods" in rows
    assert "[get list watch]" in rows["pods"]
    assert "secrets" not in rows
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    admin = kctl.run("auth", "can-i", "--list").stdout
    assert "*.*" in admin


def test_bob_only_discovery(kctl: Kubectl, http: httpx.Client, users: None) -> None:
    code, out, _ = as_user(kctl, "bob-token", "api-resources", "-o", "name")
    assert code == 0
    assert "pods" in out
    for args in (("get", "pods", "-n", "a"), ("get", "namespaces"), ("get", "clusterroles")):
        code, _, err = as_user(kctl, "bob-token", *args)
        assert code == 1
        assert 'User "bob" cannot list' in err
    assert as_user(kctl, "bob-token", "auth", "can-i", "get", "pods", "-A")[1].strip() == "no"
    auth = {"Authorization": "Bearer bob-token"}
    for path in ("/version", "/api", "/apis", "/api/v1", "/openapi/v2", "/healthz"):
        assert http.get(path, headers=auth).status_code == 200, path
    assert http.get("/healthz").status_code == 200  # anonymous: public-info-viewer
    assert http.get("/api/v1/pods").status_code == 401


def test_whoami(kctl: Kubectl, users: None) -> None:
    out = as_user(kctl, "alice-token", "auth", "whoami", "-o", "json", check=True)[1]
    info = json.loads(out)["status"]["userInfo"]
    assert info == {
        "username": "alice",
        "uid": "uid-alice",
        "groups": ["dev", "qa", "system:authenticated"],
    }


def test_token_file_reloaded(cluster: ClusterProcess, http: httpx.Client, users: None) -> None:
    path = cluster.data_dir / "tokens.csv"
    path.write_text(TOKENS + "carol-token,carol,uid-carol\n")
    assert _wait_for(http, "carol-token", {200}) == 200
    path.write_text(TOKENS)
    assert _wait_for(http, "carol-token", {401}) == 401


def _token(kctl: Kubectl, name: str, *args: str) -> str:
    return kctl.run("create", "token", name, "-n", "a", *args).stdout.strip()


def test_service_account_token(kctl: Kubectl, http: httpx.Client, users: None) -> None:
    kctl.run("create", "serviceaccount", "robot", "-n", "a")
    kctl.run(
        "create", "rolebinding", "robot-edit", "-n", "a", "--clusterrole=edit",
        "--serviceaccount=a:robot",
    )  # fmt: skip
    token = _token(kctl, "robot", "--duration=15m")
    claims = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:a:robot"
    assert claims["iss"] == ISSUER
    assert 890 <= claims["exp"] - claims["iat"] <= 910
    code, out, _ = as_user(kctl, token, "create", "configmap", "c1", "-n", "a")
    assert code == 0, out
    who = json.loads(as_user(kctl, token, "auth", "whoami", "-o", "json", check=True)[1])
    assert who["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:a",
        "system:authenticated",
    ]
    other_audience = _token(kctl, "robot", "--audience=vault")
    auth = {"Authorization": f"Bearer {other_audience}"}
    assert http.get("/api/v1/namespaces/a/pods", headers=auth).status_code == 401
    code, _, err = kctl.run("create", "token", "ghost", "-n", "a", check=False).returncode, "", ""
    assert code == 1
    short = kctl.run("create", "token", "robot", "-n", "a", "--duration=1m", check=False)
    assert "may not specify a duration less than 10 minutes" in short.stderr
    kctl.run("delete", "serviceaccount", "robot", "-n", "a")
    code, _, err = as_user(kctl, token, "get", "configmaps", "-n", "a")
    assert code == 1
    assert "Unauthorized" in err
    kctl.run("create", "serviceaccount", "robot", "-n", "a")  # same name, new uid
    code, _, err = as_user(kctl, token, "get", "configmaps", "-n", "a")
    assert code == 1
    assert "Unauthorized" in err


def test_impersonation(kctl: Kubectl, http: httpx.Client, users: None) -> None:
    code, _, err = as_user(kctl, "alice-token", "get", "pods", "-n", "a", "--as", "admin")
    assert code == 1
    assert (
        'users "admin" is forbidden: User "alice" cannot impersonate resource "users" in API '
        'group "" at the cluster scope' in err
    )
    code, _, err = as_user(kctl, "bob-token", "get", "pods", "-n", "a", "--as", "alice")
    assert code == 1
    assert "cannot impersonate" in err
    # The admin (system:masters) may act as anyone, and is then judged as them.
    assert kctl.run("get", "pods", "-n", "a", "--as", "alice", check=False).returncode == 0
    denied = kctl.run("get", "pods", "-n", "b", "--as", "alice", check=False)
    assert 'User "alice" cannot list resource "pods"' in denied.stderr
    out = kctl.run("auth", "whoami", "--as", "alice", "--as-group", "dev", "-o", "json").stdout
    assert json.loads(out)["status"]["userInfo"]["groups"] == ["dev", "system:authenticated"]
    # A caller RBAC allows to impersonate users (but not groups) may do exactly that.
    kctl.run(
        "create", "clusterrole", "impersonate-alice", "--verb=impersonate", "--resource=users",
        "--resource-name=alice",
    )  # fmt: skip
    kctl.run(
        "create", "clusterrolebinding", "bob-impersonates", "--clusterrole=impersonate-alice",
        "--user=bob",
    )  # fmt: skip
    code, out, err = as_user(kctl, "bob-token", "get", "pods", "-n", "a", "--as", "alice")
    assert code == 0, err
    code, _, err = as_user(
        kctl, "bob-token", "get", "pods", "-n", "a", "--as", "alice", "--as-group", "admins"
    )
    assert code == 1
    assert 'groups "admins" is forbidden' in err
    auth = {"Authorization": "Bearer bob-token", "Impersonate-Group": "x"}
    assert http.get("/api/v1/namespaces/a/pods", headers=auth).status_code == 400


def _review(http: httpx.Client, token: str, path: str, body: dict) -> httpx.Response:
    return http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_subject_access_reviews(cluster: ClusterProcess, http: httpx.Client, users: None) -> None:
    sar = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "resourceAttributes": {"namespace": "a", "verb": "list", "resource": "pods"},
        },
    }
    response = _review(http, cluster.token, sar, body)
    assert response.status_code == 201
    status = response.json()["status"]
    assert status["allowed"] is True
    assert status["reason"] == (
        'RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "view" to User "alice"'
    )
    body["spec"]["resourceAttributes"]["namespace"] = "b"
    assert _review(http, cluster.token, sar, body).json()["status"] == {"allowed": False}
    body["spec"] = {"groups": ["system:authenticated"], "nonResourceAttributes": {
        "path": "/apis/apps", "verb": "get"}}  # fmt: skip
    assert _review(http, cluster.token, sar, body).json()["status"]["allowed"] is True
    assert _review(http, "alice-token", sar, body).status_code == 403  # SAR needs a grant
    assert _review(http, cluster.token, sar, {"spec": {"user": "x"}}).status_code == 422
    local = "/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews"
    body = {"spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"}}}
    response = _review(http, cluster.token, local, body)
    assert response.status_code == 201
    assert response.json()["status"]["allowed"] is True
    review = "/apis/authentication.k8s.io/v1/tokenreviews"
    response = _review(http, cluster.token, review, {"spec": {"token": "alice-token"}})
    assert response.json()["status"]["user"]["username"] == "alice"
    response = _review(http, cluster.token, review, {"spec": {"token": "nope"}})
    assert response.json()["status"]["authenticated"] is False


def test_aggregated_roles(kctl: Kubectl, users: None) -> None:
    def rules(name: str) -> list[dict]:
        return kctl.json("get", "clusterrole", name)["rules"]

    view, edit, admin = rules("view"), rules("edit"), rules("admin")
    assert all(rule in edit for rule in view)
    assert all(rule in admin for rule in edit)
    assert not any("secrets" in rule.get("resources", ()) for rule in view)
    assert any("secrets" in rule["resources"] and "create" in rule["verbs"] for rule in edit)
    assert any("rolebindings" in rule["resources"] for rule in admin)
    kctl.run("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view",
                     "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
    }))  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any("widgets" in rule.get("resources", ()) for rule in rules("admin")):
            break
        time.sleep(0.1)
    assert any("widgets" in rule.get("resources", ()) for rule in rules("view"))
    assert any("widgets" in rule.get("resources", ()) for rule in rules("admin"))


def _signed(cluster: ClusterProcess, header: dict, **claims: object) -> str:
    key = ECKey.import_key((cluster.data_dir / "service-account.key").read_bytes())
    now = int(time.time())
    payload = {
        "iss": ISSUER, "aud": [ISSUER], "iat": now - 7200, "nbf": now - 7200, "exp": now + 600,
        "sub": "system:serviceaccount:a:robot",
        "kubernetes.io": {"namespace": "a", "serviceaccount": {"name": "robot", "uid": "x"}},
    }  # fmt: skip
    payload.update(claims)
    return jwt.encode({"alg": "ES256", **header}, payload, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_fuzz_authenticator(cluster: ClusterProcess, http: httpx.Client, users: None) -> None:
    good = _signed(cluster, {})
    header, payload, _ = good.split(".")
    none_alg = _b64(b'{"alg":"none","typ":"JWT"}') + "." + payload + "."
    hs256 = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + payload + "." + _b64(b"x" * 32)
    values = [
        "", "Bearer", "Bearer ", "Bearer  ", "Basic YWxpY2U6cHc=", "bearer nope",
        "Bearer " + "a" * 20_000, "Bearer " + "a.b.c", "Bearer ...", "Bearer !!!.@@@.###",
        "Bearer " + header + "." + payload, "Bearer " + none_alg, "Bearer " + hs256,
        "Bearer " + good[:-4] + "AAAA", "Bearer alice-token x",
        "Bearer " + _signed(cluster, {}, exp=int(time.time()) - 10),
        "Bearer " + _signed(cluster, {}, aud=["someone-else"]),
        "Bearer " + _signed(cluster, {}, iss="https://evil.example"),
        "Bearer " + _signed(cluster, {}, exp="soon"),
        "Bearer " + _signed(cluster, {}, **{"kubernetes.io": "x"}),
        "Bearer " + _signed(cluster, {"kid": "../../etc"}),
        "Bearer " + good,  # signature fine, but no such ServiceAccount uid
    ]  # fmt: skip
    for value in values:
        status, body = _raw_get(cluster, b"Authorization: " + value.encode("latin-1"))
        assert status == 401, (value[:80], body)
        assert orjson.loads(body)["reason"] == "Unauthorized"
    for raw in (
        b"Authorization: Bearer \xff\xfe",
        b"Authorization: Bearer a\x00b",
        b"Authorization: \x7f",
    ):
        status, _ = _raw_get(cluster, raw)
        assert status in (400, 401)


def _raw_get(cluster: ClusterProcess, header: bytes) -> tuple[int, bytes]:
    """GET with one header sent byte for byte (httpx refuses some of the malformed ones)."""
    host, port = cluster.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    with (
        socket.create_connection((host, int(port)), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        request = b"GET /api/v1/namespaces/a/pods HTTP/1.1\r\nHost: " + host.encode()
        tls.sendall(request + b"\r\nConnection: close\r\n" + header + b"\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
