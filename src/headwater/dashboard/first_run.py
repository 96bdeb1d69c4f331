"""What the dashboard's first run needs: whether the project has any event yet, and its write keys.

A project has events when its event log has a non-empty file or its lake holds a loaded day (the
log's oldest files may be gone after retention). Both are a few ``stat`` calls, cheap enough for
every page load. The write keys are listed only to a principal who may manage them (``admin``): the
page shows them in ready-to-paste snippets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.config import Settings
from headwater.log.files import list_log_files


def has_events(settings: Settings) -> bool:
    """True once any event was accepted (in the log, or loaded into the lake)."""
    for lf in list_log_files(settings.log_dir, "events"):
        try:
            if lf.path.stat().st_size > 0:
                return True
        except OSError:  # removed by retention meanwhile
            continue
    events = Path(settings.data_dir) / "lake" / "events"
    return events.is_dir() and any(events.glob("date=*/*.parquet"))


def write_keys(keys: Any) -> list[dict[str, str]]:
    """The active write keys, oldest first: ``[{"name", "key"}]`` (``keys``: a WriteKeyStore)."""
    return [{"name": k.name, "key": k.key} for k in keys.list_keys()]
