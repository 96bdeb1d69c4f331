"""`headwater demo`: realistic synthetic traffic written through the normal collection path.

By default in-process: each batch goes through the collector's Ingestor (normalization, the
event log's writer with group commit and fsync) under its own writer id, so it runs next to a
server without touching its files. With ``--url`` and ``--write-key`` it POSTs /v1/batch to a
running server instead. Events carry explicit past timestamps (no sentAt, so no skew correction):
the log keeps them and the ETL puts each in its event date.

Before the traffic, it defines (in the realtime store, unless they exist already) the A/B test the
traffic runs, ``onboarding-checklist``, started when the demo's history starts, and two audiences,
so a newcomer's dashboard shows experiment results and audience sizes too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from headwater.cli.common import DataDir, err, settings_of
from headwater.cli.demo_web import Visitor, first_visit, pick, return_visit
from headwater.dashboard.defaults import FUNNEL_STEPS

# (app, tool_id, event, weight): skewed popularity (a few tools get most of the use)
TOOLS = [
    ("docs", "editor", "Document Edited", 40),
    ("docs", "search", "Searched", 18),
    ("docs", "export", "Document Exported", 8),
    ("docs", "templates", "Template Used", 5),
    ("sheets", "formula", "Formula Added", 14),
    ("sheets", "chart", "Chart Created", 6),
    ("sheets", "pivot", "Pivot Built", 2),
    ("chat", "messages", "Message Sent", 25),
    ("chat", "ai-assist", "AI Prompted", 9),
    ("chat", "calls", "Call Started", 3),
]
PLANS = [("free", 70), ("pro", 25), ("team", 5)]
THEMES = [("light", 60), ("dark", 40)]
LANGS = [("en", 55), ("fr", 15), ("de", 12), ("es", 10), ("ja", 8)]
FUNNEL = FUNNEL_STEPS  # the dashboard's default funnel shows the demo's sign-ups
EXPERIMENT = "onboarding-checklist"
# The A/B test the traffic runs: variation_id 0 (control) or 1 (the checklist), exposure at sign-up.
EXPERIMENT_DEFINITION: dict[str, Any] = {
    "key": EXPERIMENT,
    "name": "Onboarding checklist",
    "variations": [False, True],
    "weights": [0.5, 0.5],
    "status": "running",
    "phase": "0",
    "meta": [{"key": "0", "name": "Control"}, {"key": "1", "name": "Checklist"}],
    "metrics": {
        "primary": {"key": "project_created", "kind": "conversion", "event": FUNNEL[1], "window_days": 14},
        "secondary": [
            {"key": "teammate_invited", "kind": "conversion", "event": FUNNEL[2], "window_days": 14}
        ],
    },
}
AUDIENCES: list[dict[str, Any]] = [
    {
        "id": "power-editors",
        "name": "Power editors",
        "sendable_to_buyers": False,
        "rule": {"all": [{"event": "Document Edited", "min_count": 5, "within_days": 30}]},
    },
    {
        "id": "pro-sign-ups",
        "name": "Pro sign-ups",
        "sendable_to_buyers": False,
        "rule": {
            "all": [
                {"event": FUNNEL[0], "where": [{"property": "plan", "op": "in", "value": ["pro", "team"]}]}
            ]
        },
    },
]


def generate(users: int, days: int, seed: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Events of `users` people over the last `days` days (ends before `now`)."""
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    sent: list[dict[str, Any]] = []
    for n in range(users):
        uid = f"user-{n:05d}"
        anon = str(uuid.UUID(int=rng.getrandbits(128)))
        joined = start + timedelta(days=int(rng.random() ** 1.5 * days), hours=rng.uniform(7, 22))
        activity = min(0.95, rng.paretovariate(2.0) * 0.15)  # heavy tail: a few power users
        churn = rng.uniform(0.0, 0.08)
        variant = rng.randrange(2)
        traits = {"plan": pick(rng, PLANS), "language": pick(rng, LANGS), "name": f"User {n}"}
        theme = pick(rng, THEMES)
        visitor = Visitor.draw(rng)
        identified = False
        day = joined
        first = True
        while day < now:
            weekend = day.weekday() >= 5
            if first or rng.random() < activity * (0.45 if weekend else 1.0):
                for _ in range(1 + int(rng.random() < 0.35)):
                    t = day.replace(hour=0, minute=0) + timedelta(hours=rng.gauss(14, 3.5) % 24)
                    if first:
                        t = joined
                    if t >= now:
                        break
                    for ev in _session(rng, t, uid, anon, identified, first, variant, traits, theme, visitor):
                        sent.append(ev)
                        yield ev
                    identified = True
                    first = False
            if rng.random() < churn:
                break
            day += timedelta(days=1)
            if len(sent) > 500:
                sent = sent[-500:]
        # a few retries: the same messageId again (the lake keeps one)
        if sent and rng.random() < 0.3:
            yield dict(rng.choice(sent))


