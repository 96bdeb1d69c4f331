// Suggestions from the data, asked once per page load: event names (the features metric over the
// default 30 days, which the server keeps computed, and the latest events), the property and trait
// names of the latest events, and the saved cohorts. Each list fills a <datalist> the inputs name.

import { getJSON, metric } from "./api.js";
import { addDays, todayIn } from "./dom.js";
import { datalist } from "./form.js";

export const EVENT_LIST = "suggest-events";
export const PROPERTY_LIST = "suggest-properties";
export const TRAIT_LIST = "suggest-traits";
export const PATH_LIST = "suggest-paths";

// The derived dimensions of docs/insights.md (computed from what the lake stores of each event).
export const DERIVED = [
  "browser", "os", "device_type", "utm_source", "utm_medium", "utm_campaign", "referrer_domain",
  "path", "library", "app_version", "tool_id", "country", "region",
];

let loading = null;
let cohorts = null;

function keysOf(events, pick) {
  const out = new Set();
  for (const event of events) {
    const value = pick(event);
    if (value && typeof value === "object" && !Array.isArray(value)) for (const key of Object.keys(value)) out.add(key);
  }
  return out;
}

async function fromData(config) {
  const end = todayIn(config.timezone);
  const [features, latest] = await Promise.all([
    metric("features", { start: addDays(end, -29), end, tz: config.timezone }).catch(() => ({ rows: [] })),
    getJSON("/api/v1/events/latest", { limit: 200 }).catch(() => ({ events: [] })),
  ]);
  const counts = new Map();
  for (const row of features.rows || []) counts.set(row.event, (counts.get(row.event) || 0) + row.events);
  for (const event of latest.events || []) {
    const name = event.event || event.type;
    if (name && !counts.has(name)) counts.set(name, 0);
  }
  const events = [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(b[0])).map(([name]) => name);
  const properties = keysOf(latest.events || [], (e) => e.properties);
  const traits = new Set([...keysOf(latest.events || [], (e) => e.traits), ...keysOf(latest.events || [], (e) => e.context && e.context.traits)]);
  const paths = new Set((latest.events || []).filter((e) => e.type === "page").map((e) => (e.context && e.context.page && e.context.page.path) || (e.properties && e.properties.path)).filter(Boolean));
  datalist(EVENT_LIST, events);
  datalist(PROPERTY_LIST, [...properties].sort());
  datalist(TRAIT_LIST, [...traits].sort());
  datalist(PATH_LIST, [...paths].sort());
  return { events, properties: [...properties].sort(), traits: [...traits].sort() };
}

// {events, properties, traits}; never fails (no suggestions is no error).
export function suggestions(config) {
  if (!loading) loading = fromData(config).catch(() => ({ events: [], properties: [], traits: [] }));
  return loading;
}

// The saved cohorts [{id, name}] (GET /api/v1/cohorts), or [] when the server has none.
export async function cohortList() {
  if (!cohorts) {
    cohorts = getJSON("/api/v1/cohorts").then((body) => body.cohorts || [], () => []);
  }
  return cohorts;
}
