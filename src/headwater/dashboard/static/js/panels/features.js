// Feature usage per tool_id and event: events over the range, and the users, share of MAU and
// trend (users against the same day a week before) on the range's last day, as the metric gives.

import { sparkline } from "../charts.js";
import { addDays, el, fmtInt, fmtPct } from "../dom.js";
import { table } from "../table.js";

export async function load(q, r) {
  const body = await q.metric("features", { start: r.start, end: r.end });
  const groups = new Map();
  for (const row of body.rows) {
    const key = JSON.stringify([row.tool_id, row.event]);
    if (!groups.has(key)) {
      groups.set(key, { tool_id: row.tool_id, event: row.event, events: 0, users: 0, share_of_mau: null, trend: null, daily: new Map() });
    }
    const g = groups.get(key);
    g.events += row.events;
    g.daily.set(row.date, row.users);
    if (row.date === r.end) Object.assign(g, { users: row.users, share_of_mau: row.share_of_mau, trend: row.trend });
  }
  const days = Array.from({ length: r.days }, (_, i) => addDays(r.start, i));
  const rows = [...groups.values()].sort((a, b) => b.events - a.events || String(a.event).localeCompare(b.event));
  for (const row of rows) row.spark = days.map((d) => row.daily.get(d) || 0);
  return (panel) => {
    const names = document.getElementById("event-names");
    for (const event of new Set(rows.map((row) => row.event))) {
      if (![...names.options].some((o) => o.value === event)) names.append(el("option", { value: event }));
    }
    if (!rows.length) return panel.empty();
    panel.note(`events ${r.start} – ${r.end}; users, share of MAU and trend on ${r.end}`);
    const columns = [
      { key: "tool_id", label: "tool_id", format: (v) => v ?? "(none)" },
      { key: "event", label: "event" },
      { key: "events", label: "events", num: true, format: fmtInt },
      { key: "users", label: "users", num: true, format: fmtInt },
      { key: "share_of_mau", label: "share_of_mau", num: true, format: (v) => fmtPct(v) },
      { key: "trend", label: "trend", num: true, format: (v) => (v === null ? "—" : (v > 0 ? "+" : "") + fmtPct(v)) },
    ];
    panel.setCsv("features", columns, rows);
    const shown = [...columns, { key: "spark", label: "daily users", format: (v) => sparkline(v) }];
    panel.show(table(shown, rows, { cls: "features" }));
  };
}
