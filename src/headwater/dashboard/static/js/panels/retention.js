// Retention heat map: one row per cohort (first-ever day, week or month), the share of the cohort
// active N periods later; the period follows the range's length so the map stays readable.

import { heat } from "../charts.js";
import { el, fmtInt } from "../dom.js";
import { table } from "../table.js";

export function periodFor(days) {
  return days <= 31 ? "day" : days <= 186 ? "week" : "month";
}

export async function load(q, r) {
  const period = periodFor(r.days);
  const body = await q.metric("retention", { start: r.start, end: r.end, period });
  const width = Math.max(0, ...body.rows.map((row) => row.values.length));
  const cohorts = body.rows.filter((row) => row.cohort_size > 0).map((row) => {
    const out = { cohort: row.date, cohort_size: row.cohort_size };
    for (const cell of row.values) {
      out["p" + cell.period] = cell.rate;
      out["i" + cell.period] = cell.incomplete;
    }
    return out;
  });
  const average = { cohort: "average", cohort_size: null };
  for (const a of body.average || []) average["p" + a.period] = a.rate;
  return (panel) => {
    if (!cohorts.some((c) => c.cohort_size)) return panel.empty();
    panel.note(`cohorts by first ${period}; % of the cohort active N ${period}s later (${body.mode})`);
    const periods = Array.from({ length: width }, (_, i) => ({ key: "p" + i, label: `${period} ${i}`, head: i === 0 ? `${period[0].toUpperCase()}${period.slice(1)} ${i}` : String(i), num: true, format: (v) => (v === undefined || v === null ? "" : String(Math.round(v * 100))) }));
    const columns = [{ key: "cohort", label: "cohort" }, { key: "cohort_size", label: "users", num: true, format: fmtInt }, ...periods];
    panel.setCsv(`retention-${period}`, columns, [average, ...cohorts]);
    const decorate = (cell, column, row) => {
      if (!column.key.startsWith("p")) return;
      const value = row[column.key];
      if (value === undefined || value === null) return;
      heat(cell, value);
      if (row["i" + column.key.slice(1)]) {
        cell.classList.add("incomplete");
        cell.title = "incomplete period";
      }
    };
    panel.show([table(columns, [average, ...cohorts], { cls: "heat", decorate, full: true }), el("p", { cls: "hint", text: "Hatched cells: the period is not over yet." })]);
  };
}
