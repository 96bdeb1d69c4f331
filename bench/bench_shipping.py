"""Log shipping throughput: a day of log (one file per writer) uploaded, verified and recorded
against a local object store server, with the figures printed.

    python bench/bench_shipping.py [--mb 512] [--writers 2] [--store gs|s3]

The server runs in this process (gcp-storage-emulator or moto, from the test extra), so the figure
is the client's and this machine's side: hashing, HTTP, the emulator's copy; a real bucket adds the
network. The batch benchmark's rate to keep up with is about 2M events (some 2 GB) a day.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=512, help="MB of log in all (default 512)")
    ap.add_argument("--writers", type=int, default=2, help="files (writers) the day is split into")
    ap.add_argument("--store", choices=("gs", "s3"), default="gs")
    args = ap.parse_args()

    import pytest
    from tests.object_stores import SERVERS

    from headwater.config import Settings
    from headwater.shipping.service import ship

    line = (
        b'{"type":"track","event":"Clicked","messageId":"m0000000000","userId":"user-000000",'
        b'"timestamp":"2026-12-01T10:00:00.000Z","receivedAt":"2026-12-01T10:00:00.000Z",'
        b'"properties":{"tool_id":"editor","plan":"pro"},"context":{"ip":"10.0.0.0"}}\n'
    )
    with tempfile.TemporaryDirectory() as tmp, SERVERS[args.store]() as server:
        data = Path(tmp)
        (data / "log").mkdir()
        per_file = (args.mb << 20) // args.writers // len(line)
        for w in range(args.writers):
            with open(data / "log" / f"events-20261201.w{w}.jsonl", "wb") as fh:
                for _ in range(per_file // 1000):
                    fh.write(line * 1000)
        with pytest.MonkeyPatch.context() as mp:
            url = server.new_bucket(mp)
            settings = Settings(data_dir=data, object_store_url=url)
            now = datetime(2026, 12, 10, 1, tzinfo=UTC)
            started = time.monotonic()
            cpu = time.process_time()
            report = ship(settings, now)
            wall = time.monotonic() - started
            cpu_used = time.process_time() - cpu
            again = ship(settings, now)
    mb = report.bytes / 1e6
    print(
        json.dumps(
            {
                "store": args.store,
                "files": len(report.uploaded),
                "mb": round(mb, 1),
                "seconds": round(wall, 2),
                "mb_per_s": round(mb / wall, 1),
                "cpu_seconds": round(cpu_used, 2),
                "second_run_seconds": again.seconds,
                "second_run_uploaded": len(again.uploaded),
                "errors": report.errors,
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
