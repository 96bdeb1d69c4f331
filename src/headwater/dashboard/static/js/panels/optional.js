// Panels over APIs that a server may not have yet (experiments, audiences): a clear
// "not available yet" state, else a table of what the API lists.

import { getJSON } from "../api.js";
import { table } from "../table.js";

const PATHS = { experiments: "/api/v1/experiments", audiences: "/api/v1/audiences" };
const WHAT = { experiments: "Experiment results", audiences: "Audiences and their sizes" };

function listOf(body, name) {
  if (Array.isArray(body)) return body;
  return body[name] || body.rows || [];
}

export async function load(name, config) {
  if (!config.apis[name]) {
    return (panel) => panel.unavailable(`${WHAT[name]} are not available yet: this server has no ${PATHS[name]} API.`);
  }
  let items;
  try {
    items = listOf(await getJSON(PATHS[name]), name);
  } catch (err) {
    return (panel) => panel.error(err);
  }
  return (panel) => {
    if (!items.length) return panel.empty(`No ${name} defined yet.`);
    const keys = Object.keys(items[0]).filter((k) => items.some((it) => it[k] === null || typeof it[k] !== "object"));
    const columns = keys.map((k) => ({ key: k, label: k, num: typeof items[0][k] === "number" }));
    panel.setCsv(name, columns, items);
    panel.show(table(columns, items));
  };
}
