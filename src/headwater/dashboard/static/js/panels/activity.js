// DAU, WAU and MAU per day over the range.

import { lineChart } from "../charts.js";

export async function load(q, r) {
  const [stick, wau] = await Promise.all([
    q.metric("stickiness", { start: r.start, end: r.end }),
    q.metric("wau", { start: r.prevEnd, end: r.end }),
  ]);
  const wauBy = new Map(wau.rows.map((row) => [row.date, row.value]));
  const rows = stick.rows.map((row) => ({
    date: row.date, dau: row.dau, wau: wauBy.get(row.date) ?? null, mau: row.mau, dau_mau: row.value,
  }));
  return (panel) => {
    if (!rows.some((row) => row.mau)) return panel.empty();
    panel.setCsv("active-users", [
      { key: "date", label: "date" }, { key: "dau", label: "dau" }, { key: "wau", label: "wau" },
      { key: "mau", label: "mau" }, { key: "dau_mau", label: "dau_mau" },
    ], rows);
    const dates = rows.map((row) => row.date);
    panel.show(lineChart(dates, [
      { name: "DAU", values: rows.map((row) => row.dau) },
      { name: "WAU", values: rows.map((row) => row.wau) },
      { name: "MAU", values: rows.map((row) => row.mau) },
    ], panel.width()));
  };
}
