"""A deletion in a cluster of hosts (docs/scale-out.md, "Deletions in a cluster").

Each host's disk holds its own log files, so the person's lines there are erased by that host.
Every host's deletion runner erases its own files (and puts back what it shipped of them) for each
deletion that still holds the person's ids, and records that it did (``regulation_hosts``, by host).
The host running the deletion's steps (one at a time: the ``privacy`` lease) waits in the ``hosts``
step, after its own ``log`` step and before the lake's, until every host that is alive has done so:
no hourly part or lake load can bring the lines back after it. A host that is gone, or that left
the cluster, cannot: the step fails naming it, and after the step's attempts the regulation is
``PARTIAL_SUCCESS`` and keeps the ids; once that host is back its runner erases its files, and
``headwater privacy run ID`` finishes the deletion.
"""

from __future__ import annotations

from typing import Any

from headwater.cluster.membership import hosts_of
from headwater.config import Settings
from headwater.stores.sql.leases import LeaseStore
from headwater.stores.sql.webhooks import SqlRegulations

#: the lease of the deletions' steps in a cluster (each host erases its own files outside it)
PRIVACY_JOB = "privacy"


class WaitingForHosts(Exception):
    """Hosts that are alive have not erased their own files yet: not a failure, the step waits."""

    def __init__(self, hosts: list[str]) -> None:
        super().__init__(f"waiting for hosts {', '.join(hosts)} to erase their own log files")
        self.hosts = hosts


#: the row of regulation_hosts that keeps the plan's cells (privacy/hourly.py), whichever host made it
PLAN_ROW = "~plan"


def note_done(
    regulations: SqlRegulations,
    regulation_id: str,
    host: str,
    figures: dict[str, Any],
    cells: set[tuple[str, str, str]],
) -> None:
    """A host's part done: what its erasure did, and the hourly cells of the lines it erased (hours,
    tools, event types: no id), which the realtime step subtracts from the hourly unique users."""
    summary = {k: figures.get(k) for k in ("files_scanned", "files_changed", "lines_erased")}
    regulations.host_done(regulation_id, host, {**summary, "cells": sorted(cells)})


def noted_cells(regulations: SqlRegulations, regulation_id: str) -> list[tuple[Any, ...]]:
    """Every host's cells, and the plan's (the realtime step may run on another host than the plan):
    ``(hour, tool, event)``, or with the actors the live counter counted the person as (the plan's)."""
    return [
        tuple(cell)
        for detail in regulations.hosts_done(regulation_id).values()
        for cell in detail.get("cells") or []
    ]


def hosts_step(settings: Settings, regulations: SqlRegulations, regulation_id: str) -> dict[str, Any]:
    """The ``hosts`` step: every host of the cluster erased its own files (WaitingForHosts while an
    alive one has not; RuntimeError naming a gone or departed one that has not)."""
    with LeaseStore(settings.effective_database_url) as leases:
        hosts = hosts_of(leases.list())
    done = {h: d for h, d in regulations.hosts_done(regulation_id).items() if h != PLAN_ROW}
    waiting = sorted(h["host"] for h in hosts if h["host"] not in done and h["state"] == "alive")
    if waiting:
        raise WaitingForHosts(waiting)
    absent = sorted(
        f"{h['host']} ({h['state']}, last seen {h['last_seen']})" for h in hosts if h["host"] not in done
    )
    if absent:
        raise RuntimeError(
            f"hosts {', '.join(absent)} have not erased their own log files; once they are back their"
            " runner does, then `headwater privacy run ID` finishes the deletion"
        )
    return {"hosts": {h: {k: v for k, v in d.items() if k != "cells"} for h, d in done.items()}}


__all__ = ["PLAN_ROW", "PRIVACY_JOB", "WaitingForHosts", "hosts_step", "note_done", "noted_cells"]
