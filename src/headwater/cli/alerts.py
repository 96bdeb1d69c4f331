"""`headwater alerts [list|create|check|events|delete]`: alerts on saved trend insights, sent to a
webhook (docs/dashboard.md, "Alerts"); the same ones and the same JSON as /api/v1/alerts. An alert
is named by its id or, when no other has it, its name; so is its insight. A running server checks
them on schedule; `alerts check` checks one now from the shell (and sends its webhook if the state
crossed), `--dry-run` only says what a check would find."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, JsonOpt, catalog, fail, settings_of
from headwater.cli.saved import find, find_insight, open_saved

alerts_app = typer.Typer(
    help="Alerts on saved trend insights, sent to a webhook (Slack-compatible). Without a command: the list.",
    invoke_without_command=True,
)
Ref = Annotated[str, typer.Argument(help="The alert's id, or its name.", show_default=False)]


def _open(data_dir: Path | None) -> Any:
    from headwater.stores.sql.alerts import AlertCatalog

    return catalog(AlertCatalog, settings_of(existing=True, data_dir=data_dir))


def find_alert(alerts: Any, ref: str) -> Any:
    return find(alerts.alerts(), ref, "alert", "headwater alerts list")


def _state(alert: Any) -> str:
    from headwater.alerts.rules import number

    if alert.state is None:
        return "not checked yet"
    last = alert.last_check or {}
    if alert.state == "error":
        return f"error: {last.get('error')}"
    return f"{alert.state} ({number(last.get('value'))})"


@alerts_app.callback()
def alerts_main(ctx: typer.Context, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Alerts: without a command, the list."""
    if ctx.invoked_subcommand is None:
        list_(data_dir, as_json)


