"""The Python API: ``async with EmbeddedCluster() as cluster`` for tests and extensions."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import yaml

from luban.embedded.cluster import EmbeddedCluster


async def test_in_memory_cluster_yields_url_token_kubeconfig() -> None:
    async with EmbeddedCluster() as cluster:
        assert cluster.url.startswith("https://127.0.0.1:")
        assert cluster.token
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == cluster.url
        assert config["users"][0]["user"]["token"] == cluster.token
        assert cluster.kubeconfig.stat().st_mode & 0o777 == 0o600
        assert cluster.ca_file is not None
        verify = ssl.create_default_context(cafile=str(cluster.ca_file))
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with httpx.AsyncClient(base_url=cluster.url, verify=verify) as http:
            assert (await http.get("/api/v1/namespaces")).status_code == 401
            names = {
                n["metadata"]["name"]
                for n in (await http.get("/api/v1/namespaces", headers=headers)).json()["items"]
            }
            assert {"default", "kube-system", "kube-public"} <= names
            made = await http.post(
                "/api/v1/namespaces/default/configmaps",
                headers=headers,
                json={"metadata": {"name": "x"}},
            )
            assert made.status_code == 201
        state = cluster.state_dir
    assert not state.exists()  # the in-memory cluster leaves nothing behind
    async with EmbeddedCluster(tls=False) as again:
        assert again.url.startswith("http://")
        async with httpx.AsyncClient(base_url=again.url) as http:
            response = await http.get(
                "/api/v1/namespaces/default/configmaps/x",
                headers={"Authorization": f"Bearer {again.token}"},
            )
            assert response.status_code == 404  # a fresh in-memory cluster is empty


async def test_data_dir_persists(tmp_path: Path) -> None:
    async with EmbeddedCluster(tmp_path, tls=False) as cluster:
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with httpx.AsyncClient(base_url=cluster.url, headers=headers) as http:
            made = await http.post(
                "/api/v1/namespaces/default/configmaps",
                json={"metadata": {"name": "kept"}, "data": {"a": "1"}},
            )
            rv = int(made.json()["metadata"]["resourceVersion"])
        token = cluster.token
    assert (tmp_path / "cluster.db").exists()
    async with EmbeddedCluster(tmp_path, tls=False) as cluster:
        assert cluster.token == token  # the generated token is kept too
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with httpx.AsyncClient(base_url=cluster.url, headers=headers) as http:
            got = await http.get("/api/v1/namespaces/default/configmaps/kept")
            assert got.json()["data"] == {"a": "1"}
            assert int(got.json()["metadata"]["resourceVersion"]) == rv
            later = await http.post(
                "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "later"}}
            )
            assert int(later.json()["metadata"]["resourceVersion"]) > rv
