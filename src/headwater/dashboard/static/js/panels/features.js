// Feature usage: per tool (tool_id) and event, over the whole range: events, users on an average
// day (daily unique users averaged over the range's days; unique users are never summed across
// days), the days with any use, and a sparkline of daily users. Events without a tool_id
// (identify, page, sign-ups...) are not features: the panel counts them in a line below the table.

import { sparkline } from "../charts.js";
import { addDays, el, fmtInt } from "../dom.js";
import { table } from "../table.js";

export async function load(q, r) {
  const body = await q.metric("features", { start: r.start, end: r.end });
  const groups = new Map();
  const untracked = { events: 0, names: new Set() };
  for (const row of body.rows) {
    if (row.date < r.start || row.date > r.end) continue;
    if (row.tool_id === null || row.tool_id === undefined || row.tool_id === "") {
      untracked.events += row.events;
      untracked.names.add(row.event);
      continue;
    }
    const key = JSON.stringify([row.tool_id, row.event]);
    if (!groups.has(key)) groups.set(key, { tool_id: row.tool_id, event: row.event, events: 0, user_days: 0, daily: new Map() });
    const g = groups.get(key);
    g.events += row.events;
    g.user_days += row.users;
    g.daily.set(row.date, row.users);
  }
  const days = Array.from({ length: r.days }, (_, i) => addDays(r.start, i));
  const rows = [...groups.values()].sort((a, b) => b.events - a.events || String(a.event).localeCompare(b.event));
  for (const row of rows) {
    row.spark = days.map((d) => row.daily.get(d) || 0);
    row.avg_daily_users = Math.round((100 * row.user_days) / r.days) / 100;
    row.active_days = row.spark.filter((v) => v > 0).length;
  }
  const allNames = new Set([...rows.map((row) => row.event), ...untracked.names]);
  return (panel) => {
    const names = document.getElementById("event-names");
    for (const event of allNames) {
      if (![...names.options].some((o) => o.value === event)) names.append(el("option", { value: event }));
    }
    if (!rows.length) return panel.empty(untracked.events ? "No event with a tool_id in this range." : "No data in this range.");
    panel.note(`${r.start} – ${r.end}: events in total, users on an average day`);
    const columns = [
      { key: "tool_id", label: "tool_id" },
      { key: "event", label: "event" },
      { key: "events", label: "events", num: true, format: fmtInt },
      { key: "avg_daily_users", label: "avg_daily_users", head: "Users / day", num: true, format: (v) => (v > 0 && v < 0.1 ? "< 0.1" : v.toFixed(1)) },
      { key: "active_days", label: "active_days", head: `Days used (of ${r.days})`, num: true, format: fmtInt },
    ];
    panel.setCsv("features", columns, rows);
    const shown = [...columns, { key: "spark", label: "daily users", head: "Daily users", format: (v) => sparkline(v) }];
    const parts = [table(shown, rows, { cls: "features" })];
    if (untracked.events) {
      const some = [...untracked.names].slice(0, 4).join(", ") + (untracked.names.size > 4 ? ", …" : "");
      parts.push(el("p", { cls: "hint", text: `Not features: ${fmtInt(untracked.events)} events without a tool_id (${some}).` }));
    }
    panel.show(parts);
  };
}