@alerts_app.command("list")
def list_(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Every alert: id, state (with the last value), name, what it watches."""
    from headwater.alerts.rules import parse_condition

    with _open(data_dir) as alerts:
        found = alerts.alerts()
        with open_saved(data_dir) as saved:
            names = {i.id: i.name for i in saved.insights()}
    if as_json:
        rows = [a.as_json(names.get(a.insight)) for a in found]
        print(json.dumps({"alerts": rows}, indent=2, ensure_ascii=False))
        return
    if not found:
        print("no alerts yet: headwater alerts create NAME --insight INSIGHT --below N --webhook-url URL")
        return
    for a in found:
        condition = parse_condition(a.condition).describe()
        print(f"{a.id:<12} {_state(a):<24} {a.name}: '{names.get(a.insight)}' series {a.series} {condition}")


@alerts_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The alert's name (in its messages).")],
    insight: Annotated[
        str, typer.Option("--insight", help="The saved trend insight: its id or name.", show_default=False)
    ],
    webhook_url: Annotated[
        str,
        typer.Option(
            "--webhook-url",
            help="Where to POST (http or https): a Slack incoming webhook, or any receiver of JSON.",
            show_default=False,
        ),
    ],
    above: Annotated[float | None, typer.Option("--above", help="Fire while the value is above N.")] = None,
    below: Annotated[float | None, typer.Option("--below", help="Fire while the value is below N.")] = None,
    change: Annotated[
        float | None,
        typer.Option("--change", help="Fire while the value moved N percent or more from the period before."),
    ] = None,
    direction: Annotated[
        str, typer.Option("--direction", help="--change only: any (either way), up or down.")
    ] = "any",
    period: Annotated[
        str, typer.Option("--period", help="day (yesterday's value) or week (last week's, from Monday).")
    ] = "day",
    series: Annotated[
        int, typer.Option("--series", help="Which series of the trend: 0 is the first (A).")
    ] = 0,
    every: Annotated[
        str, typer.Option("--every", help="How often a server checks it: hour or day.")
    ] = "hour",
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an alert on a saved trend insight: a server checks it every hour (or day)."""
    from headwater.alerts.checks import check_target
    from headwater.alerts.rules import AlertError, parse_alert

    given = [(k, v) for k, v in (("above", above), ("below", below), ("change", change)) if v is not None]
    if len(given) != 1:
        fail("give one condition: --above N, --below N or --change PERCENT")
    kind, value = given[0]
    condition: dict[str, Any] = {"type": kind, "value": value, "period": period}
    if kind == "change":
        condition["direction"] = direction
    with open_saved(data_dir) as saved:
        target = find_insight(saved, insight)
        body = {
            "name": name,
            "insight": target.id,
            "condition": condition,
            "series": series,
            "webhook_url": webhook_url,
            "every": every,
        }
        try:
            spec = parse_alert(body)
            check_target(spec, target)
        except AlertError as exc:
            fail(
                exc.message.replace("field 'webhook_url'", "--webhook-url"),
                hint="See docs/dashboard.md, Alerts.",
            )
    with _open(data_dir) as alerts:
        stored = alerts.create(
            spec.name, spec.insight, spec.condition.as_json(), spec.series, spec.webhook_url, spec.every
        )
    if as_json:
        print(json.dumps(stored.as_json(target.name), indent=2, ensure_ascii=False))
        return
    print(
        f"created alert {stored.id}: {stored.name} ({spec.condition.describe()}, checked every {spec.every})"
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at: not a date or a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM): {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@alerts_app.command("check")
def check(
    ref: Ref,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what a check finds: send nothing, record nothing.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="With --dry-run: check as at this moment (YYYY-MM-DD[THH:MM], UTC)."),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an alert now: its state and value; the webhook is sent if the state crossed."""
    from headwater.alerts.checks import check_alert
    from headwater.alerts.rules import EVERY_SECONDS

    if at is not None and not dry_run:
        fail("--at needs --dry-run (a check recorded at another moment would mix up the alert's history)")
    now = _moment(at) if at is not None else datetime.now(UTC)
    settings = settings_of(data_dir=data_dir, existing=True)
    with _open(data_dir) as alerts:
        alert = find_alert(alerts, ref)
        if not dry_run:  # this check is the scheduled one: the next is an interval away
            alerts.reschedule(alert.id, now + timedelta(seconds=EVERY_SECONDS[alert.every]))
        found = check_alert(settings, alerts, alert, now, dry_run=dry_run)
    if as_json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        _print_check(found)
    if found["state"] == "error":
        raise typer.Exit(1)
    if found.get("delivery_error"):
        raise typer.Exit(1)


def _print_check(found: dict[str, Any]) -> None:
    if found["state"] == "error":
        print(f"error: {found['error']}")
        print("The alert is in error until a check succeeds; fix its insight or delete the alert.")
        return
    print(f"{found['state']}: {found['summary']}")
    sent = found["notification"]
    if sent is None:
        print("no webhook: the state did not cross since the last message")
    elif found["dry_run"]:
        print(f"a check would send '{sent}' to the webhook")
    elif found["delivered"]:
        print(f"sent '{sent}' to the webhook")
    else:
        print(f"the webhook failed: {found['delivery_error']}")
        print("It is sent again at the next check (headwater alerts events ID shows the history).")


@alerts_app.command("events")
def events(
    ref: Ref,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")
    ] = 20,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """An alert's history: changes of state and webhook deliveries (failed ones with their error)."""
    from headwater.alerts.rules import number

    with _open(data_dir) as alerts:
        alert = find_alert(alerts, ref)
        found = alerts.events(alert.id, limit)
    if as_json:
        print(
            json.dumps(
                {"alert": alert.id, "events": [e.as_json() for e in found]}, indent=2, ensure_ascii=False
            )
        )
        return
    if not found:
        print(f"no events yet: alert {alert.id} has not been checked (headwater alerts check {alert.id})")
        return
    for e in found:
        what = f"{e.previous_state or 'new'} -> {e.state}"
        if e.state != "error":
            what += f" ({number(e.evaluation.get('value'))})"
        if e.notification:
            sent = "sent" if e.delivered else f"not sent: {e.error}"
            what += f", webhook '{e.notification}' {sent}"
        elif e.error:
            what += f": {e.error}"
        print(f"{e.at[:19].replace('T', ' ')}  {what}")


@alerts_app.command("delete")
def delete(ref: Ref, data_dir: DataDir = None) -> None:
    """Delete an alert and its history."""
    with _open(data_dir) as alerts:
        alert = find_alert(alerts, ref)
        alerts.delete(alert.id)
    print(f"deleted alert {alert.id}")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
