// Web analytics (POST /api/v1/insights/web): visitors, visits, pageviews, bounce rate and visit
// duration, top pages, entry and exit pages, sources, UTM, devices, browsers, OS, countries and
// regions. The address holds the request's fields: start, end, tz, filters (JSON), filter_match,
// limit, compare.

import { postJSON } from "../api.js";
import { download, table, toCsv } from "../table.js";
import { el, fmtDuration, fmtExact, fmtInt, fmtPct } from "../dom.js";
import { FilterEditor } from "../filters.js";
import { button, checkbox, field, input, rangeFields, rangeFrom } from "../form.js";
import { boolParam, intParam, jsonParam } from "../router.js";
import { shownValue } from "./lines.js";

export const TITLE = "Web analytics";

const SUMMARY = [
  ["visitors", "Visitors", fmtInt],
  ["visits", "Visits", fmtInt],
  ["pageviews", "Pageviews", fmtInt],
  ["views_per_visit", "Views per visit", (v) => fmtExact(Math.round(v * 100) / 100)],
  ["bounce_rate", "Bounce rate", (v) => fmtPct(v)],
  ["visit_duration", "Visit duration", fmtDuration],
];
const LISTS = [
  ["pages", "Top pages", "Page"], ["entry_pages", "Entry pages", "Page"], ["exit_pages", "Exit pages", "Page"],
  ["sources", "Sources", "Source"], ["utm_sources", "UTM sources", "UTM source"], ["utm_mediums", "UTM mediums", "UTM medium"],
  ["utm_campaigns", "UTM campaigns", "UTM campaign"], ["devices", "Devices", "Device"], ["browsers", "Browsers", "Browser"],
  ["os", "Operating systems", "OS"], ["countries", "Countries", "Country"], ["regions", "Regions", "Region"],
];

export function fromParams(params, config) {
  return {
    ...rangeFrom(params, config),
    filters: jsonParam(params, "filters", []),
    filter_match: params.get("filter_match") || "all",
    limit: intParam(params, "limit", 10),
    compare: boolParam(params, "compare"),
  };
}

export function query(state) {
  const body = { start: state.start, end: state.end, tz: state.tz, limit: state.limit };
  if (state.filters.length) {
    body.filters = state.filters;
    body.filter_match = state.filter_match;
  }
  if (state.compare) body.compare = true;
  return body;
}

export const toParams = query;

export function describe(state) {
  return state.filters.length ? `Web analytics (${state.filters.length} filter(s))` : "Web analytics";
}

export function run(state) {
  return postJSON("/api/v1/insights/web", query(state));
}

// The summary alone first (quick over a large lake: docs/insights.md, "Web analytics"), then run()
export function preview(state) {
  return postJSON("/api/v1/insights/web", { ...query(state), lists: [] });
}

export function form(state, env) {
  const range = rangeFields(state, env.config);
  const limit = input({ type: "number", min: 1, max: 100, value: state.limit, "data-field": "limit", cls: "narrow" });
  const compare = checkbox("Compare with the previous period", state.compare, { "data-field": "compare" });
  const filters = new FilterEditor({ filters: state.filters, match: state.filter_match, cohorts: env.cohorts });
  const node = el("div", { cls: "builder-fields" }, [
    range.node,
    el("fieldset", { cls: "options" }, [el("legend", { text: "Options" }), field("Values per list", limit), compare]),
    filters.node,
  ]);
  return {
    node,
    read: () => ({ ...range.read(), limit: Number(limit.value) || 10, compare: compare.querySelector("input").checked, ...filters.read() }),
  };
}

function change(now, before) {
  if (before === null || before === undefined) return el("span", { cls: "change flat", text: "no earlier data" });
  if (before === 0) return el("span", { cls: `change ${now ? "up" : "flat"}`, text: now ? "none in the previous period" : "the same as before" });
  const ratio = (now - before) / before;
  const cls = ratio > 0.0005 ? "up" : ratio < -0.0005 ? "down" : "flat";
  return el("span", { cls: `change ${cls}`, text: `${ratio > 0 ? "+" : ""}${(ratio * 100).toFixed(1)} % vs previous` });
}

function listCard(key, title, head, rows, answer) {
  const max = Math.max(1, ...rows.map((r) => r.visitors));
  const visits = key !== "pages";
  const columns = [
    { key: "value", label: "value", head, format: (v, row) => {
      const fill = el("span", { cls: "fill" });
      fill.style.width = `${((100 * row.visitors) / max).toFixed(1)}%`;
      return el("span", { cls: "barcell" }, [fill, el("span", { cls: "barlabel", text: shownValue(v), title: String(v) })]);
    } },
    { key: "visitors", label: "visitors", num: true, format: fmtInt },
    ...(visits ? [{ key: "visits", label: "visits", num: true, format: fmtInt }] : []),
    { key: "pageviews", label: "pageviews", head: "Views", num: true, format: fmtInt },
    ...(visits ? [
      { key: "bounce_rate", label: "bounce_rate", head: "Bounce", num: true, format: (v) => fmtPct(v, 0) },
      { key: "visit_duration", label: "visit_duration", head: "Duration", num: true, format: fmtDuration },
    ] : []),
  ];
  const csv = button("CSV", () => download(`headwater-web-${key}-${answer.start}-${answer.end}.csv`, toCsv(columns, rows)), { cls: "csv", "aria-label": `Download ${title} as CSV` });
  return el("section", { cls: "card", "data-list": key, "aria-label": title }, [
    el("h4", {}, [el("span", { text: title }), rows.length ? csv : null]),
    rows.length ? table(columns, rows, { cls: "web-list" }) : el("p", { cls: "message empty", text: "Nothing in this range." }),
  ]);
}

export function render(answer, state, area) {
  const s = answer.summary;
  const tiles = el("div", { cls: "tiles" }, SUMMARY.map(([key, label, format]) => el("div", { cls: "tile", "data-metric": key, "data-value": s[key] }, [
    el("span", { cls: "tile-label", text: label }),
    el("span", { cls: "tile-value", text: format(s[key]) }),
    answer.previous ? change(s[key], answer.previous[key]) : null,
  ])));
  const parts = [tiles];
  if (answer.previous) parts.push(el("p", { cls: "hint", text: `Compared with ${answer.previous.start} – ${answer.previous.end}: ${fmtInt(answer.previous.visitors)} visitors, ${fmtInt(answer.previous.visits)} visits.` }));
  const counting = answer.lists && !answer.lists.length; // the preview: the lists are being counted
  if (!s.visits) parts.push(el("p", { cls: "message empty", text: "No pageview in this range." }));
  else if (counting) parts.push(el("p", { cls: "message counting", "data-counting": "lists", text: "Counting the top pages, sources, devices and countries…" }));
  else parts.push(el("div", { cls: "cards" }, LISTS.map(([key, title, head]) => listCard(key, title, head, answer[key] || [], answer))));
  // the CSV of the page: its summary (the lists have their own)
  const summaryRows = [{ period: "current", start: answer.start, end: answer.end, ...s }];
  if (answer.previous) summaryRows.push({ period: "previous", ...answer.previous });
  area.csv(`web-${answer.start}-${answer.end}`, [{ key: "period", label: "period" }, { key: "start", label: "start" }, { key: "end", label: "end" }, ...SUMMARY.map(([key]) => ({ key, label: key }))], summaryRows);
  area.show(parts, `${answer.start} – ${answer.end}: ${fmtInt(s.visitors)} visitors, ${fmtInt(s.visits)} visits.`);
}
