"""The BigQuery emulator for tests: PyPI ``bqemulator`` in its own venv (scripts/bqemulator-venv.sh).

- ``bq_emulator``: one emulator for the test session, ephemeral, on free ports of 127.0.0.1; the
  official client reaches it through ``endpoint=`` in the warehouse URL (anonymous credentials).
- ``warehouse_url``: a fresh dataset per test (``bigquery://P/D?endpoint=...``), created by the test.

What the emulator cannot show (bytes scanned, real credentials, job id conflicts) is listed in
docs/warehouse.md; see ../shared/NOTES.md for what was measured.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "hw-test"


@dataclass
class BqEmulator:
    project: str
    endpoint: str
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, dataset: str) -> str:
        return f"bigquery://{self.project}/{dataset}?endpoint={self.endpoint}"

    def client(self):  # type: ignore[no-untyped-def]
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )


def _emulator_command() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bqemulator-venv.sh")], capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        pytest.fail(
            f"the BigQuery emulator could not be installed (scripts/bqemulator-venv.sh):\n{out.stderr}"
        )
    return str(ROOT / out.stdout.strip().splitlines()[-1])


def start_emulator() -> BqEmulator:
    command = _emulator_command()
    rest, grpc = free_port(), free_port()
    staging = Path(tempfile.mkdtemp(prefix="hw-bq-"))
    log = staging / "emulator.log"
    env = dict(os.environ, BQEMU_ENABLE_FORMAT_EXTENSIONS="false", BQEMU_UPLOAD_STAGING_DIR=str(staging))
    args = [command, "start", "--project", PROJECT, "--ephemeral", "--rest-host", "127.0.0.1"]
    args += ["--rest-port", str(rest), "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{rest}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the BigQuery emulator exited at start:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=2):
                return BqEmulator(PROJECT, endpoint, process, log)
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"the BigQuery emulator did not answer in 60 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def bq_emulator() -> Iterator[BqEmulator]:
    emulator = start_emulator()
    yield emulator
    emulator.process.terminate()
    try:
        emulator.process.wait(10)
    except subprocess.TimeoutExpired:
        emulator.process.kill()


@pytest.fixture
def warehouse_url(bq_emulator: BqEmulator) -> str:
    """A dataset name of this test's own (the exporter's ``warehouse init`` or the test creates it)."""
    return bq_emulator.url(f"t_{uuid.uuid4().hex[:12]}")
