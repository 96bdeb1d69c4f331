// Data health: ingest rate (from two readings of the server's counters), tailer lag, quarantined
// events, late events over the selected range (received on a later day than their timestamp's,
// docs/dashboard.md), the event log's size and the last ETL load.

import { getJSON, metric } from "../api.js";
import { fmtAgo, fmtInt, fmtNum, fmtPct, todayIn } from "../dom.js";
import { table } from "../table.js";

let previous = null;

function mb(bytes) {
  return fmtNum(bytes / 1048576) + " MB";
}

// Every event of every day before today late: the history was sent at once (an import, a
// backfill, `headwater demo`), not clients sending late. Said so, rather than a bare 100 %.
function backfill(late, today) {
  const before = (late.rows || []).filter((row) => row.date < today && row.events > 0);
  if (before.length < 2 || !before.every((row) => row.late === row.events)) return "";
  return ": every event before today arrived after its day, so this history was sent at once (an import, a backfill or `headwater demo`) rather than by clients that were late";
}

export async function load(config, range) {
  const [body, late] = await Promise.all([
    getJSON("/api/v1/dashboard/health"),
    metric("late_events", { start: range.start, end: range.end, tz: range.tz }).catch((err) => ({ error: err.message })),
  ]);
  const now = Date.parse(body.at);
  const accepted = body.ingest.accepted_total;
  let rate = null;
  if (previous && now > previous.at && accepted >= previous.accepted) rate = (accepted - previous.accepted) / ((now - previous.at) / 1000);
  previous = { at: now, accepted };
  const rows = [
    { check: "ingest rate", value: rate === null ? "measuring…" : `${fmtNum(rate)} events/s`, raw: rate },
    { check: "accepted since start", value: fmtInt(accepted), raw: accepted },
    { check: "rejected since start", value: fmtInt(body.ingest.rejected_total), raw: body.ingest.rejected_total },
  ];
  for (const t of body.tailers) {
    const lag = t.lag_events === null || t.lag_events === undefined ? t.state || t.role : `${fmtInt(t.lag_events)} events, ${fmtNum(t.lag_seconds)} s`;
    rows.push({ check: `tailer ${t.name} lag`, value: t.last_error ? `${lag} — ${t.last_error}` : lag, raw: t.lag_events, bad: Boolean(t.last_error) });
  }
  const q = body.quarantine;
  rows.push({ check: "quarantined today", value: fmtInt(q.events_today), raw: q.events_today, bad: q.events_today > 0 });
  rows.push({ check: "quarantined in the log", value: (q.estimated ? "≈ " : "") + fmtInt(q.events_total), raw: q.events_total });
  if (q.last) rows.push({ check: "last quarantine reason", value: `${q.last.code || ""} ${q.last.reason || ""}`.trim(), raw: q.last.code });
  rows.push(late.error
    ? { check: "late events", value: `could not count: ${late.error}`, raw: null, bad: true }
    : {
      check: "late events",
      value: `${fmtInt(late.late)} of ${fmtInt(late.events)} (${fmtPct(late.share)}) with a timestamp on ${range.start} – ${range.end} (${range.tz}) were received on a later day${backfill(late, todayIn(range.tz))}`,
      raw: late.late,
      key: "late_events",
      events: late.events,
    });
  rows.push({ check: "event log", value: `${fmtInt(body.log.files)} files, ${mb(body.log.bytes)} (${mb(body.log.bytes_today)} today)`, raw: body.log.bytes });
  const etl = body.etl;
  const last = etl.last_load;
  rows.push({
    check: "last ETL load",
    value: last ? `${fmtAgo(last.finished_at)}: received day ${last.received_day}, ${fmtInt(last.rows_out)} events in ${fmtNum(last.seconds)} s` : "never",
    raw: last ? last.finished_at : null,
    bad: !last,
  });
  if (etl.scheduler && etl.scheduler.last_error) rows.push({ check: "ETL error", value: etl.scheduler.last_error, raw: etl.scheduler.last_error, bad: true });
  return (panel) => {
    const columns = [{ key: "check", label: "check" }, { key: "value", label: "value", wrap: true }];
    panel.setCsv("data-health", [{ key: "check", label: "check" }, { key: "raw", label: "value" }], rows);
    panel.show(table(columns, rows, {
      cls: "health",
      decorate: (cell, c, row) => {
        if (row.bad) cell.classList.add("bad");
        if (row.key && c.key === "value") Object.assign(cell.dataset, { metric: row.key, value: String(row.raw), events: String(row.events) });
      },
    }));
  };
}
