// Trends (POST /api/v1/insights/trend): series (event, measure, property), interval, formula,
// compare, filters, breakdown. The address holds the request's fields: start, end, tz, interval,
// series (JSON), filters (JSON), filter_match, breakdown (JSON), limit, formula, compare.

import { postJSON } from "../api.js";
import { el } from "../dom.js";
import { BreakdownEditor, FilterEditor } from "../filters.js";
import { button, checkbox, field, input, rangeFields, rangeFrom, select } from "../form.js";
import { boolParam, intParam, jsonParam } from "../router.js";
import { EVENT_LIST, PROPERTY_LIST } from "../suggest.js";
import { lineResult } from "./lines.js";

export const TITLE = "Trend";
const MEASURES = [["events", "Total events"], ["users", "Unique users"], ["sum", "Sum"], ["avg", "Average"], ["p50", "Median (p50)"], ["p90", "90th percentile"]];
const NEEDS_PROPERTY = new Set(["sum", "avg", "p50", "p90"]);
const INTERVALS = [["day", "Day"], ["week", "Week"], ["month", "Month"], ["range", "Whole range"]];
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

export function fromParams(params, config) {
  const series = jsonParam(params, "series", null);
  return {
    ...rangeFrom(params, config),
    interval: params.get("interval") || "day",
    series: Array.isArray(series) && series.length ? series : [{ event: null, measure: "users" }],
    filters: jsonParam(params, "filters", []),
    filter_match: params.get("filter_match") || "all",
    breakdown: jsonParam(params, "breakdown", null),
    limit: intParam(params, "limit", 10),
    formula: params.get("formula") || "",
    compare: boolParam(params, "compare"),
  };
}

// The request body: the state's fields, those left at their defaults left out.
export function query(state) {
  const body = { start: state.start, end: state.end, tz: state.tz, interval: state.interval, series: state.series };
  if (state.filters.length) {
    body.filters = state.filters;
    body.filter_match = state.filter_match;
  }
  if (state.breakdown) {
    body.breakdown = state.breakdown;
    body.limit = state.limit;
  }
  if (state.formula) body.formula = state.formula;
  if (state.compare) body.compare = true;
  return body;
}

export const toParams = query;

export function describe(state) {
  const names = state.series.map((s) => `${s.event ?? "any event"} (${measureLabel(s).toLowerCase()})`);
  return names.join(", ") + (state.breakdown ? ` by ${state.breakdown.name}` : "");
}

export function run(state) {
  return postJSON("/api/v1/insights/trend", query(state));
}

function seriesRow(list, s, index) {
  const letter = LETTERS[index];
  const at = `series[${index}]`;
  const event = input({ list: EVENT_LIST, value: s.event ?? "", placeholder: "any event", "data-field": `${at}.event` });
  const measure = select(MEASURES, s.measure || "events", { "data-field": `${at}.measure` });
  const property = input({ list: PROPERTY_LIST, value: s.property ?? "", placeholder: "numeric property", "data-field": `${at}.property` });
  const propertyField = field(`Series ${letter}: of the property`, property, { hideLabel: true });
  const sync = () => {
    propertyField.hidden = !NEEDS_PROPERTY.has(measure.value);
  };
  measure.addEventListener("change", sync);
  sync();
  const remove = button("Remove", () => list.remove(index), { cls: "icon", "aria-label": `Remove series ${letter}` });
  remove.hidden = list.rows.length < 2;
  const own = s.filters && s.filters.length ? el("small", { cls: "field-hint", text: `+ ${s.filters.length} filter(s) of its own` }) : null;
  const node = el("li", { cls: "row series-row" }, [
    el("span", { cls: "letter", "aria-hidden": "true", text: letter }),
    field(`Series ${letter}: event`, event, { hideLabel: true, cls: "grow" }),
    field(`Series ${letter}: measure`, measure, { hideLabel: true }),
    propertyField,
    remove,
    own,
  ]);
  return {
    node,
    read: () => {
      const out = { event: event.value.trim() === "" ? null : event.value.trim(), measure: measure.value };
      if (NEEDS_PROPERTY.has(measure.value)) out.property = property.value.trim();
      if (s.filters && s.filters.length) out.filters = s.filters;
      return out;
    },
  };
}

class SeriesList {
  constructor(series) {
    this.series = series.map((s) => ({ ...s }));
    this.list = el("ol", { cls: "rows", "aria-label": "Series" });
    this.addButton = button("+ Series", () => this.add(), { cls: "add" });
    this.node = el("fieldset", { cls: "series" }, [el("legend", { text: "Series" }), this.list, el("div", { cls: "row-actions" }, [this.addButton])]);
    this.draw();
  }

  draw() {
    this.rows = this.series;
    const drawn = this.series.map((s, i) => seriesRow(this, s, i));
    this.drawn = drawn;
    this.list.replaceChildren(...drawn.map((d) => d.node));
    this.addButton.disabled = this.series.length >= 26;
  }

  add() {
    this.series = this.read();
    this.series.push({ event: null, measure: "events" });
    this.draw();
    this.list.lastElementChild.querySelector("input").focus();
  }

  remove(index) {
    this.series = this.read().filter((_, i) => i !== index);
    this.draw();
    this.addButton.focus();
  }

  read() {
    return this.drawn.map((d) => d.read());
  }
}

export function form(state, env) {
  const range = rangeFields(state, env.config);
  const series = new SeriesList(state.series);
  const interval = select(INTERVALS, state.interval, { "data-field": "interval" });
  const formula = input({ value: state.formula, placeholder: "e.g. A / B * 100", "data-field": "formula" });
  const compare = checkbox("Compare with the previous period", state.compare, { "data-field": "compare" });
  const filters = new FilterEditor({ filters: state.filters, match: state.filter_match, cohorts: env.cohorts });
  const breakdown = new BreakdownEditor({ breakdown: state.breakdown, limit: state.limit, cohorts: env.cohorts });
  const node = el("div", { cls: "builder-fields" }, [
    range.node,
    series.node,
    el("fieldset", { cls: "options" }, [
      el("legend", { text: "Options" }),
      field("Interval", interval),
      field("Formula", formula, { hint: "over the series' letters: + - * / ( )" }),
      compare,
    ]),
    filters.node,
    breakdown.node,
  ]);
  return {
    node,
    read: () => ({
      ...range.read(),
      interval: interval.value,
      series: series.read(),
      ...filters.read(),
      ...breakdown.read(),
      formula: formula.value.trim(),
      compare: compare.querySelector("input").checked,
    }),
  };
}

export function measureLabel(s) {
  const found = MEASURES.find((m) => m[0] === s.measure);
  const name = found ? found[1] : s.measure;
  return s.property ? `${name} of ${s.property}` : name;
}

export function render(answer, state, area) {
  const described = Object.fromEntries(answer.series.map((s) => [s.name, `${s.name}: ${s.event ?? "any event"} · ${measureLabel(s)}`]));
  if (answer.formula) described.formula = `Formula: ${answer.formula}`;
  lineResult(answer, area, {
    name: `trend-${answer.start}-${answer.end}`,
    seriesNames: [...answer.series.map((s) => s.name), ...(answer.formula ? ["formula"] : [])],
    describe: (name) => described[name] || name,
    integer: (name) => name !== "formula" && ["events", "users"].includes((answer.series.find((s) => s.name === name) || {}).measure),
  });
}
