"""The admin token is kept only as its hash (issue 18 item 5): printed once at first start, a plain
token of an earlier version rewritten as its hash, and `headwater admin-token reset` taking effect
at once in a running server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.helpers import Server, cli


def me(srv: Server, token: str) -> int:
    return httpx.get(
        f"{srv.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def test_the_admin_token_is_shown_once_and_kept_as_a_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: "" for k in ("HEADWATER_ADMIN_TOKEN",) if k in os.environ}
    srv = Server(data, env=env).start()
    try:
        token = srv.admin_token  # from the first start's output
        stored = (data / "admin_token").read_text()
        assert stored.startswith("sha256:") and token not in stored
        assert (data / "admin_token").stat().st_mode & 0o777 == 0o600
        assert me(srv, token) == 200 and me(srv, token + "x") == 401
        new = cli(data, "admin-token", "reset").stdout.strip().splitlines()[-1]
        assert new != token and new not in (data / "admin_token").read_text()
        assert me(srv, token) == 401 and me(srv, new) == 200  # at once, no restart
        audit = cli(data, "audit", "--json").stdout
        assert "admin_token.reset" in audit
    finally:
        srv.stop()
    srv.start()  # a second start prints no token again, and the new one still works
    try:
        assert srv.stderr(this_run=True).count("Admin token: ") == 0
        assert me(srv, new) == 200
    finally:
        srv.stop()


def test_a_plain_token_of_an_earlier_version_becomes_its_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "admin_token").write_text("an-old-plain-admin-token-0123456789\n")
    with Server(data) as srv:
        assert me(srv, "an-old-plain-admin-token-0123456789") == 200
        assert "an-old-plain" not in (data / "admin_token").read_text()
    refused = cli(
        data, "admin-token", "reset", env={"HEADWATER_ADMIN_TOKEN": "set-elsewhere-0123456789"}, check=False
    )
    assert refused.returncode == 2 and "HEADWATER_ADMIN_TOKEN is set" in refused.stderr
