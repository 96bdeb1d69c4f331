"""Object storage by URL scheme (``gs://``, ``s3://``), behind the port of ports.py; the drivers are
optional extras, imported only when a store is opened."""

from __future__ import annotations

import importlib

from headwater.stores.objects.ports import ObjectStore, ObjectStoreError
from headwater.stores.objects.urls import parse_object_url
from headwater.stores.registry import backend_for, missing_extra


def open_object_store(url: str) -> ObjectStore:
    """Open the store a URL names (nothing is contacted yet). ObjectStoreError for an unknown
    scheme, a malformed URL or a missing driver (naming the extra to install)."""
    try:
        parsed = parse_object_url(url)
    except ValueError as exc:
        raise ObjectStoreError(str(exc)) from None
    backend = backend_for(url, "objects")
    module = importlib.import_module(backend.module)
    try:
        store: ObjectStore = module.open_url(parsed)
    except ImportError as exc:
        raise ObjectStoreError(missing_extra(backend)) from exc
    return store
