"""Configuration: file, environment, flags, and clear one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from luban.config import ConfigError, env_overrides, load_settings
from tests.procs import LUBAN, REPO


def run_luban(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*LUBAN, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "luban.yaml"
    config.write_text("server:\n  port: 7000\n  host: 0.0.0.0\nlog:\n  format: json\n")
    settings = load_settings(
        config,
        environ={"LUBAN_SERVER__PORT": "7001", "LUBAN_SERVER__GRACE_PERIOD_SECONDS": "3"},
        overrides={"server": {"host": "127.0.0.2"}},
    )
    assert settings.server.port == 7001
    assert settings.server.host == "127.0.0.2"
    assert settings.server.grace_period_seconds == 3
    assert settings.log.format == "json"
    assert settings.server.tls.enabled


def test_environment_keys_accept_any_spelling() -> None:
    assert env_overrides({"LUBAN_SERVER__TLS__ENABLED": "false"}) == {
        "server": {"tls": {"enabled": False}}
    }
    assert env_overrides({"luban_ignored": "x", "LUBAN_DATADIR": "/x"}) == {"dataDir": "/x"}
    with pytest.raises(ConfigError, match="LUBAN_SERVER__NOPE: no such configuration key"):
        env_overrides({"LUBAN_SERVER__NOPE": "1"})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("server:\n  port: high\n", "server.port: Input should be a valid integer"),
        ("server:\n  port: 70000\n", "server.port: Input should be less than or equal to 65535"),
        ("server:\n  prot: 1\n", "server.prot: unknown key"),
        ("log:\n  format: xml\n", "log.format: Input should be 'text' or 'json'"),
        ("server: [1, 2\n", "expected ',' or ']'"),
        ("- just\n- a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_config_file_exits_2_with_one_clear_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run_luban("serve", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert str(config) in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_environment_value_and_missing_file_exit_2(tmp_path: Path) -> None:
    result = run_luban(
        "serve", "--data-dir", str(tmp_path / "d"), env={"LUBAN_SERVER__WORKERS": "0"}
    )
    assert result.returncode == 2
    assert "server.workers: Input should be greater than or equal to 1" in result.stderr
    missing = run_luban("serve", "--config", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2
    assert "cannot read config file" in missing.stderr
    tls = run_luban(
        "serve",
        "--data-dir",
        str(tmp_path / "d"),
        env={"LUBAN_SERVER__TLS__CERT_FILE": str(tmp_path / "none.pem")},
    )
    assert tls.returncode == 2
    assert "certFile and keyFile must be given together" in tls.stderr


def test_help_lists_subcommands_and_serve_flags() -> None:
    top = run_luban("--help")
    assert top.returncode == 0
    assert "serve" in top.stdout
    serve = run_luban("serve", "--help")
    for flag in ("--config", "--host", "--port", "--data-dir", "--log-format", "--insecure-http"):
        assert flag in serve.stdout


def test_json_log_format_prints_json_lines(tmp_path: Path) -> None:
    import json

    from tests.procs import run_kernel

    with run_kernel(tmp_path / "data", "--log-format", "json") as kernel:
        assert kernel.terminate() == 0
        lines = [json.loads(line) for line in kernel.log().splitlines() if line.strip()]
    assert any("serving at" in entry["msg"] for entry in lines)
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in lines)


def test_sys_executable_is_the_project_environment() -> None:
    assert Path(sys.executable).parent.joinpath("kubectl").exists()


def test_the_reference_config_file_documents_the_defaults() -> None:
    from luban.config import Settings, read_config_file, validate_settings

    documented = validate_settings(read_config_file(REPO / "config" / "luban.yaml"))
    defaults = Settings()
    assert documented.model_dump(exclude={"config_file"}) == defaults.model_dump(
        exclude={"config_file"}
    )
