"""The server's processes: `headwater serve` checks, binds and execs (run.py) either one process
that does everything or a supervisor (supervisor.py) of N HTTP workers and one background process,
each started as ``python -m headwater.process.worker`` (worker.py)."""
