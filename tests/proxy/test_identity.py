"""Identity across the proxy: the embedded cluster honours impersonation from its admin
identity, and the in-cluster service account credentials (token re-read as it rotates)."""

from __future__ import annotations

import os
import shutil
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from luban.auth.user import UserInfo
from luban.proxy.credentials import load_in_cluster
from luban.proxy.upstream import Upstream
from tests.proxy.conftest import Embedded, Upstreams


@pytest.fixture
def seen_users(embedded: Embedded) -> Any:
    """Records the user the embedded cluster resolved for each resource request, by path.

    The kernel makes resource requests of its own (as itself) at any time, so a test looks
    up the requests to its own path rather than the last one.
    """
    api = embedded.cluster.api
    original = api.handle
    users: list[tuple[str, UserInfo | None]] = []

    async def recording(request: Any, info: Any) -> Any:
        users.append((request.url.path, request.scope.get("luban.user")))
        return await original(request, info)

    api.handle = recording  # type: ignore[method-assign]
    try:
        yield users
    finally:
        api.handle = original  # type: ignore[method-assign]


def _last_user(seen: list[tuple[str, UserInfo | None]], path: str) -> UserInfo | None:
    return [user for seen_path, user in seen if seen_path == path][-1]


def test_kernel_caller_reaches_the_embedded_cluster_as_itself(
    embedded: Embedded, seen_users: list[tuple[str, UserInfo | None]]
) -> None:
    kernel = embedded.kernel
    path = "/api/v1/namespaces/default/configmaps"
    response = httpx.get(kernel.url + path, headers=kernel.auth, verify=kernel.verify)
    assert response.status_code == 200
    user = _last_user(seen_users, path)
    assert user is not None
    assert (user.name, user.uid) == ("admin", "luban-admin")
    assert "system:masters" in user.groups


def test_embedded_cluster_honours_admin_impersonation(
    embedded: Embedded, seen_users: list[tuple[str, UserInfo | None]]
) -> None:
    cluster = embedded.cluster
    auth = {"Authorization": f"Bearer {cluster.token}"}
    verify = ssl.create_default_context(cafile=str(cluster.ca_file))
    with httpx.Client(base_url=cluster.url, verify=verify, headers=auth) as c:
        plain = c.get("/api/v1/namespaces")
        assert plain.status_code == 200
        admin = _last_user(seen_users, "/api/v1/namespaces")
        assert admin is not None
        assert admin.name == "system:admin"
        acting = c.get("/api/v1/namespaces", headers=[
            ("Impersonate-User", "alice"), ("Impersonate-Group", "system:masters"),
            ("Impersonate-Uid", "u-1"),
            ("Impersonate-Extra-Acme.com%2Fscopes", "read"),
            ("Impersonate-Extra-Acme.com%2Fscopes", "write"),
        ])  # fmt: skip
        assert acting.status_code == 200
        assert _last_user(seen_users, "/api/v1/namespaces") == UserInfo(
            "alice", "u-1", ("system:masters", "system:authenticated"),
            {"acme.com/scopes": ("read", "write")},
        )  # fmt: skip
        no_user = c.get("/api/v1/namespaces", headers={"Impersonate-Group": "g1"})
        assert no_user.status_code == 400
        assert no_user.json()["kind"] == "Status"


async def test_in_cluster_credentials(
    upstreams: Upstreams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("sa-token-1")
    shutil.copy(upstreams.directory / "other-pki" / "ca.crt", account / "ca.crt")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", upstreams.wrong_ca.url.rsplit(":", 1)[1])
    upstream = Upstream("default", load_in_cluster(account), connect_timeout=5)
    await upstream.open()
    assert upstream.session is not None
    try:
        seen = []
        for token in ("sa-token-1", "sa-token-2"):
            (account / "token").write_text(token)
            later = time.time() + len(seen) + 1  # a new mtime even on coarse file systems
            os.utime(account / "token", (later, later))
            authorization = await upstream.credentials.authorization()
            async with upstream.session.get(
                upstream.server + "/api/v1/nodes", headers={"Authorization": authorization or ""}
            ) as response:
                assert response.status == 200
            seen.append(upstreams.wrong_ca.last("/api/v1/nodes").header("Authorization"))
        assert seen == ["Bearer sa-token-1", "Bearer sa-token-2"]
    finally:
        await upstream.close()
