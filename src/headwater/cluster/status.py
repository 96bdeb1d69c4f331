"""``headwater cluster status`` and the cluster part of /readyz: the hosts and what they say of
themselves (writers, draining, shipping lag, tailers' lag), the job leases, the lake's generation
and what each writer has shipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from headwater.cluster.jobs import HOST_PREFIX
from headwater.cluster.lake_mirror import pulled_generation as local_generation
from headwater.cluster.lake_mirror import read_index
from headwater.cluster.membership import hosts_of, is_draining, shipping_lag
from headwater.cluster.pipeline import mirror_cache
from headwater.config import Settings
from headwater.shipping.manifest import Manifest
from headwater.stores.objects.ports import ObjectStore, ObjectStoreError
from headwater.stores.sql.leases import LeaseStore


def cluster_status(settings: Settings, store: ObjectStore | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    with LeaseStore(settings.effective_database_url) as leases:
        found = leases.list()
    out: dict[str, Any] = {
        "cluster": settings.cluster,
        "this_host": {
            "host": settings.cluster_host,
            "draining": is_draining(settings),
            "shipping": shipping_lag(settings, now),
            "lake_generation": local_generation(mirror_cache(settings)),
        },
        "hosts": hosts_of(found),
        "jobs": [lease.as_dict() for lease in found if not lease.job.startswith(HOST_PREFIX)],
        "lake": None,
        "shipped": {},
        "error": None,
    }
    if store is None:
        return out
    try:
        index = read_index(store)
        if index is not None:
            out["lake"] = {k: index.get(k) for k in ("generation", "pushed_at", "holder")}
            out["lake"]["files"] = len(index.get("files", {}))
        shipped: dict[str, dict[str, Any]] = {}
        for entry in Manifest(store, settings).load().entries.values():
            row = shipped.setdefault(
                entry.writer, {"files": 0, "bytes": 0, "last_day": None, "node": entry.host}
            )
            row["files"] += 1
            row["bytes"] += entry.size
            row["last_day"] = max(row["last_day"] or entry.day, entry.day)
        out["shipped"] = dict(sorted(shipped.items()))
    except ObjectStoreError as exc:
        out["error"] = str(exc)
    return out
