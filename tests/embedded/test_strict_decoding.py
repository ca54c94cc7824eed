"""Duplicate and unknown fields under fieldValidation, on every kind of write, over HTTPS.

The bodies and expected texts are those of Kubernetes' own integration test
(test/integration/apiserver/field_validation_test.go); tabs became spaces, so line numbers
still match.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.embedded.conftest import Kubectl
from tests.procs import ClusterProcess

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"

INVALID_JSON = """
{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {
    "name": "dupename",
    "name": "%s",
    "labels": {"app": "nginx"},
    "unknownMeta": "metaVal"
  },
  "spec": {
    "unknown1": "val1",
    "unknownDupe": "valDupe",
    "unknownDupe": "valDupe2",
    "paused": true,
    "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {
      "metadata": {"labels": {"app": "nginx"}},
      "spec": {
        "containers": [{
          "name": "nginx",
          "image": "nginx:latest",
          "unknownNested": "val1",
          "imagePullPolicy": "Always",
          "imagePullPolicy": "Never"
        }]
      }
    }
  }
}
"""
INVALID_JSON_ERRORS = [
    'duplicate field "metadata.name"',
    'unknown field "metadata.unknownMeta"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
    'duplicate field "spec.paused"',
    'unknown field "spec.template.spec.containers[0].unknownNested"',
    'duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
]

INVALID_YAML = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: dupename
  name: %s
  unknownMeta: metaVal
  labels:
    app: nginx
spec:
  unknown1: val1
  unknownDupe: valDupe
  unknownDupe: valDupe2
  paused: true
  paused: false
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        unknownNested: val1
        imagePullPolicy: Always
        imagePullPolicy: Never"""
INVALID_YAML_LINES = [
    'line 5: key "name" already set in map',
    'line 12: key "unknownDupe" already set in map',
    'line 14: key "paused" already set in map',
    'line 28: key "imagePullPolicy" already set in map',
]
INVALID_YAML_UNKNOWN = [
    'unknown field "metadata.unknownMeta"',
    'unknown field "spec.template.spec.containers[0].unknownNested"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
]

VALID = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"labels": {"app": "nginx"}},
    "spec": {
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
        },
    },
}

MERGE_PATCH = """
{
  "spec": {
    "unknown1": "val1",
    "unknownDupe": "valDupe",
    "unknownDupe": "valDupe2",
    "paused": true,
    "paused": false,
    "template": {
      "spec": {
        "containers": [{
          "name": "nginx",
          "image": "nginx:latest",
          "unknownNested": "val1",
          "imagePullPolicy": "Always",
          "imagePullPolicy": "Never"
        }]
      }
    }
  }
}
"""
PATCH_ERRORS = [
    'duplicate field "spec.unknownDupe"',
    'duplicate field "spec.paused"',
    'duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
    'unknown field "spec.template.spec.containers[0].unknownNested"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
]
JSON_PATCH = """
[
  {"op": "add", "path": "/spec/unknown1", "value": "val1", "foo":"bar"},
  {"op": "add", "path": "/spec/unknown2", "path": "/spec/unknown3", "value": "val1"},
  {"op": "add", "path": "/spec/unknownDupe", "value": "valDupe"},
  {"op": "add", "path": "/spec/unknownDupe", "value": "valDupe2"},
  {"op": "add", "path": "/spec/paused", "value": true},
  {"op": "add", "path": "/spec/paused", "value": false},
  {"op": "add", "path": "/spec/template/spec/containers/0/unknownNested", "value": "val1"},
  {"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Always"},
  {"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"}
]
"""
JSON_PATCH_ERRORS = [
    'json patch unknown field "[0].foo"',
    'json patch duplicate field "[1].path"',
    'unknown field "spec.template.spec.containers[0].unknownNested"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknown3"',
    'unknown field "spec.unknownDupe"',
]
SMP = """
{
  "spec": {
    "unknown1": "val1",
    "unknownDupe": "valDupe",
    "unknownDupe": "valDupe2",
    "paused": true,
    "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {
      "metadata": {"labels": {"app": "nginx"}},
      "spec": {
        "containers": [{
          "name": "nginx",
          "unknownNested": "val1",
          "imagePullPolicy": "Always",
          "imagePullPolicy": "Never"
        }]
      }
    }
  }
}
"""
APPLY = """{
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
      "name": "%s",
      "labels": {"app": "nginx"}
    },
    "spec": {
      "paused": false,
      "paused": true,
      "selector": {
        "matchLabels": {
          "app": "nginx"
        }
      },
      "template": {
        "metadata": {
          "labels": {
            "app": "nginx"
          }
        },
        "spec": {
          "containers": [{
            "name":  "nginx",
            "image": "nginx:latest",
            "imagePullPolicy": "Never",
            "imagePullPolicy": "Always"
          }]
        }
      }
    }
  }"""
