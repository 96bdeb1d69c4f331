// A trend's answer (rows of date, series, breakdown value, period, value) as lines: a chart of the
// current period (the previous one dashed), and a table with a row per bucket and a column per
// line, each cell carrying what it shows (data-series, data-breakdown, data-period, data-date,
// data-value: exactly the API's value). The CSV holds the table's rows and columns.

import { hbars, lineChart } from "../charts.js";
import { el, fmtExact, fmtInt } from "../dom.js";
import { table } from "../table.js";

const MAX_LINES = 10; // drawn in the chart; the table has every line

export function shownValue(value) {
  if (value === "$none") return "(not set)";
  if (value === "$other") return "(other values)";
  if (value === true) return "members";
  if (value === false) return "not members";
  return String(value);
}

function notes(answer) {
  const out = [];
  if (answer.missing_days && answer.missing_days.length) {
    const days = answer.missing_days.map((d) => (typeof d === "string" ? d : d.date)).filter(Boolean);
    out.push(`${answer.missing_days.length} day(s) without any data received${days.length ? ": " + days.slice(0, 5).join(", ") + (days.length > 5 ? ", …" : "") : ""}.`);
  }
  if (answer.skipped_values) out.push(`${fmtInt(answer.skipped_values)} property value(s) were not numbers and were left out.`);
  for (const [id, c] of Object.entries(answer.cohorts || {})) out.push(`Cohort ${id}: ${fmtInt(c.members)} members, computed ${c.computed_at}.`);
  return out.map((text) => el("p", { cls: "hint", text }));
}

export function lineResult(answer, area, { name, seriesNames, describe, integer }) {
  const breakdowns = answer.breakdown ? answer.breakdown_values : [null];
  const periods = answer.compare ? ["current", "previous"] : [null];
  if (!answer.rows.length) {
    area.message("empty", answer.breakdown ? "Nothing matched: no event of these series in this range." : "No data in this range.");
    return;
  }
  const cohort = answer.breakdown && answer.breakdown.type === "cohort" ? answer.breakdown.name : null;
  const valueLabel = (value) => (cohort ? (String(value) === "true" ? `in ${cohort}` : `not in ${cohort}`) : shownValue(value));
  const lines = [];
  for (const series of seriesNames) {
    for (const value of breakdowns) {
      const label = [seriesNames.length > 1 || !answer.breakdown ? describe(series) : null, value === null ? null : valueLabel(value)].filter(Boolean).join(" · ");
      lines.push({ key: "l" + lines.length, series, breakdown: value, label, integer: integer(series) });
    }
  }
  const cell = new Map();
  const dates = { current: [], previous: [] };
  for (const row of answer.rows) {
    const period = row.period || "current";
    if (!dates[period].includes(row.date)) dates[period].push(row.date);
    cell.set(JSON.stringify([period, row.series, row.breakdown ?? null, row.date]), row.value);
  }
  const valueOf = (line, period, date) => cell.get(JSON.stringify([period, line.series, line.breakdown, date]));

  // the chart: up to MAX_LINES lines of the current period, each with its previous period dashed
  const drawn = lines.slice(0, MAX_LINES);
  const allInteger = drawn.every((l) => l.integer);
  let chart;
  if (answer.interval === "range") {
    const values = drawn.map((l) => valueOf(l, "current", dates.current[0]) ?? 0);
    const max = Math.max(0, ...values.map(Math.abs));
    chart = hbars(drawn.map((l, i) => ({ label: l.label, value: values[i], share: max ? Math.max(0, values[i]) / max : 0, text: (l.integer ? fmtInt : fmtExact)(values[i]) })));
  } else {
    const series = [];
    drawn.forEach((l, k) => {
      series.push({ name: l.label, color: k, values: dates.current.map((d) => valueOf(l, "current", d) ?? null) });
      if (answer.compare) series.push({ name: `${l.label} (previous period)`, color: k, dashed: true, values: dates.previous.map((d) => valueOf(l, "previous", d) ?? null), labels: dates.previous });
    });
    chart = lineChart(dates.current, series, Math.max(320, area.body.clientWidth || 760), allInteger);
  }
  const rows = [];
  for (const period of periods) {
    for (const date of dates[period || "current"]) {
      const row = { period, date };
      for (const l of lines) row[l.key] = valueOf(l, period || "current", date) ?? null;
      rows.push(row);
    }
  }
  const columns = [
    ...(answer.compare ? [{ key: "period", label: "period" }] : []),
    { key: "date", label: "date", head: answer.interval === "day" ? "Date" : answer.interval === "range" ? "Range from" : `${answer.interval[0].toUpperCase()}${answer.interval.slice(1)} of` },
    ...lines.map((l) => ({ key: l.key, label: l.label, head: l.label, num: true, line: l, format: (v) => (l.integer ? fmtInt : fmtExact)(v) })),
  ];
  const decorate = (td, column, row) => {
    if (!column.line) return;
    td.dataset.series = column.line.series;
    if (column.line.breakdown !== null) td.dataset.breakdown = String(column.line.breakdown);
    td.dataset.period = row.period || "current";
    td.dataset.date = row.date;
    td.dataset.value = row[column.key] === null ? "null" : String(row[column.key]);
  };
  area.csv(name, columns, rows);
  const parts = [chart];
  if (lines.length > drawn.length) parts.push(el("p", { cls: "hint", text: `The chart draws the first ${drawn.length} of ${lines.length} lines; the table has every one.` }));
  parts.push(table(columns, rows, { decorate, cls: "trend" }), ...notes(answer));
  const what = `${lines.length} line(s), ${dates.current.length} ${answer.interval === "range" ? "bucket" : answer.interval + "(s)"}`;
  area.show(parts, `${answer.start} – ${answer.end} (${answer.tz}): ${what}.`);
}
