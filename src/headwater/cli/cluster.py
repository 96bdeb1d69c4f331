"""`headwater cluster status|drain|join`: several hosts, one pipeline (docs/scale-out.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of

cluster_app = typer.Typer(
    help="Several collector hosts, one pipeline: the hosts, the job leases, the lake; a host leaving"
    " (drain) and coming back (join). Needs HEADWATER_CLUSTER=1 (docs/scale-out.md).",
    no_args_is_help=True,
)

_HINT = (
    "set HEADWATER_CLUSTER=1 with HEADWATER_OBJECT_STORE_URL and a PostgreSQL HEADWATER_DATABASE_URL"
    " shared by every host (docs/scale-out.md)"
)


def _settings(data_dir: Path | None) -> Any:
    settings = settings_of(existing=True, data_dir=data_dir)
    if not settings.cluster:
        fail("this host is not part of a cluster", hint=_HINT)
    return settings


def _store(settings: Any) -> Any:
    from headwater.shipping.service import ShippingError, open_store

    try:
        return open_store(settings)
    except ShippingError as exc:
        fail(str(exc))


@cluster_app.command()
def status(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """The hosts (alive, gone, left), their writers and lags, the job leases and the lake."""
    from headwater.cluster.status import cluster_status

    settings = _settings(data_dir)
    store = _store(settings)
    try:
        out = cluster_status(settings, store)
    finally:
        store.close()
    if as_json:
        print(json.dumps(out, indent=2))
        return
    console = Console()
    hosts = Table("host", "state", "last seen", "writers", "shipping lag", "draining", title="Hosts")
    for h in out["hosts"]:
        lag = h.get("shipping", {})
        hosts.add_row(
            h["host"],
            h["state"],
            f"{h['last_seen']} ({h['seconds_since']} s ago)",
            ", ".join(h.get("writers", [])) or "-",
            f"{lag.get('lag_seconds', 0)} s, {lag.get('waiting', 0)} files" if lag else "-",
            "yes" if h.get("draining") else "no",
        )
    console.print(hosts if out["hosts"] else "No host has announced itself yet: start `headwater serve`.")
    jobs = Table("job", "holder", "generation", "expires in", title="Job leases")
    for j in out["jobs"]:
        jobs.add_row(j["job"], j["holder"] or f"free (last: {j['last_holder']})", str(j["generation"]),
                     f"{j['expires_in_s']} s" if j["held"] else "-")  # fmt: skip
    console.print(jobs if out["jobs"] else "No job has run yet.")
    lake = out["lake"]
    here = out["this_host"]
    console.print(
        f"Lake: generation {lake['generation']} pushed {lake['pushed_at']} by {lake['holder']}"
        f" ({lake['files']} files); this host has generation {here['lake_generation']}"
        if lake
        else "Lake: not pushed yet (the pipeline host pushes it after its first run)."
    )
    for writer, s in out["shipped"].items():
        console.print(
            f"Shipped by {writer}: {s['files']} files, {s['bytes']:,} bytes, last day {s['last_day']}"
        )
    if out["error"]:
        err.print(f"[red]object store:[/] {out['error']}")
        raise typer.Exit(1)


@cluster_app.command()
def turn(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Take this host's turn now, as its server does every 5 minutes: announce it, ship its closed
    files, then run the pipeline if the lease is free (else pull the lake). For cron, or after a
    maintenance; a server running on this host takes its own turns too (the lease keeps them apart)."""
    from headwater.cluster.turn import take_turn

    settings = _settings(data_dir)
    report = take_turn(settings)
    out = report.as_dict()
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        if report.pipeline is not None:
            loaded = report.pipeline["loaded"]
            print(f"Pipeline run here: {len(loaded)} days loaded ({', '.join(loaded) or 'none pending'}).")
        else:
            print(f"Pipeline held by {report.pipeline_holder or 'nobody'}; the lake was pulled.")
        print(f"{report.shipped} files shipped.")
    if report.errors:
        for name, message in sorted(report.errors.items()):
            err.print(f"[red]error:[/] {name}: {message}")
        raise typer.Exit(1)


@cluster_app.command()
def drain(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Take this host out: collection answers 503 (draining) and /readyz says not ready, every log
    file (today's too) is shipped, and the host's leases are released. `join` brings it back."""
    from headwater.cluster.membership import drain as drain_host

    settings = _settings(data_dir)
    report = drain_host(settings)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(f"{report.host} is draining: collection refused, {len(report.shipped)} files shipped,"
              f" leases released: {', '.join(report.released) or 'none held'}")  # fmt: skip
        if not report.errors:
            print(
                "It holds nothing the cluster needs: stop it, or run `headwater cluster join`"
                " to take traffic again."
            )
    if report.errors:
        for name, message in sorted(report.errors.items()):
            err.print(f"[red]error:[/] {name}: {message}")
        err.print("Files not shipped stay on this disk: run `headwater cluster drain` again.")
        raise typer.Exit(1)


@cluster_app.command()
def join(data_dir: DataDir = None) -> None:
    """Bring this host back: collection accepts events again within a second; the host announces itself."""
    from headwater.cluster.membership import join as join_host

    settings = _settings(data_dir)
    join_host(settings)
    print("Joined: collection is accepted again; the load balancer adds the host when /readyz says ready.")


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
