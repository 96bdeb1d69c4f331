"""Process-wide DuckDB databases that the lake's queries open connections to.

Making a DuckDB database costs ~17 ms (its buffer manager, its threads), more than many a dashboard
query takes. A query opens a connection (``database.cursor()``: 0.4 ms) to its process's database
instead: its temporary tables, registered views and session settings (the time zone) are its own,
the database's memory limit, spill folder and threads are shared by the queries running at a time.

Databases are kept per (process, key): a forked child starts with none (a DuckDB database does not
survive a fork). At most KEEP are open; an older one is retired, and closed once no connection to it
is left (closing a database closes its connections).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

KEEP = 4

_lock = threading.Lock()
_open: OrderedDict[Hashable, tuple[Any, weakref.WeakSet[Any]]] = OrderedDict()
_retired: list[tuple[Any, weakref.WeakSet[Any]]] = []


def connection(key: Hashable, make: Callable[[], Any]) -> Any:
    """A new connection to the database of ``key`` (made by ``make()`` the first time)."""
    with _lock:
        _close_unused()
        found = _open.get(key)
        if found is None:
            found = _open[key] = (make(), weakref.WeakSet())
            while len(_open) > KEEP:
                _retired.append(_open.popitem(last=False)[1])
        else:
            _open.move_to_end(key)
        database, connections = found
        con = database.cursor()
        connections.add(con)
        return con


def open_databases() -> int:
    """How many databases this process holds (open and retired), for tests."""
    with _lock:
        _close_unused()
        return len(_open) + len(_retired)


def _close_unused() -> None:
    for item in list(_retired):
        database, connections = item
        if not connections:  # every connection closed and dropped
            _retired.remove(item)
            database.close()


#: a forked child's inheritance, never used and never freed (a DuckDB database destroyed in a
#: forked child crashes it)
_inherited: list[Any] = []


def _forget_after_fork() -> None:
    global _lock, _open, _retired
    _inherited.append((_open, _retired))
    _lock = threading.Lock()
    _open = OrderedDict()
    _retired = []


os.register_at_fork(after_in_child=_forget_after_fork)
