"""Every line a server process writes on stderr is one JSON object, warnings included."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import logging, warnings
from headwater.ops.logs import configure_logging
configure_logging("info")
logging.getLogger("headwater.test").info("hello", extra={"n": 1})
warnings.warn("a library complains\\non two lines", UserWarning, stacklevel=1)
"""


def test_warnings_become_json_log_lines() -> None:
    command = [sys.executable, "-W", "default", "-c", SCRIPT]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # a plain-text line fails here
    assert [r["logger"] for r in records] == ["headwater.test", "py.warnings"]
    assert records[0]["n"] == 1
    assert records[1]["level"] == "warning" and "a library complains" in records[1]["msg"]