def _session(
    rng: random.Random,
    t: datetime,
    uid: str,
    anon: str,
    identified: bool,
    first: bool,
    variant: int,
    traits: dict[str, Any],
    theme: str,
    visitor: Visitor,
) -> Iterator[dict[str, Any]]:
    def base(kind: str, **extra: Any) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "type": kind,
            "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
            "anonymousId": anon,
            "timestamp": t.isoformat(timespec="milliseconds"),
        }
        if identified:
            ev["userId"] = uid
        ev["context"] = {**visitor.context(), "traits": {"plan": traits["plan"]}, **extra.pop("context", {})}
        ev.update(extra)
        return ev

    if first:  # anonymous browsing, then sign-up and identify (anonymous-then-identified)
        for page in first_visit(rng, visitor):
            yield base("page", **page)
            t += timedelta(seconds=rng.uniform(10, 120))
        yield base("track", event=FUNNEL[0], properties={"plan": traits["plan"]})
        identified = True
        yield base("identify", userId=uid, traits=traits)
        yield base(
            "track",
            userId=uid,
            event="Experiment Viewed",
            properties={"experiment_id": EXPERIMENT, "variation_id": variant},
        )
        if rng.random() < (0.55 if variant else 0.4):
            t += timedelta(minutes=rng.uniform(1, 30))
            yield base("track", userId=uid, event=FUNNEL[1], properties={"tool_id": "editor"})
            if rng.random() < (0.45 if variant else 0.3):
                t += timedelta(hours=rng.uniform(0.1, 48))
                yield base("track", userId=uid, event=FUNNEL[2], properties={"tool_id": "share"})
    else:  # a later visit opens the app through a page or two
        for page in return_visit(rng):
            yield base("page", **page)
            t += timedelta(seconds=rng.uniform(5, 90))
    app = rng.choice(sorted({a for a, *_ in TOOLS}))
    tools = [x for x in TOOLS if x[0] == app]
    for _ in range(rng.randint(2, 14)):
        t += timedelta(seconds=rng.expovariate(1 / 90))
        _, tool, event, _ = rng.choices(tools, weights=[w for *_, w in tools])[0]
        yield base("track", userId=uid, event=event, properties={"tool_id": tool, "app": app, "theme": theme})


