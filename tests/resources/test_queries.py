"""List queries of the Resource API against a brute-force reference computed from a plain list."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.procs import KernelProcess
from tests.resources.conftest import create, ensure_namespace

Obj = dict[str, Any]
PHASES = ["Running", "Pending", "Failed", "running"]
APPS = ["web", "db", "cache"]
OWNER: dict[str, str] = {}


def _name(o: Obj) -> str:
    return o["metadata"]["name"]


def _ns(o: Obj) -> str:
    return o["metadata"].get("namespace", "")


def _labels(o: Obj) -> dict[str, str]:
    return o["metadata"].get("labels") or {}


def _data(o: Obj, key: str) -> str | None:
    return (o.get("data") or {}).get(key)


def _owners(o: Obj) -> list[Obj]:
    return o["metadata"].get("ownerReferences") or []


@pytest.fixture(scope="module")
def objects(client: httpx.Client) -> list[Obj]:
    """Config maps in namespaces qa, qb, qc with varied names, labels, data and owners."""
    rng = random.Random(8)
    for ns in ("qa", "qb", "qc"):
        ensure_namespace(client, ns)
    # Owners that exist (the cluster's garbage collector deletes orphans).
    owners = {}
    for ns in ("qa", "qb", "qc"):
        for kind, plural in (("ConfigMap", "configmaps"), ("Secret", "secrets")):
            made = create(
                client, f"/api/v1/namespaces/{ns}/{plural}", {"metadata": {"name": "owner"}}
            )
            owners[(ns, kind)] = made["metadata"]["uid"]
    OWNER["uid"] = owners[("qb", "ConfigMap")]
    prefixes = ["web", "webb", "db", "cache", "api"]
    for i in range(45):
        ns = ("qa", "qb", "qc")[i % 3]
        labels = {"app": APPS[i % 3]}
        if i % 4:
            labels["tier"] = "front" if i % 2 else "back"
        if i % 5 == 0:
            labels["app.kubernetes.io/part-of"] = "shop"
        meta: Obj = {"name": f"{prefixes[i % 5]}-{i:02d}", "labels": labels}
        if i % 6 == 0:
            meta["annotations"] = {"owner": f"team-{i % 4}"}
        if i % 4 == 1:
            kind = "Secret" if i % 3 else "ConfigMap"
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": kind, "name": "owner",
                                        "uid": owners[(ns, kind)]}]  # fmt: skip
        data = {"phase": rng.choice(PHASES), "size": str(rng.randint(0, 30))}
        if i % 9 == 0:
            del data["size"]
        create(client, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": meta, "data": data})
    plain = client.get("/api/v1/configmaps").json()["items"]
    assert sum(1 for o in plain if _owners(o)) == 11
    return [o for o in plain if _ns(o) in ("qa", "qb", "qc")]


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# Each case: the query parameters and the reference predicate computed by hand.
FILTERS: list[tuple[str, list[tuple[str, str]], Callable[[Obj], bool]]] = [
    ("all", [], lambda o: True),
    ("name", [("name", "WEB")], lambda o: "web" in _name(o).lower()),
    ("labelSelector=", [("labelSelector", "app=web")], lambda o: _labels(o).get("app") == "web"),
    ("labelSelector in/!=", [("labelSelector", "app in (web,db),tier!=front")],
     lambda o: _labels(o).get("app") in ("web", "db") and _labels(o).get("tier") != "front"),
    ("labelSelector !key", [("labelSelector", "!tier")], lambda o: "tier" not in _labels(o)),
    ("labelSelector notin", [("labelSelector", "app notin (web)")],
     lambda o: _labels(o).get("app") != "web"),
    ("fieldSelector", [("fieldSelector", "data.phase=Running")],
     lambda o: _data(o, "phase") == "Running"),
    ("fieldSelector ~", [("fieldSelector", "data.phase=~RUNNING")],
     lambda o: (_data(o, "phase") or "").lower() == "running"),
    ("fieldSelector !=", [("fieldSelector", "metadata.namespace!=qa,data.phase!=Failed")],
     lambda o: _ns(o) != "qa" and _data(o, "phase") != "Failed"),
    ("names", [("names", "web-00,db-02,api-04,missing")],
     lambda o: _name(o) in ("web-00", "db-02", "api-04")),
    ("uid", [("uid", "{uid}")], lambda o: o["metadata"]["uid"] == OWNER["uid"]),
    ("ownerReference", [("ownerReference", "{uid}")],
     lambda o: any(r["uid"] == OWNER["uid"] for r in _owners(o))),
    ("ownerKind", [("ownerKind", "Secret")],
     lambda o: any(r["kind"] == "Secret" for r in _owners(o))),
    ("label k=v", [("label", "tier=back")], lambda o: _labels(o).get("tier") == "back"),
    ("label k", [("label", "tier"), ("label", "app=db")],
     lambda o: "tier" in _labels(o) and _labels(o).get("app") == "db"),
    ("annotation", [("annotation", "owner=team-2")],
     lambda o: (o["metadata"].get("annotations") or {}).get("owner") == "team-2"),
    ("annotation key", [("annotation", "owner")],
     lambda o: "owner" in (o["metadata"].get("annotations") or {})),
    ("filter >", [("filter", "data.size>10")], lambda o: (_num(_data(o, "size")) or -1) > 10),
    ("filter <=", [("filter", "data.size<=5")],
     lambda o: _num(_data(o, "size")) is not None and _num(_data(o, "size")) <= 5),  # type: ignore[operator]
    ("filter ~", [("filter", "metadata.name~EB-")], lambda o: "eb-" in _name(o).lower()),
    ("filter in", [("filter", "data.phase in (Running,Failed)")],
     lambda o: _data(o, "phase") in ("Running", "Failed")),
    ("filter notin", [("filter", "data.phase notin (Running)")],
     lambda o: _data(o, "phase") != "Running"),
    ("filter OR", [("filter", "data.phase=Pending,metadata.name~cache")],
     lambda o: _data(o, "phase") == "Pending" or "cache" in _name(o).lower()),
    ("filter AND", [("filter", "data.phase!=Running"), ("filter", "metadata.labels.app=web")],
     lambda o: _data(o, "phase") != "Running" and _labels(o).get("app") == "web"),
    ("filter time", [("filter", "metadata.creationTimestamp>2001-01-01T00:00:00Z")],
     lambda o: _ts(o["metadata"]["creationTimestamp"]) > _ts("2001-01-01T00:00:00Z")),
    ("filter bracket", [("filter", "metadata.labels[app.kubernetes.io/part-of]=shop")],
     lambda o: _labels(o).get("app.kubernetes.io/part-of") == "shop"),
    ("combined", [("name", "b-"), ("labelSelector", "tier"), ("filter", "data.size>=3"),
                  ("fieldSelector", "data.phase!=Failed")],
     lambda o: "b-" in _name(o).lower() and "tier" in _labels(o)
     and (_num(_data(o, "size")) or -1) >= 3 and _data(o, "phase") != "Failed"),
]  # fmt: skip


def _value(o: Obj, path: str) -> Any:
    node: Any = o
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _rank(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, int | float):
        return (2, value)
    return (3, value)


# (query parameters, [(path, descending)]) — the reference's reading of each sort.
SORTS: list[tuple[list[tuple[str, str]], list[tuple[str, bool]]]] = [
    ([], [("metadata.creationTimestamp", True)]),
    ([("sortBy", "name")], [("metadata.name", True)]),
    ([("sortBy", "name"), ("ascending", "true")], [("metadata.name", False)]),
    ([("sortBy", "data.size"), ("ascending", "true")], [("data.size", False)]),
    ([("sortBy", "-data.phase,name")], [("data.phase", True), ("metadata.name", False)]),
    ([("sortBy", "metadata.namespace,+data.size")],
     [("metadata.namespace", False), ("data.size", False)]),
]  # fmt: skip


def _reference(objs: list[Obj], keep: Callable[[Obj], bool], keys: list[tuple[str, bool]],
               namespace: str | None) -> list[tuple[str, str]]:  # fmt: skip
    chosen = [o for o in objs if keep(o) and (namespace is None or _ns(o) == namespace)]
    chosen.sort(key=lambda o: (_ns(o), _name(o)), reverse=keys[0][1])
    for path, descending in reversed(keys):
        chosen.sort(key=lambda o, p=path: _rank(_value(o, p)), reverse=descending)  # type: ignore[misc]
    return [(_ns(o), _name(o)) for o in chosen]


@pytest.mark.parametrize(("label", "params", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_every_filter_sort_page_and_scope_matches_the_reference(
    client: httpx.Client, objects: list[Obj], label: str, params: list[tuple[str, str]],
    keep: Callable[[Obj], bool],
) -> None:  # fmt: skip
    scoped = ("qa", "qb", "qc")
    for sort_params, keys in SORTS:
        for namespace in (None, "qb"):
            expected = _reference(objects, keep, keys, namespace)
            url = (f"/kapi/v1/namespaces/{namespace}/configmaps" if namespace
                   else "/kapi/v1/configmaps")  # fmt: skip
            extra = [] if namespace else [("namespaces", ",".join(scoped))]
            for page, limit in ((None, None), (1, 4), (3, 4), (2, 100)):
                query = [(k, v.format(**OWNER)) for k, v in params] + sort_params + extra
                if limit is not None:
                    query += [("page", str(page)), ("limit", str(limit))]
                response = client.get(url, params=query)
                assert response.status_code == 200, response.text
                body = response.json()
                got = [(_ns(o), _name(o)) for o in body["items"]]
                want = expected if limit is None else expected[(page - 1) * limit : page * limit]  # type: ignore[operator]
                assert got == want, (label, query)
                assert body["totalItems"] == len(expected), (label, query)
                assert response.headers["x-resource-version"] == body["metadata"]["resourceVersion"]


def test_query_body_is_the_query_string(client: httpx.Client, objects: list[Obj]) -> None:
    string = client.get("/kapi/v1/configmaps", params=[
        ("namespaces", "qa,qc"), ("filter", "data.phase=Running,data.phase=Pending"),
        ("filter", "data.size>4"), ("sortBy", "name"), ("ascending", "true"),
        ("limit", "3"), ("page", "2")]).json()  # fmt: skip
    body = client.post("/kapi/v1/configmaps/query", json={
        "namespaces": ["qa", "qc"], "filter": ["data.phase=Running,data.phase=Pending",
                                               "data.size>4"],
        "sortBy": "name", "ascending": True, "limit": 3, "page": 2}).json()  # fmt: skip
    assert body["items"]
    assert body["items"] == string["items"]
    assert body["totalItems"] == string["totalItems"]


def test_summary_counts_every_match(client: httpx.Client, objects: list[Obj]) -> None:
    body = client.get("/kapi/v1/namespaces/qa/configmaps",
                      params={"summary": "data.phase", "limit": "1"}).json()  # fmt: skip
    counts: dict[str, int] = {}
    for o in objects:
        if _ns(o) == "qa":
            counts[_data(o, "phase") or ""] = counts.get(_data(o, "phase") or "", 0) + 1
    assert body["summary"] == {"data.phase": counts}
    assert len(body["items"]) == 1


def test_get_by_name_from_the_cache(client: httpx.Client, objects: list[Obj]) -> None:
    upstream = client.get("/api/v1/namespaces/qa/configmaps/web-00").json()
    cached = client.get("/kapi/v1/namespaces/qa/configmaps/web-00")
    assert cached.status_code == 200, cached.text
    assert {k: v for k, v in cached.json().items() if k not in ("kind", "apiVersion")} == {
        k: v for k, v in upstream.items() if k not in ("kind", "apiVersion")
    }
    missing = client.get("/kapi/v1/namespaces/qa/configmaps/nope")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "NotFound"


def test_unknown_resources_are_404(client: httpx.Client) -> None:
    for path in ("/kapi/v1/nothings", "/kapis/nowhere.io/v1/things",
                 "/kapi/v1/namespaces/qa/namespaces", "/kapis/apps/v9/deployments"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["kind"] == "Status"


BAD = [
    ("page", "0"), ("page", "x"), ("limit", "-5"), ("ascending", "maybe"),
    ("labelSelector", "app in ("), ("fieldSelector", "nonsense"), ("filter", "nonsense"),
    ("filter", "data.size<big"), ("filter", "data.size in ()"), ("sortBy", "name,,uid"),
    ("sortBy", "a..b"), ("resourceVersion", "abc"), ("watch", "perhaps"), ("summary", "x["),
]  # fmt: skip


@pytest.mark.parametrize(("param", "value"), BAD)
def test_bad_parameters_are_400_naming_the_parameter(
    client: httpx.Client, param: str, value: str
) -> None:
    response = client.get("/kapi/v1/configmaps", params={param: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["reason"] == "BadRequest"
    assert f"'{param}'" in body["message"]
    assert body["details"]["causes"][0]["field"] == param


def test_bad_query_body_is_400(client: httpx.Client) -> None:
    response = client.post("/kapi/v1/configmaps/query", content=b"[1,2]")
    assert response.status_code == 400
    response = client.post("/kapi/v1/configmaps/query", json={"limit": "x"})
    assert response.status_code == 400
    assert "'limit'" in response.json()["message"]


def test_capabilities_describe_the_operators(client: httpx.Client) -> None:
    body = client.get("/kapi/v1/configmaps?capabilities").json()
    assert body["kind"] == "ResourceQueryCapabilities"
    assert body["resource"] == {"group": "", "version": "v1", "resource": "configmaps",
                                "kind": "ConfigMap", "namespaced": True}  # fmt: skip
    assert set(body["parameters"]["filter"]["operators"]) >= {"~", "!=", "<", ">", "in", "notin"}


def test_read_your_writes_and_the_wait_bound(client: httpx.Client, kernel: KernelProcess) -> None:
    ensure_namespace(client, "ryw")
    client.get("/kapi/v1/namespaces/ryw/secrets")  # warm the cache
    written = create(client, "/api/v1/namespaces/ryw/secrets",
                     {"metadata": {"name": "fresh"}, "stringData": {"k": "v"}})  # fmt: skip
    rv = written["metadata"]["resourceVersion"]
    body = client.get("/kapi/v1/namespaces/ryw/secrets", params={"resourceVersion": rv}).json()
    assert [o["metadata"]["name"] for o in body["items"]] == ["fresh"]
    assert int(body["metadata"]["resourceVersion"]) >= int(rv)
    future = client.get("/kapi/v1/namespaces/ryw/secrets",
                        params={"resourceVersion": str(int(rv) + 10**9)})  # fmt: skip
    assert future.status_code == 504
    assert future.json()["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_writes_are_forwarded_as_the_caller(client: httpx.Client) -> None:
    ensure_namespace(client, "wr")
    made = client.post("/kapi/v1/namespaces/wr/configmaps",
                       json={"metadata": {"name": "via-kapi"}, "data": {"a": "1"}})  # fmt: skip
    assert made.status_code == 201, made.text
    patched = client.patch("/kapi/v1/namespaces/wr/configmaps/via-kapi", json={"data": {"a": "2"}},
                           headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert patched.status_code == 200, patched.text
    rv = patched.json()["metadata"]["resourceVersion"]
    body = client.get("/kapi/v1/namespaces/wr/configmaps", params={"resourceVersion": rv}).json()
    assert [o["data"] for o in body["items"]] == [{"a": "2"}]
    deleted = client.delete("/kapi/v1/namespaces/wr/configmaps/via-kapi")
    assert deleted.status_code == 200, deleted.text
    assert client.get("/api/v1/namespaces/wr/configmaps/via-kapi").status_code == 404
