"""fieldValidation: Strict rejects unknown fields, Warn (the default) warns, Ignore drops."""

from __future__ import annotations

import json

from tests.embedded.conftest import Kubectl

TYPO = """apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: default}
spec:
  replicass: 2
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers: [{name: c, image: nginx, imagee: oops}]
"""


def test_kubectl_apply_rejects_unknown_fields_by_default(kctl: Kubectl) -> None:
    result = kctl.run("apply", "-f", "-", stdin=TYPO, check=False)
    assert result.returncode != 0
    assert "strict decoding error" in result.stderr
    assert 'unknown field "spec.replicass"' in result.stderr
    assert 'unknown field "spec.template.spec.containers[0].imagee"' in result.stderr
    assert "NotFound" in kctl.run("get", "deploy", "typo", check=False).stderr


def test_warn_keeps_the_object_without_the_unknown_fields(kctl: Kubectl) -> None:
    result = kctl.run("apply", "--validate=warn", "-f", "-", stdin=TYPO)
    assert 'unknown field "spec.replicass"' in result.stderr
    stored = kctl.json("get", "deploy", "typo")
    assert "replicass" not in stored["spec"]
    # (kubectl's last-applied annotation still quotes the manifest as written)
    assert stored["spec"]["template"]["spec"]["containers"][0].keys() >= {"name", "image"}
    assert "imagee" not in stored["spec"]["template"]["spec"]["containers"][0]


def test_ignore_drops_silently(kctl: Kubectl) -> None:
    result = kctl.run(
        "create", "--validate=false", "-f", "-", stdin=TYPO.replace("name: typo", "name: quiet")
    )
    assert "unknown field" not in result.stderr
    assert "replicass" not in json.dumps(kctl.json("get", "deploy", "quiet"))
