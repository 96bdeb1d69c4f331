"""Real services for tests: PostgreSQL.

- ``pg_admin_url``: a server to create test databases in. 127.0.0.1:5432 as user postgres when it
  answers, else a private instance started here (initdb/pg_ctl from /usr/lib/postgresql/*/bin).
- ``pg_url``: a fresh database per test, dropped afterwards.
- ``private_pg``: a private instance of the test's own, which the test may stop and start.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import free_port

INSTALL_HINT = "PostgreSQL is needed for these tests: apt-get install postgresql (server binaries)"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(INSTALL_HINT)
    return Path(found[-1]).parent


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


class PgInstance:
    """A throwaway PostgreSQL server in its own folder, on its own port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="hw-pg-"))
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def _run(self, *cmd: str) -> None:
        out = subprocess.run(_as_postgres(*cmd), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {out.stdout}\n{out.stderr}")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def start(self) -> None:
        if self.host != "127.0.0.1":  # other hosts (network namespaces) connect too: trusted, throwaway
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses={self.host} -c fsync=off"
        opts += " -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    shared = "postgresql://postgres@127.0.0.1:5432/postgres"
    if _reachable(shared):
        yield shared
        return
    inst = PgInstance()
    inst.start()
    try:
        yield inst.admin_url
    finally:
        inst.destroy()


def create_database(admin_url: str) -> tuple[str, str]:
    name = "hw_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"'.encode())
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    name, url = create_database(pg_admin_url)
    try:
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def private_pg() -> Iterator[PgInstance]:
    inst = PgInstance()
    inst.start()
    try:
        yield inst
    finally:
        inst.destroy()
