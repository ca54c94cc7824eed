"""How the kernel authenticates to an upstream API server.

Loaded through kubernetes-asyncio's kubeconfig and in-cluster loaders (client certificates,
CA data, bearer tokens, exec credential plugins); token files are re-read when they change
and exec credentials are refreshed when they expire.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.config import ConfigException
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


def _user_section(path: Path, context: str | None) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text()) or {}
    name = context or config.get("current-context")
    ctx: dict[str, Any] = next(
        (c["context"] for c in config.get("contexts", []) if c.get("name") == name), {}
    )
    user = next(
        (u.get("user") or {} for u in config.get("users", []) if u.get("name") == ctx.get("user")),
        {},
    )
    return user if isinstance(user, dict) else {}


async def load_kubeconfig(path: Path, context: str | None = None) -> UpstreamCredentials:
    """Credentials from a kubeconfig file (and context)."""
    cfg = Configuration()
    scratch = tempfile.mkdtemp(prefix="luban-upstream-")
    try:
        from kubernetes_asyncio.config.kube_config import _get_kube_config_loader_for_yaml_file

        loader = _get_kube_config_loader_for_yaml_file(
            str(path), active_context=context, persist_config=False, temp_file_path=scratch
        )
        await loader.load_and_set(cfg)
    except (ConfigException, OSError, KeyError, ValueError, yaml.YAMLError) as exc:
        raise CredentialsError(f"kubeconfig {path}: {exc}") from None
    user = _user_section(path, context)
    token_file = None
    if user.get("tokenFile") and not user.get("token"):
        token_path = Path(user["tokenFile"])
        token_file = TokenFile(token_path if token_path.is_absolute() else path.parent / token_path)
    authorization = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
    return UpstreamCredentials(
        server=str(cfg.host).rstrip("/"),
        ssl_context=_ssl_context(cfg),
        static_authorization=authorization,
        token_file=token_file,
        loader=loader if "exec" in user else None,
        exec_expiry=_exec_expiry(loader) if "exec" in user else None,
        tls_server_name=getattr(cfg, "tls_server_name", None),
        _scratch=[scratch],
    )


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