def demo(
    users: Annotated[int, typer.Option(help="Number of simulated people.")] = 200,
    days: Annotated[int, typer.Option(help="Days of history, ending now.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 1,
    url: Annotated[
        str | None, typer.Option(help="POST to this running server instead of in-process.")
    ] = None,
    write_key: Annotated[str | None, typer.Option(help="Write key for --url.")] = None,
    etl: Annotated[bool, typer.Option(help="Load today's log into the lake at the end.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Write realistic synthetic traffic (tools, sessions, sign-ups, an A/B test, retries)."""
    if url and not write_key:
        err.print("[red]error:[/] --url needs --write-key (see `headwater keys create demo`)")
        raise typer.Exit(2)
    if users < 1 or days < 1:
        err.print("[red]error:[/] --users and --days must be at least 1")
        raise typer.Exit(2)
    settings = settings_of(data_dir=data_dir)
    now = datetime.now(UTC)
    if not url:  # with --url the server's store may be elsewhere: define them through its API
        _define(settings, (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0))
    estimate = users * days * 2  # rough, for the bar; finished when generation ends
    events = generate(users, days, seed, now)
    columns = (
        TextColumn("[bold]demo"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("events", total=estimate)
        if url:
            total = _post_all(events, url.rstrip("/"), str(write_key), lambda n: progress.advance(task, n))
        else:
            total = asyncio.run(_ingest_all(settings, events, lambda n: progress.advance(task, n)))
        progress.update(task, total=total, completed=total)
    err.print(f"Wrote {total} events for {users} users over {days} days.")
    if etl and not url:
        from headwater.batch.etl import run_daily

        result = run_daily(settings.data_dir, now.date(), settings.timezone)
        err.print(f"Loaded into the lake: {result.rows_out} events ({result.duplicates} duplicates dropped).")
    end = now.date().isoformat()
    begin = (now.date() - timedelta(days=days)).isoformat()
    err.print(f"Try: headwater metrics dau --start {begin} --end {end}")


def _define(settings: Any, started: datetime) -> None:
    """The demo's experiment and audiences, unless defined already (a second run keeps them)."""
    from headwater.experiments import admin
    from headwater.stores.sql.audiences import AudienceCatalog
    from headwater.stores.sql.experiments import ExperimentCatalog
    from headwater.targeting.audience_spec import parse_audience

    url = settings.effective_database_url
    experiments = ExperimentCatalog(url)
    try:
        if experiments.get(EXPERIMENT) is None:
            admin.create(experiments, EXPERIMENT_DEFINITION)
            experiments.set_phase_start(EXPERIMENT, "0", started)
            err.print(f"Defined the experiment {EXPERIMENT!r} (headwater experiments results {EXPERIMENT}).")
    finally:
        experiments.close()
    audiences = AudienceCatalog(url)
    try:
        created = []
        for audience in AUDIENCES:
            parse_audience(audience)
            if audiences.get_audience(audience["id"]) is None:
                audiences.put_audience(audience, create_only=True)
                created.append(audience["id"])
    finally:
        audiences.close()
    if created:
        err.print(f"Defined the audiences {', '.join(created)}.")
        time.sleep(1.5)  # a running server picks up new definitions within a second


def _batches(events: Iterator[dict[str, Any]], size: int = 100) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for ev in events:
        batch.append(ev)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _ingest_all(settings: Any, events: Iterator[dict[str, Any]], advance: Any) -> int:
    from headwater.collector.ingest import Ingestor
    from headwater.events.normalize import Normalizer, RequestInfo
    from headwater.log.lock import WriterLock
    from headwater.log.writer import LogWriter

    writer_id = f"{settings.writer_id}-demo"
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    lock = WriterLock(settings.log_dir, writer_id)
    lock.acquire()
    log = LogWriter(settings.log_dir, "events", writer_id=writer_id, fsync="interval")
    quarantine = LogWriter(settings.log_dir, "quarantine", writer_id=writer_id, fsync="interval")
    log.start()
    quarantine.start()
    normalizer = Normalizer(ip_policy=settings.ip_policy)
    ingestor = Ingestor(normalizer, log, quarantine, settings.max_event_bytes)
    total = 0
    try:
        for batch in _batches(events):
            req = RequestInfo(received_at=datetime.now(UTC), source="demo", ip="203.0.113.7")
            result = await ingestor.ingest(batch, req)
            total += result.accepted
            advance(len(batch))
    finally:
        await log.close()
        await quarantine.close()
        lock.release()
    return total


def _post_all(events: Iterator[dict[str, Any]], url: str, key: str, advance: Any) -> int:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    total = 0
    for batch in _batches(events):
        body = json.dumps({"batch": batch}).encode()
        req = urllib.request.Request(
            url + "/v1/batch", data=body, headers={"Content-Type": "application/json", "Authorization": auth}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            total += int(json.loads(resp.read())["accepted"])
        advance(len(batch))
    return total


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
