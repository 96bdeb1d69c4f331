"""Settings and the CLI: config masking, keys, --help, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.settings_loader import load_settings
from headwater.urls import mask_url
from tests.helpers import cli


def test_mask_url() -> None:
    assert mask_url("postgresql://app:s3cret@db:5432/hw") == "postgresql://app:****@db:5432/hw"
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_settings_from_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "headwater.toml"
    toml.write_text('timezone = "Europe/Paris"\nfsync = "interval"\nmax_request_bytes = 100000\n')
    monkeypatch.setenv("HEADWATER_CONFIG", str(toml))
    monkeypatch.setenv("HEADWATER_FSYNC", "never")  # env beats the file
    s = load_settings()
    assert s.timezone == "Europe/Paris" and s.fsync == "never" and s.max_request_bytes == 100000
    assert load_settings(fsync="always").fsync == "always"  # CLI flags beat env


def test_config_masks_secrets(tmp_path: Path) -> None:
    out = cli(
        tmp_path,
        "config",
        "--json",
        env={"HEADWATER_ADMIN_TOKEN": "topsecret", "HEADWATER_DATABASE_URL": "postgresql://u:pw@h/db"},
    )
    values = json.loads(out.stdout)
    assert values["admin_token"] == "********"
    assert values["database_url"] == "postgresql://u:****@h/db"
    assert "topsecret" not in out.stdout and ":pw@" not in out.stdout
    assert values["fsync"] == "always" and values["max_event_bytes"] == 32768


def test_bad_settings_say_which_and_how(tmp_path: Path) -> None:
    out = cli(tmp_path, "config", env={"HEADWATER_TIMEZONE": "Mars/Olympus"}, check=False)
    assert out.returncode == 2
    assert "HEADWATER_TIMEZONE" in out.stderr and "IANA" in out.stderr
    out = cli(tmp_path, "config", env={"HEADWATER_DATABASE_URL": "mysql://u:pw@h/db"}, check=False)
    assert out.returncode == 2 and "mysql://u:****@h/db" in out.stderr and "pw" not in out.stderr


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = cli(tmp_path, "keys", "create", "ios-app")
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("hw_") and len(key) > 20
    listed = json.loads(cli(tmp_path, "keys", "list", "--json").stdout)["keys"]
    assert [(k["name"], k["key"]) for k in listed] == [("ios-app", key)]
    assert "revoked" in cli(tmp_path, "keys", "revoke", "ios-app").stdout
    assert json.loads(cli(tmp_path, "keys", "list", "--json").stdout)["keys"] == []
    assert len(json.loads(cli(tmp_path, "keys", "list", "--all", "--json").stdout)["keys"]) == 1
    missing = cli(tmp_path, "keys", "revoke", "nope", check=False)
    assert missing.returncode == 1 and "keys list" in missing.stderr


@pytest.mark.parametrize("args", [[], ["serve"], ["keys"], ["keys", "create"], ["config"]])
def test_help_everywhere(tmp_path: Path, args: list[str]) -> None:
    out = cli(tmp_path, *args, "--help")
    assert out.returncode == 0 and "Usage" in out.stdout


def test_serve_with_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    out = cli(
        tmp_path,
        "serve",
        env={"HEADWATER_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/hw", "HEADWATER_PORT": "0"},
        check=False,
    )
    assert out.returncode == 2
    assert "postgresql://u:****@127.0.0.1:1/hw" in out.stderr and "hunter2" not in out.stderr


def test_several_workers_with_the_in_process_live_store_are_refused_in_one_line(tmp_path: Path) -> None:
    out = cli(tmp_path, "serve", "--workers", "2", env={"HEADWATER_PORT": "0"}, check=False)
    assert out.returncode == 2
    assert "memory://" in out.stderr and "HEADWATER_REDIS_URL" in out.stderr
    assert "Traceback" not in out.stderr
