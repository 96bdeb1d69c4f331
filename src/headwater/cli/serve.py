"""`headwater serve`: check what a user can get wrong, then run the server (headwater.process.run)."""

from __future__ import annotations

import errno
import logging
from typing import Annotated

import typer

from headwater import __version__
from headwater.cli.common import DataDir, database, err, fail, settings_of
from headwater.config import Settings

log = logging.getLogger("headwater.growth")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", show_default="8000")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; each writes its own log files.", show_default="1")
    ] = None,
) -> None:
    """Start the HTTP server (collection API, health, metrics) on embedded storage by default."""
    from headwater.admin_token import ensure_admin_token
    from headwater.live.service import check_workers
    from headwater.log.lock import WriterBusyError
    from headwater.ops.logs import configure_logging
    from headwater.ops.permissions import warn_if_too_open
    from headwater.process.run import serve as run_server
    from headwater.stores.sql.keys import SqlWriteKeys

    settings = settings_of(host=host, port=port, data_dir=data_dir, workers=workers)
    configure_logging(settings.log_level)
    try:
        check_workers(settings)  # an in-process store cannot be shared by several workers
    except RuntimeError as exc:
        fail(str(exc))
    _check_geo(settings)
    _check_port(settings)  # before anything is made or printed: a busy port is the one line shown
    warn_if_too_open(settings.data_dir.resolve())  # one line when an existing data dir is not private
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _adopt_control_plane(settings)  # growing from the embedded store: keys, experiments ... move along
    db = database(settings)  # fail fast, with a clear message, on a bad database URL
    keys = SqlWriteKeys(db)
    if not keys.list_keys(include_revoked=True):
        first = keys.create_key("default")
        err.print(f"First start: created write key for source 'default': {first.key}")
        err.print("(more sources: headwater keys create NAME; list them: headwater keys list)")
    db.close()
    _, created = ensure_admin_token(settings)
    if created:
        err.print(
            f"Admin token: {created}\n(shown once: {settings.data_dir / 'admin_token'} keeps only its hash;"
            " `headwater admin-token reset` makes a new one)"
        )
    err.print(
        f"Headwater {__version__} on http://{settings.host}:{settings.port}  "
        f"data: {settings.data_dir.resolve()}  workers: {settings.workers}  fsync: {settings.fsync}"
    )
    try:
        code = run_server(settings)
    except WriterBusyError as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        _port_failed(settings, exc)
    raise typer.Exit(code)


def _port_failed(settings: Settings, exc: OSError) -> None:
    hint = None
    if exc.errno == errno.EADDRINUSE:
        hint = (
            f"Another program listens on port {settings.port} (another Headwater?): stop it, or choose"
            f" another port: headwater serve --port {settings.port + 1} (or HEADWATER_PORT)."
        )
    elif exc.errno == errno.EACCES:
        hint = "Ports below 1024 need privileges: choose one above 1024 with --port (or HEADWATER_PORT)."
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = "This machine has no such address: use --host 0.0.0.0 (all) or 127.0.0.1 (this machine only)."
    fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", hint=hint)


def _check_port(settings: Settings) -> None:
    """Bind the address once and let it go: a port in use is refused before anything starts."""
    import socket

    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
                raise
            _port_failed(settings, exc)


def _check_geo(settings: Settings) -> None:
    """A configured geo database that cannot serve stops the start with one line (docs/collector.md,
    "Geography"); each HTTP worker opens it again (memory-mapped: the pages are shared)."""
    from headwater.geo import GeoDatabaseError, open_geo

    try:
        open_geo(settings)
    except GeoDatabaseError as exc:
        fail(str(exc))


def _adopt_control_plane(settings: Settings) -> None:
    """The first start against a new store copies the embedded store's control plane into it."""
    from headwater.stores.sql.control_plane import EMBEDDED_FILE, ControlPlaneConflict, adopt_embedded
    from headwater.stores.sql.ports import StoreUnavailableError
    from headwater.urls import mask_url

    target = mask_url(settings.effective_database_url)
    try:
        report = adopt_embedded(settings.data_dir, settings.effective_database_url)
    except StoreUnavailableError as exc:
        fail(str(exc), hint="Check HEADWATER_DATABASE_URL (or leave it empty for the embedded SQLite store).")
    except ControlPlaneConflict as exc:
        embedded = settings.data_dir / EMBEDDED_FILE
        err.print(
            f"warning: {exc}; clients sending them get 401. Serving {target}'s control plane. To take "
            f"the embedded one instead: headwater db copy --from sqlite:///{embedded.resolve()} "
            "--to URL --replace"
        )
        return
    if report is not None:
        log.info(  # one line in the server's log: what moved, and that it was read back
            f"control plane copied from the embedded store to {target} and verified: {report.summary}",
            extra={"target": target, **report.counts},
        )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
