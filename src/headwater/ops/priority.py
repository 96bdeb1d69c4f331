"""CPU priorities of a server's parts, for when a load saturates the cores.

First the tailers (what was acknowledged reaches the counters within seconds), then collection
(the HTTP workers, at ``worker_nice``), then the batch jobs of the background process (daily ETL,
audience recompute, dashboard warm-up, at ``background_nice``). On Linux niceness belongs to each
thread and is inherited by the threads and processes a thread starts; raising it needs no
privilege, lowering it does, so the background process stays at 0 for its tailer threads and its
job threads raise their own.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("headwater.process")


def nice_this_thread(nice: int) -> None:
    """Raise the calling thread's niceness to ``nice`` (never lowers it); a no-op where unsupported."""
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (AttributeError, OSError) as exc:  # not Linux, or refused: priorities are a refinement
        log.debug("could not set this thread's niceness to %s: %s", nice, exc)
