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
    panel.show(barChart(rows.map((row) => row.days), rows.map((row) => row.users), "users", "active days in the range", panel.width()));
  };
}
