"""What keeps a day of raw log on disk besides its age: the warehouse export not done yet, and (with
log shipping) the day not shipped to object storage yet. Read by raw-log retention and by shipping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from headwater.config import Settings

Hold = Callable[[str, date], bool]


def not_exported(settings: Settings) -> Hold | None:
    """With a warehouse: a day of a log ('events', 'decisions') is kept by raw-log retention until
    every hour of it is exported."""
    if not settings.warehouse_url or settings.raw_retention_days is None:
        return None
    from headwater.stores.sql.warehouse_ledger import WarehouseLedger
    from headwater.warehouse.hours import day_exported, ledger_kind

    ledger = WarehouseLedger(settings.effective_database_url)
    try:
        done = {
            kind: ledger.done_hours(ledger_kind(settings.host_in_cluster, kind))
            for kind in ("events", "decisions")
        }
    finally:
        ledger.close()
    return lambda kind, day: not day_exported(done[kind], day)


def retention_holds(settings: Settings) -> Hold | None:
    """Every hold of :func:`apply_retention`: not exported, and with HEADWATER_OBJECT_STORE_URL set,
    an event day not shipped and verified whole (the local record of the last shipping run)."""
    exported = not_exported(settings)
    if not settings.object_store_url:
        return exported
    from headwater.shipping.manifest import shipped_days

    shipped = shipped_days(settings)

    def held(kind: str, day: date) -> bool:
        if exported is not None and exported(kind, day):
            return True
        return kind == "events" and day not in shipped

    return held
