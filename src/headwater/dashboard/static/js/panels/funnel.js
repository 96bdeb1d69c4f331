// A funnel builder: ordered steps (event names), each within a window from the first step.

import { hbars } from "../charts.js";
import { fmtInt, fmtPct } from "../dom.js";
import { table } from "../table.js";

const KEY = "headwater.funnel";

export async function load(q, r) {
  const steps = document.getElementById("funnel-steps");
  const windowDays = document.getElementById("funnel-window");
  if (!load.restored) {
    load.restored = true;
    const saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
    // the server's default (headwater/dashboard/defaults.py), in the page's data attributes
    const defaults = document.body.dataset;
    steps.value = saved ? saved.steps : defaults.funnelSteps.split(",").join(", ");
    windowDays.value = saved ? saved.window : defaults.funnelWindow;
  }
  const names = steps.value.split(",").map((s) => s.trim()).filter(Boolean);
  window.localStorage.setItem(KEY, JSON.stringify({ steps: steps.value, window: windowDays.value }));
  const body = await q.metric("funnel", { start: r.start, end: r.end, steps: names.join(","), window_days: windowDays.value });
  return (panel) => {
    if (!body.rows.length || !body.rows[0].users) return panel.empty(`Nobody did “${names[0]}” in this range.`);
    const columns = [
      { key: "step", label: "step", num: true },
      { key: "event", label: "event" },
      { key: "users", label: "users", num: true, format: fmtInt },
      { key: "conversion", label: "conversion", num: true, format: (v) => fmtPct(v) },
      { key: "from_previous", label: "from_previous", head: "From previous step", num: true, format: (v) => fmtPct(v) },
    ];
    panel.setCsv("funnel", columns, body.rows);
    panel.show([
      hbars(body.rows.map((row) => ({ label: `${row.step}. ${row.event}`, value: row.users, share: row.conversion, text: `${fmtInt(row.users)} · ${fmtPct(row.conversion)}` }))),
      table(columns, body.rows),
    ]);
  };
}
