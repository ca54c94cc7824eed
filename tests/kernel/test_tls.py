"""Generated CA and serving certificates; user-supplied certificates."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
from cryptography import x509

from luban.tls import ensure_serving_certificate
from tests.procs import run_kernel


def _names(cert_file: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in san}


def test_serving_certificate_is_reused_and_reissued_when_names_change(tmp_path: Path) -> None:
    first = ensure_serving_certificate(tmp_path, ["luban.example.com"])
    assert _names(first.cert) == {"127.0.0.1", "localhost", "luban.example.com"}
    ca_before, cert_before = first.ca_cert.read_bytes(), first.cert.read_bytes()
    again = ensure_serving_certificate(tmp_path, ["luban.example.com"])
    assert again.cert.read_bytes() == cert_before
    changed = ensure_serving_certificate(tmp_path, ["10.0.0.7"])
    assert changed.cert.read_bytes() != cert_before
    assert changed.ca_cert.read_bytes() == ca_before  # the CA clients trust stays the same
    cert = x509.load_pem_x509_certificate(changed.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.0.0.7") in san.get_values_for_type(x509.IPAddress)
    ca = x509.load_pem_x509_certificate(changed.ca_cert.read_bytes())
    assert cert.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_user_supplied_certificate_is_served(tmp_path: Path) -> None:
    own = ensure_serving_certificate(tmp_path / "own-pki", [], ca_name="operator-ca")
    config = tmp_path / "luban.yaml"
    config.write_text(f"server:\n  tls:\n    certFile: {own.cert}\n    keyFile: {own.key}\n")
    with run_kernel(tmp_path / "data", "--config", str(config)) as kernel:
        import ssl

        context = ssl.create_default_context(cafile=str(own.ca_cert))
        assert httpx.get(kernel.url + "/healthz", verify=context).text == "ok"
        assert not (kernel.data_dir / "pki").exists()
        assert kernel.ca_file is None  # nothing generated to put in the kubeconfig
