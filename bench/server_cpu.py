"""CPU time of a server's processes from /proc (utime + stime of every process in its process
group): machine load stretches wall-clock latency, but barely CPU time per request."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def group_pids(root_pid: int) -> list[int]:
    """Every process of the server's process group (supervisor, workers, background process)."""
    out = subprocess.run(["pgrep", "-g", str(os.getpgid(root_pid))], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (their threads included), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICK


class CpuMeter:
    """CPU seconds the server's processes spend between start() and stop()."""

    def __init__(self, root_pid: int) -> None:
        self.pids = group_pids(root_pid)
        self._start = 0.0

    def start(self) -> None:
        self._start = cpu_seconds(self.pids)

    def stop(self) -> float:
        return cpu_seconds(self.pids) - self._start


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def wait_quiet(root_pid: int, max_cpu_share: float = 0.05, timeout: float = 90.0) -> float:
    """Wait until the server idles (its tailers caught up with the log: under ``max_cpu_share`` of a
    core over one second), so their catch-up is not billed to the requests; the seconds waited."""
    import time

    pids = group_pids(root_pid)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pids)
        time.sleep(1.0)
        if cpu_seconds(pids) - before < max_cpu_share:
            break
    return time.monotonic() - started


def as_client(cmd: list[str], workers: int = 2) -> list[str]:
    """A load generator's command, run at the HTTP workers' CPU niceness.

    The clients of a real server are other machines; here they share its two cores. At niceness 0
    against workers at HEADWATER_WORKER_NICE (10 by default when a background process runs the
    tailers) the generator would take the CPU first and the server's figures would be the
    generator's; at the same niceness neither outranks the other, as when both ran at 0.
    """
    if workers <= 1:  # one process: no background process, the worker stays at 0
        return cmd
    return ["nice", "-n", os.environ.get("HEADWATER_WORKER_NICE", "10"), *cmd]
