// Retention (GET /api/v1/metrics/retention, through the page's metric batch): cohorts by first (or
// every) start event, the share active N periods later. The address holds the metric's own
// parameters: start, end, tz, period, mode, cohort, start_event, return_event, in_cohort.

import { metric } from "../api.js";
import { heat, lineChart } from "../charts.js";
import { daysBetween, el, fmtInt, fmtPct } from "../dom.js";
import { field, input, rangeFields, rangeFrom, select } from "../form.js";
import { periodFor } from "../panels/retention.js";
import { EVENT_LIST } from "../suggest.js";
import { table } from "../table.js";
import { cohortSelect } from "./funnel.js";

export const TITLE = "Retention";

export function fromParams(params, config) {
  const range = rangeFrom(params, config);
  return {
    ...range,
    period: params.get("period") || periodFor(daysBetween(range.start, range.end) + 1),
    mode: params.get("mode") || "on",
    cohort: params.get("cohort") || "first",
    start_event: params.get("start_event") || "",
    return_event: params.get("return_event") || "",
    in_cohort: params.get("in_cohort") || "",
  };
}

export function query(state) {
  const out = { start: state.start, end: state.end, tz: state.tz, period: state.period, mode: state.mode, cohort: state.cohort };
  for (const key of ["start_event", "return_event", "in_cohort"]) if (state[key]) out[key] = state[key];
  return out;
}

export const toParams = query;

export function describe(state) {
  return `Retention by ${state.period}${state.start_event ? ` after ${state.start_event}` : ""}`;
}

export function run(state) {
  const { start, end, tz, ...options } = query(state);
  return metric("retention", { start, end, tz, ...options });
}

export function form(state, env) {
  const range = rangeFields(state, env.config);
  const period = select([["day", "Day"], ["week", "Week"], ["month", "Month"]], state.period, { "data-field": "period" });
  const mode = select([["on", "active in period N"], ["on_or_after", "active in period N or later"]], state.mode, { "data-field": "mode" });
  const cohort = select([["first", "first time they did it"], ["recurring", "every period they did it"]], state.cohort, { "data-field": "cohort" });
  const startEvent = input({ list: EVENT_LIST, value: state.start_event, placeholder: "any event", "data-field": "start_event" });
  const returnEvent = input({ list: EVENT_LIST, value: state.return_event, placeholder: "any event", "data-field": "return_event" });
  const people = cohortSelect(env.cohorts, state.in_cohort);
  const node = el("div", { cls: "builder-fields" }, [
    range.node,
    el("fieldset", { cls: "options" }, [
      el("legend", { text: "Cohorts and returns" }),
      field("Start event", startEvent),
      field("Cohort by", cohort),
      field("Return event", returnEvent),
      field("Period", period),
      field("Counted as retained when", mode),
      field("People", people),
    ]),
  ]);
  return {
    node,
    read: () => ({ ...range.read(), period: period.value, mode: mode.value, cohort: cohort.value, start_event: startEvent.value.trim(), return_event: returnEvent.value.trim(), in_cohort: people.value }),
  };
}

export function render(answer, state, area) {
  const period = state.period;
  const width = Math.max(0, ...answer.rows.map((row) => row.values.length));
  const cohorts = answer.rows.filter((row) => row.cohort_size > 0).map((row) => {
    const out = { cohort: row.date, cohort_size: row.cohort_size };
    for (const cell of row.values) {
      out["p" + cell.period] = cell.rate;
      out["i" + cell.period] = cell.incomplete;
      out["u" + cell.period] = cell.users;
    }
    return out;
  });
  if (!cohorts.length) {
    area.message("empty", "No cohort in this range.");
    return;
  }
  const average = { cohort: "average", cohort_size: null };
  for (const a of answer.average || []) average["p" + a.period] = a.rate;
  const periods = Array.from({ length: width }, (_, i) => ({
    key: "p" + i, label: `${period} ${i}`, head: i === 0 ? `${period[0].toUpperCase()}${period.slice(1)} 0` : String(i), num: true,
    format: (v) => (v === undefined || v === null ? "" : String(Math.round(v * 100))),
  }));
  const columns = [{ key: "cohort", label: "cohort" }, { key: "cohort_size", label: "users", num: true, format: fmtInt }, ...periods];
  const decorate = (cell, column, row) => {
    if (!column.key.startsWith("p")) return;
    const value = row[column.key];
    if (value === undefined || value === null) return;
    heat(cell, value);
    const users = row["u" + column.key.slice(1)];
    cell.title = `${fmtPct(value, 1)}: ${users === undefined ? "average of the complete cohorts" : `${fmtInt(users)} of ${fmtInt(row.cohort_size)}`}`;
    if (row["i" + column.key.slice(1)]) {
      cell.classList.add("incomplete");
      cell.title += " (the period is not over yet)";
    }
  };
  const curve = (answer.average || []).map((a) => (a.rate === null || a.rate === undefined ? null : Math.round(a.rate * 1000) / 10));
  const chart = lineChart((answer.average || []).map((a) => `${period} ${a.period}`), [{ name: "average retention (%)", values: curve }], Math.max(320, area.body.clientWidth || 760), false);
  area.csv(`retention-${period}-${answer.start}-${answer.end}`, columns, [average, ...cohorts]);
  area.show([
    chart,
    table(columns, [average, ...cohorts], { cls: "heat", decorate, full: true }),
    el("p", { cls: "hint", text: `Cohorts by ${state.cohort === "first" ? "first" : "every"} ${period} with ${state.start_event || "any event"}; % of the cohort ${state.mode === "on" ? "active in" : "active in or after"} ${period} N (${state.return_event || "any event"}). Hatched cells: the period is not over yet.` }),
  ], `${answer.start} – ${answer.end}: ${cohorts.length} cohort(s) by ${period}.`);
}
