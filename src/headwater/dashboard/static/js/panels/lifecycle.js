// New, returning and resurrecting users per day (up) and dormant ones (down).

import { stackedBars } from "../charts.js";

const KINDS = ["new", "returning", "resurrecting", "dormant"];

export async function load(q, r) {
  const body = await q.metric("lifecycle", { start: r.prevStart, end: r.end });
  const rows = body.rows.filter((row) => row.date >= r.start && row.date <= r.end);
  return (panel) => {
    if (!rows.some((row) => KINDS.some((k) => row[k]))) return panel.empty();
    panel.setCsv("lifecycle", [{ key: "date", label: "date" }, ...KINDS.map((k) => ({ key: k, label: k }))], rows);
    panel.show(stackedBars(rows.map((row) => row.date), KINDS.map((k, i) => ({
      name: k, values: rows.map((row) => row[k]), negative: k === "dormant", color: i,
    })), panel.width()));
  };
}
