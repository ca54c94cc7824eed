"""How the kernel authenticates to an upstream API server.

Static kubeconfig credentials (server, CA, client certificate, bearer token, token file)
are read directly; exec credential plugins and auth providers go through kubernetes-asyncio's
loader, imported only then (it takes about a second to import, most of the kernel's start).
Token files are re-read when they change and exec credentials refreshed when they expire.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from kubernetes_asyncio.config.kube_config import KubeConfigLoader

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class CredentialsError(Exception):
    """The upstream's credentials could not be loaded (a configuration problem)."""


@dataclass
class TokenFile:
    """A bearer token kept in a file, re-read when the file changes (rotation)."""

    path: Path
    _mtime: float = -1.0
    _token: str = ""

    def token(self) -> str:
        """The current token."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return self._token
        if mtime != self._mtime:
            self._token = self.path.read_text().strip()
            self._mtime = mtime
        return self._token


@dataclass
class UpstreamCredentials:
    """Server URL, TLS context and the Authorization the kernel sends upstream."""

    server: str
    ssl_context: ssl.SSLContext | None
    static_authorization: str | None = None
    token_file: TokenFile | None = None
    loader: KubeConfigLoader | None = None
    exec_expiry: dt.datetime | None = None
    tls_server_name: str | None = None
    _scratch: list[str] = field(default_factory=list)

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value for the next upstream request."""
        if self.token_file is not None:
            token = self.token_file.token()
            return f"Bearer {token}" if token else None
        expiry = self.exec_expiry
        if self.loader is not None and expiry is not None and _expired(expiry):
            await self.loader.load_from_exec_plugin()
            self.exec_expiry = _exec_expiry(self.loader)
            self.static_authorization = getattr(self.loader, "token", None)
        return self.static_authorization


def _expired(expiry: dt.datetime) -> bool:
    return dt.datetime.now(dt.UTC) >= expiry - dt.timedelta(seconds=10)


def _exec_expiry(loader: KubeConfigLoader) -> dt.datetime | None:
    expiry = getattr(loader, "exec_plugin_expiry", None)
    if isinstance(expiry, dt.datetime):
        return expiry if expiry.tzinfo else expiry.replace(tzinfo=dt.UTC)
    return None


def _ssl_context(cfg: Any) -> ssl.SSLContext | None:
    if not str(cfg.host).startswith("https"):
        return None
    context = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
    if cfg.cert_file and cfg.key_file:
        context.load_cert_chain(cfg.cert_file, cfg.key_file)
    if not cfg.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _named(config: dict[str, Any], section: str, name: Any) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(section[:-1]) or {}
            return value if isinstance(value, dict) else {}
    return {}


def _material(section: dict[str, Any], key: str, base: Path, scratch: str) -> str | None:
    """A file path for ``key`` (``key``-data is written to a private scratch file)."""
    data = section.get(f"{key}-data")
    if data:
        path = Path(scratch) / key
        path.write_bytes(base64.b64decode(data))
        path.chmod(0o600)
        return str(path)
    value = section.get(key)
    if not value:
        return None
    file = Path(value)
    return str(file if file.is_absolute() else base / file)


def _static(path: Path, context: str | None, scratch: str) -> UpstreamCredentials | None:
    """Credentials without exec plugins or auth providers (``None`` when it has those)."""
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, dict):
        raise ValueError("not a kubeconfig mapping")
    name = context or config.get("current-context")
    ctx = _named(config, "contexts", name)
    if not ctx:
        raise ValueError(f"context {name!r} not found")
    cluster = _named(config, "clusters", ctx.get("cluster"))
    user = _named(config, "users", ctx.get("user"))
    if "exec" in user or "auth-provider" in user:
        return None
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ValueError(f"cluster {ctx.get('cluster')!r} has no server")
    context_ssl: ssl.SSLContext | None = None
    if server.startswith("https"):
        context_ssl = ssl.create_default_context(
            cafile=_material(cluster, "certificate-authority", path.parent, scratch)
        )
        cert = _material(user, "client-certificate", path.parent, scratch)
        key = _material(user, "client-key", path.parent, scratch)
        if cert and key:
            context_ssl.load_cert_chain(cert, key)
        if cluster.get("insecure-skip-tls-verify"):
            context_ssl.check_hostname = False
            context_ssl.verify_mode = ssl.CERT_NONE
    authorization = None
    token_file = None
    if user.get("token"):
        authorization = f"Bearer {user['token']}"
    elif user.get("tokenFile"):
        token_path = Path(user["tokenFile"])
        token_file = TokenFile(token_path if token_path.is_absolute() else path.parent / token_path)
    elif user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        authorization = f"Basic {basic}"
    return UpstreamCredentials(
        server=server,
        ssl_context=context_ssl,
        static_authorization=authorization,
        token_file=token_file,
        tls_server_name=cluster.get("tls-server-name"),
        _scratch=[scratch],
    )


async def _with_plugin(path: Path, context: str | None, scratch: str) -> UpstreamCredentials:
    """Credentials from exec plugins or auth providers, through kubernetes-asyncio."""
    from kubernetes_asyncio.client import Configuration
    from kubernetes_asyncio.config.kube_config import _get_kube_config_loader_for_yaml_file

    cfg = Configuration()
    loader = _get_kube_config_loader_for_yaml_file(
        str(path), active_context=context, persist_config=False, temp_file_path=scratch
    )
    await loader.load_and_set(cfg)
    authorization = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
    return UpstreamCredentials(
        server=str(cfg.host).rstrip("/"),
        ssl_context=_ssl_context(cfg),
        static_authorization=authorization,
        loader=loader,
        exec_expiry=_exec_expiry(loader),
        tls_server_name=getattr(cfg, "tls_server_name", None),
        _scratch=[scratch],
    )


async def load_kubeconfig(path: Path, context: str | None = None) -> UpstreamCredentials:
    """Credentials from a kubeconfig file (and context)."""
    scratch = tempfile.mkdtemp(prefix="luban-upstream-")
    try:
        static = _static(path, context, scratch)
        return static if static is not None else await _with_plugin(path, context, scratch)
    except Exception as exc:  # any malformed kubeconfig is one clear configuration error
        if isinstance(exc, CredentialsError):
            raise
        raise CredentialsError(f"kubeconfig {path}: {exc}") from None


def load_in_cluster(directory: Path = SERVICE_ACCOUNT_DIR) -> UpstreamCredentials:
    """Credentials of the pod's service account (the token is re-read as it rotates)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise CredentialsError("in-cluster: KUBERNETES_SERVICE_HOST is not set")
    if ":" in host:
        host = f"[{host}]"
    ca = directory / "ca.crt"
    if not ca.is_file():
        raise CredentialsError(f"in-cluster: {ca} does not exist")
    return UpstreamCredentials(
        server=f"https://{host}:{port}",
        ssl_context=ssl.create_default_context(cafile=str(ca)),
        token_file=TokenFile(directory / "token"),
    )
