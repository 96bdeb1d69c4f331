"""The admin/query HTTP API under /api/v1 (Starlette), one module per concern.

Each module exposes ``routes() -> list[BaseRoute]``; handlers reach the worker's Runtime as
``request.app.state.runtime`` and check the admin token with :func:`headwater.api.auth.require_admin`.
"""
