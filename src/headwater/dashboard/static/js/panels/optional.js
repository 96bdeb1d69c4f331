// Audiences (and any panel over an API a server may not have yet): a clear "not available yet"
// state without the API, else a table of what it lists.

import { getJSON } from "../api.js";
import { fmtTime, isTimestamp } from "../dom.js";
import { table } from "../table.js";

const PATHS = { audiences: "/api/v1/audiences" };
const WHAT = { audiences: "Audiences and their sizes are" };
const FIRST = ["id", "name", "live_size", "size", "segtax", "updated_at"];

export async function load(name, config) {
  if (!config.apis[name]) {
    return (panel) => panel.unavailable(`${WHAT[name]} not available yet: this server has no ${PATHS[name]} API.`);
  }
  const body = await getJSON(PATHS[name]);
  const items = Array.isArray(body) ? body : body[name] || [];
  return (panel) => {
    if (!items.length) return panel.empty(`No ${name} defined yet.`);
    const scalar = (k) => items.some((it) => it[k] !== undefined && (it[k] === null || typeof it[k] !== "object"));
    const keys = [...new Set([...FIRST.filter((k) => items.some((it) => k in it)), ...Object.keys(items[0])])].filter(scalar);
    const columns = keys.map((k) => ({
      key: k, label: k, num: items.some((it) => typeof it[k] === "number"),
      format: items.some((it) => isTimestamp(it[k])) ? (v) => fmtTime(v, config.timezone) : undefined,
    }));
    panel.setCsv(name, columns, items);
    panel.show(table(columns, items));
  };
}