APPLY_LINES = [
    'line 10: key "paused" already set in map',
    'line 27: key "imagePullPolicy" already set in map',
]


@pytest.fixture(scope="module")
def http(cluster: ClusterProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    tls = ssl.create_default_context(cafile=str(cluster.ca_file))
    with httpx.Client(base_url=cluster.url, headers=headers, verify=tls, timeout=20) as client:
        yield client


def warnings(response: httpx.Response) -> list[str]:
    """The texts of the ``299`` Warning headers, in order."""
    out = []
    for header in response.headers.get_list("warning"):
        match = re.fullmatch(r'299 - "(.*)"', header, re.S)
        assert match, header
        out.append(match.group(1).replace('\\"', '"').replace("\\\\", "\\"))
    return out


def create(http: httpx.Client, name: str) -> dict[str, Any]:
    body = json.loads(json.dumps(VALID))
    body["metadata"]["name"] = name
    response = http.post(DEPLOYMENTS, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(
    http: httpx.Client, name: str, body: str, kind: str, validation: str | None
) -> httpx.Response:
    params = {"fieldValidation": validation} if validation else {}
    if kind.startswith("apply"):
        params["fieldManager"] = "mgr"
    return http.patch(
        f"{DEPLOYMENTS}/{name}",
        content=body.encode(),
        params=params,
        headers={"Content-Type": f"application/{kind}"},
    )


def test_create_json_strict_interleaves_unknown_and_duplicate(http: httpx.Client) -> None:
    response = http.post(
        DEPLOYMENTS,
        content=(INVALID_JSON % "post-strict").encode(),
        params={"fieldValidation": "Strict"},
    )
    assert response.status_code == 400
    status = response.json()
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        + ", ".join(INVALID_JSON_ERRORS)
    )
    assert http.get(f"{DEPLOYMENTS}/post-strict").status_code == 404


@pytest.mark.parametrize("validation", ["Warn", None])
def test_create_json_warn_sends_each_error(http: httpx.Client, validation: str | None) -> None:
    name = f"post-warn-{validation or 'default'}".lower()
    params = {"fieldValidation": validation} if validation else {}
    response = http.post(DEPLOYMENTS, content=(INVALID_JSON % name).encode(), params=params)
    assert response.status_code == 201, response.text
    assert warnings(response) == INVALID_JSON_ERRORS
    stored = response.json()
    assert stored["spec"]["paused"] is False  # the last of the two, like the real server
    assert "unknown1" not in stored["spec"]


def test_create_json_ignore_is_silent(http: httpx.Client) -> None:
    response = http.post(
        DEPLOYMENTS,
        content=(INVALID_JSON % "post-ignore").encode(),
        params={"fieldValidation": "Ignore"},
    )
    assert response.status_code == 201, response.text
    assert warnings(response) == []


def test_create_yaml_strict_reports_yaml_lines_then_sorted_unknowns(http: httpx.Client) -> None:
    response = http.post(
        DEPLOYMENTS,
        content=(INVALID_YAML % "post-yaml").encode(),
        params={"fieldValidation": "Strict"},
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 400
    assert response.json()["message"].endswith(
        "strict decoding error: yaml: unmarshal errors:\n  "
        + "\n  ".join(INVALID_YAML_LINES)
        + ", "
        + ", ".join(INVALID_YAML_UNKNOWN)
    )


def test_update_yaml_warn_sends_a_warning_per_line(http: httpx.Client) -> None:
    create(http, "put-yaml")
    response = http.put(
        f"{DEPLOYMENTS}/put-yaml",
        content=(INVALID_YAML % "put-yaml").encode(),
        params={"fieldValidation": "Warn"},
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    assert warnings(response) == INVALID_YAML_LINES + INVALID_YAML_UNKNOWN


@pytest.mark.parametrize(
    ("kind", "body", "errors"),
    [
        ("merge-patch+json", MERGE_PATCH, PATCH_ERRORS),
        ("json-patch+json", JSON_PATCH, JSON_PATCH_ERRORS),
        ("strategic-merge-patch+json", SMP, PATCH_ERRORS),
    ],
)
def test_patch_strict_is_a_422_naming_the_patch(
    http: httpx.Client, kind: str, body: str, errors: list[str]
) -> None:
    name = "strict-" + kind.partition("+")[0]
    before = create(http, name)
    response = patch(http, name, body, kind, "Strict")
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["code"] == 422
    tail = "strict decoding error: " + ", ".join(errors)
    assert status["message"].startswith(' "" is invalid: patch: Invalid value: "')
    assert status["message"].endswith('": ' + tail)
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "patch"
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"].endswith(tail)
    assert set(status["details"]) == {"causes"}  # no kind, name or group: GroupKind{}, ""
    if kind.startswith("strategic"):
        # the patch as Go's %+v prints a map[string]interface{}
        assert (
            '"map[spec:map[paused:false selector:map[matchLabels:map[app:nginx]]'
            in (status["message"])
        )
    else:
        # the patched object as JSON, keys sorted
        assert status["message"].startswith(' "" is invalid: patch: Invalid value: "{\\"apiVersion')
        assert '\\"unknown1\\":\\"val1\\"' in status["message"]
    after = http.get(f"{DEPLOYMENTS}/{name}").json()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.mark.parametrize(
    ("kind", "body", "errors"),
    [
        ("merge-patch+json", MERGE_PATCH, PATCH_ERRORS),
        ("json-patch+json", JSON_PATCH, JSON_PATCH_ERRORS),
        ("strategic-merge-patch+json", SMP, PATCH_ERRORS),
    ],
)
@pytest.mark.parametrize("validation", ["Warn", "Ignore"])
def test_patch_warn_and_ignore(
    http: httpx.Client, kind: str, body: str, errors: list[str], validation: str
) -> None:
    name = f"{validation}-{kind.partition('+')[0]}".lower()
    create(http, name)
    response = patch(http, name, body, kind, validation)
    assert response.status_code == 200, response.text
    assert warnings(response) == (errors if validation == "Warn" else [])
    assert response.json()["spec"]["paused"] is False
    assert "unknown1" not in response.json()["spec"]


def test_patch_with_only_duplicates_is_rejected_too(http: httpx.Client) -> None:
    create(http, "only-dupes")
    body = '{"spec": {"paused": true, "paused": false}}'
    response = patch(http, "only-dupes", body, "merge-patch+json", "Strict")
    assert response.status_code == 422
    assert response.json()["message"].endswith(
        'strict decoding error: duplicate field "spec.paused"'
    )


@pytest.mark.parametrize("existing", [False, True])
def test_apply_strict_duplicates_are_a_400(http: httpx.Client, existing: bool) -> None:
    name = f"apply-strict-{'update' if existing else 'create'}"
    if existing:
        create(http, name)
    response = patch(http, name, APPLY % name, "apply-patch+yaml", "Strict")
    assert response.status_code == 400, response.text
    status = response.json()
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  "
        + "\n  ".join(APPLY_LINES)
    )


@pytest.mark.parametrize("validation", ["Warn", None, "Ignore"])
def test_apply_warn_and_ignore(http: httpx.Client, validation: str | None) -> None:
    name = f"apply-{validation or 'default'}".lower()
    response = patch(http, name, APPLY % name, "apply-patch+yaml", validation)
    assert response.status_code == 201, response.text
    assert warnings(response) == ([] if validation == "Ignore" else APPLY_LINES)
    assert response.json()["spec"]["paused"] is True


def test_kubectl_collapses_yaml_duplicates_before_sending(kctl: Kubectl) -> None:
    # kubectl decodes the manifest itself (last key wins) and sends JSON without the repeat,
    # so against any server `apply --validate=strict` succeeds; only raw bodies carry them.
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dupkey\ndata:\n  a: one\n  a: two\n"
    )
    kctl.run("apply", "--validate=strict", "-n", "default", "-f", "-", stdin=manifest)
    assert kctl.json("get", "cm", "dupkey", "-n", "default")["data"] == {"a": "two"}


def test_kubectl_raw_create_with_a_duplicate_key(kctl: Kubectl, tmp_path: Any) -> None:
    body = tmp_path / "cm.json"
    body.write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rawdup"},'
        ' "data": {"a": "one", "a": "two"}}'
    )
    url = "/api/v1/namespaces/default/configmaps?fieldValidation=Strict"
    result = kctl.run("create", "--raw", url, "-f", str(body), check=False)
    assert result.returncode != 0
    assert result.stderr == (
        'Error from server (BadRequest): ConfigMap in version "v1" cannot be handled as a '
        'ConfigMap: strict decoding error: duplicate field "data.a"\n'
    )
    assert "NotFound" in kctl.run("get", "cm", "rawdup", "-n", "default", check=False).stderr
    warned = kctl.run("create", "--raw", url.replace("Strict", "Warn"), "-f", str(body))
    assert warned.stderr == 'Warning: duplicate field "data.a"\n'
    assert json.loads(warned.stdout)["data"] == {"a": "two"}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.schema.example.com"},
    "spec": {
        "group": "schema.example.com",
        "scope": "Cluster",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "knownField1": {"type": "string"},
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                                        "items": {
                                            "type": "object",
                                            "required": ["containerPort", "protocol"],
                                            "properties": {
                                                "containerPort": {"type": "integer"},
                                                "hostPort": {"type": "integer"},
                                                "name": {"type": "string"},
                                                "protocol": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}
CR_SPEC = """{
    "unknown1": "val1",
    "unknownDupe": "valDupe",
    "unknownDupe": "valDupe2",
    "knownField1": "val1",
    "knownField1": "val2",
    "ports": [{
      "name": "portName",
      "containerPort": 8080,
      "protocol": "TCP",
      "hostPort": 8081,
      "hostPort": 8082,
      "unknownNested": "val"
    }]
  }"""
CR_INVALID = (
    '{"apiVersion": "schema.example.com/v1", "kind": "Widget",'
    ' "metadata": {"name": "dupename", "name": "%s", "unknownMeta": "metaVal"},'
    ' "spec": ' + CR_SPEC + "}"
)
CR_ERRORS = [
    'duplicate field "metadata.name"',
    'duplicate field "spec.unknownDupe"',
    'duplicate field "spec.knownField1"',
    'duplicate field "spec.ports[0].hostPort"',
    'unknown field "metadata.unknownMeta"',
    'unknown field "spec.ports[0].unknownNested"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
]
CR_MERGE_PATCH = '{"spec": ' + CR_SPEC + "}"
CR_PATCH_ERRORS = [
    'duplicate field "spec.unknownDupe"',
    'duplicate field "spec.knownField1"',
    'duplicate field "spec.ports[0].hostPort"',
    'unknown field "spec.ports[0].unknownNested"',
    'unknown field "spec.unknown1"',
    'unknown field "spec.unknownDupe"',
]
WIDGETS = "/apis/schema.example.com/v1/widgets"


@pytest.fixture(scope="module")
def widgets(http: httpx.Client) -> str:
    assert http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD).is_success
    for _ in range(100):
        if http.get(WIDGETS).status_code == 200:
            return WIDGETS
        time.sleep(0.05)
    raise AssertionError("the Widget resource was never served")


@pytest.mark.parametrize("validation", ["Strict", "Warn"])
def test_custom_resource_lists_duplicates_before_unknown_fields(
    http: httpx.Client, widgets: str, validation: str
) -> None:
    name = f"cr-{validation.lower()}"
    body = (CR_INVALID % name).encode()
    response = http.post(widgets, content=body, params={"fieldValidation": validation})
    if validation == "Strict":
        assert response.status_code == 400
        assert response.json()["message"].endswith("strict decoding error: " + ", ".join(CR_ERRORS))
        return
    assert response.status_code == 201, response.text
    assert warnings(response) == CR_ERRORS
    assert response.json()["spec"] == {
        "knownField1": "val2",
        "ports": [{"name": "portName", "containerPort": 8080, "protocol": "TCP", "hostPort": 8082}],
    }


def test_custom_resource_merge_patch_strict(http: httpx.Client, widgets: str) -> None:
    created = http.post(widgets, json={"metadata": {"name": "cr-patch"}, "spec": {}})
    assert created.status_code == 201, created.text
    response = http.patch(
        f"{widgets}/cr-patch",
        content=CR_MERGE_PATCH.encode(),
        params={"fieldValidation": "Strict"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"].endswith(
        "strict decoding error: " + ", ".join(CR_PATCH_ERRORS)
    )


@pytest.mark.parametrize(
    ("method", "kind"),
    [("POST", "CreateOptions"), ("PUT", "UpdateOptions"), ("PATCH", "PatchOptions")],
)
def test_unsupported_field_validation_is_an_invalid_options_error(
    http: httpx.Client, method: str, kind: str
) -> None:
    url = DEPLOYMENTS if method == "POST" else f"{DEPLOYMENTS}/anything"
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    response = http.request(
        method, url, content=b"{}", params={"fieldValidation": "bogus"}, headers=headers
    )
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'{kind}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
    assert status["details"]["group"] == "meta.k8s.io"
    assert status["details"]["kind"] == kind
