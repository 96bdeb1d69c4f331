"""The warehouse by URL scheme (``bigquery://PROJECT/DATASET``), behind the port of ports.py."""

from __future__ import annotations

import importlib

from headwater.stores.registry import UnknownBackendError, backend_for, missing_extra
from headwater.stores.warehouse.ports import Warehouse, WarehouseError


def open_warehouse(url: str) -> Warehouse:
    """Open the warehouse a URL names (nothing is contacted yet). WarehouseError for an unknown
    scheme, a bad URL or a missing driver (naming the extra to install)."""
    try:
        backend = backend_for(url, "warehouse")
    except UnknownBackendError as exc:
        raise WarehouseError(str(exc)) from None
    module = importlib.import_module(backend.module)
    try:
        warehouse: Warehouse = module.open_url(url)
    except ImportError as exc:
        raise WarehouseError(missing_extra(backend)) from exc
    return warehouse
