// Users by number of active days in the range, and DAU/MAU on the last day.

import { barChart } from "../charts.js";
import { fmtPct } from "../dom.js";

export async function load(q, r) {
  const body = await q.metric("stickiness", { start: r.start, end: r.end });
  const rows = body.active_days || [];
  const last = body.rows.find((row) => row.date === r.end);
  return (panel) => {
    if (!rows.length) return panel.empty();
    panel.note(`users by active days; DAU/MAU on ${r.end}: ${fmtPct(last ? last.value : null)}`);
    panel.setCsv("stickiness", [{ key: "days", label: "active_days" }, { key: "users", label: "users" }], rows);
    // every number of active days from 1 to the range's length, empty ones included, so equal
    // spacing means equal steps
    const users = new Map(rows.map((row) => [row.days, row.users]));
    const most = Math.max(r.days, ...rows.map((row) => row.days));
    const buckets = Array.from({ length: most }, (_, i) => i + 1);
    panel.show(barChart(buckets, buckets.map((d) => users.get(d) || 0), "users", "active days in the range", panel.width()));
  };
}
