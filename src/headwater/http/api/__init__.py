"""The HTTP API's handlers, one module per concern; http/routes.py mounts them.

Handlers reach the process's parts through the runtime's slots (``request.app.state.runtime``),
check the admin token with :func:`headwater.http.auth.require_admin`, and raise
:class:`headwater.http.errors.HttpError` for an answer that names what to fix.
"""
