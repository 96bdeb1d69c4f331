"""The server's processes import only what they use: every module costs memory in each of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from headwater.config import Settings
from headwater.http.app import create_app
settings = Settings(data_dir=sys.argv[1], role=sys.argv[2])
create_app(settings)
names = ("pydantic_settings", "typer", "rich", "duckdb", "pyarrow", "psycopg", "numpy", "scipy")
heavy = [m for m in names if m in sys.modules]
print(",".join(heavy))
"""


def _heavy_modules(tmp_path: Path, role: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), role], capture_output=True, text=True, check=True
    ).stdout.strip()
    return [m for m in out.split(",") if m]


def test_http_worker_does_not_load_the_cli_or_the_analytics_engines(tmp_path: Path) -> None:
    assert _heavy_modules(tmp_path, "http") == []


def test_settings_reader_stays_in_the_cli(tmp_path: Path) -> None:
    assert "pydantic_settings" not in _heavy_modules(tmp_path, "background")


def test_server_processes_run_with_two_malloc_arenas_unless_the_user_says(tmp_path: Path) -> None:
    from tests.helpers import Server

    srv = Server(tmp_path / "data").start(timeout=60)
    try:
        assert srv.proc is not None
        environ = Path(f"/proc/{srv.proc.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ
    finally:
        srv.stop()
    srv = Server(tmp_path / "data", env={"MALLOC_ARENA_MAX": "4"}).start(timeout=60)
    try:
        assert srv.proc is not None
        assert b"MALLOC_ARENA_MAX=4" in Path(f"/proc/{srv.proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        srv.stop()
