// The alerts (GET /api/v1/alerts): each one's name, its saved insight, its condition, its state
// (ok, firing, error; none before its first check) and the last value, refreshed every 30 s.

import { getJSON } from "./api.js";
import { el, fmtExact, fmtTime } from "./dom.js";
import { table } from "./table.js";

const REFRESH_MS = 30000;

function condition(c) {
  if (!c) return "—";
  if (c.type === "above") return `above ${fmtExact(c.value)}`;
  if (c.type === "below") return `below ${fmtExact(c.value)}`;
  if (c.type === "change") return `changes ${c.direction && c.direction !== "any" ? c.direction + " " : ""}by ${fmtExact(c.value)} % ${c.period ? "over a " + c.period : ""}`.trim();
  return JSON.stringify(c);
}

function badge(state) {
  return el("span", { cls: `state ${state || "none"}`, text: state || "not checked yet" });
}

// A section listing the alerts (only those on `insights`, a Set of ids, when given).
export function alertsSection(ctx, insights = null) {
  const status = el("p", { cls: "status", role: "status" });
  const body = el("div");
  const node = el("section", { cls: "result alerts", "aria-labelledby": "alerts-title", "data-state": "loading" }, [el("h3", { id: "alerts-title", text: "Alerts" }), status, body]);
  const tz = ctx.config.timezone;
  let timer = null;
  async function load() {
    try {
      const answer = await getJSON("/api/v1/alerts");
      if (ctx.signal.aborted) return;
      const rows = answer.alerts.filter((a) => !insights || insights.has(a.insight));
      const columns = [
        { key: "name", label: "name" },
        { key: "insight_name", label: "insight", head: "Insight", format: (v, row) => v || row.insight },
        { key: "condition", label: "condition", format: condition },
        { key: "state", label: "state", format: badge },
        { key: "last_value", label: "last_value", head: "Last value", num: true, format: fmtExact },
        { key: "last_checked_at", label: "last_checked_at", head: "Checked", format: (v) => (v ? fmtTime(v, tz) : "—") },
      ];
      body.replaceChildren(rows.length ? table(columns, rows, { cls: "alerts" }) : el("p", { cls: "message empty", text: insights ? "No alert watches these insights." : "No alert yet (headwater alerts create, or POST /api/v1/alerts)." }));
      const firing = rows.filter((a) => a.state === "firing").length;
      status.textContent = `${rows.length} alert(s)${firing ? `, ${firing} firing` : ""}.`;
      node.dataset.state = "ready";
    } catch (err) {
      if (ctx.signal.aborted) return;
      body.replaceChildren(el("p", { cls: "message error", text: `The alerts could not be loaded: ${err.message}` }));
      node.dataset.state = "error";
    }
    timer = setTimeout(load, REFRESH_MS);
  }
  ctx.signal.addEventListener("abort", () => clearTimeout(timer));
  return { node, load };
}
