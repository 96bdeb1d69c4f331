// Live: active users now and today's events by tool. From the live API when the server has it,
// else from the realtime store (today's daily_stats and the open sessions).

import { getJSON } from "../api.js";
import { el, fmtInt } from "../dom.js";
import { table } from "../table.js";

async function fromLive() {
  const [m5, h1, d1, today] = await Promise.all([
    getJSON("/api/v1/live/active-users", { window: "5m" }),
    getJSON("/api/v1/live/active-users", { window: "1h" }),
    getJSON("/api/v1/live/active-users", { window: "24h" }),
    getJSON("/api/v1/live/today"),
  ]);
  return {
    source: "live store",
    date: today.date,
    tiles: [
      ["active_5m", "Active now (5 min)", m5.active_users],
      ["active_1h", "Last hour", h1.active_users],
      ["active_24h", "Last 24 h", d1.active_users],
      ["open_sessions", "Open sessions", today.open_sessions],
      ["events_today", "Events today", today.events],
    ],
    tools: today.tools.map((t) => ({ tool_id: t.tool_id, events: t.events, unique_users: t.unique_users })),
  };
}

async function fromRealtime() {
  const [daily, open] = await Promise.all([
    getJSON("/api/v1/realtime/daily"),
    getJSON("/api/v1/realtime/sessions", { active: "true", limit: "1" }),
  ]);
  const byTool = new Map();
  for (const row of daily.rows) byTool.set(row.tool_id, (byTool.get(row.tool_id) || 0) + row.count);
  return {
    source: "realtime store",
    date: daily.date,
    tiles: [
      ["open_sessions", "Open sessions", open.count],
      ["unique_users", "Users today", daily.unique_users],
      ["events_today", "Events today", daily.events],
    ],
    tools: [...byTool].map(([tool_id, events]) => ({ tool_id, events, unique_users: null })).sort((a, b) => b.events - a.events),
  };
}

export async function load(config) {
  let data;
  if (config.apis.live) {
    try {
      data = await fromLive();
    } catch (err) {
      if (err.status !== 503) throw err;
      data = await fromRealtime(); // the live store is down or slow: the realtime store still answers
      data.source = "realtime store (live store unavailable)";
    }
  } else {
    data = await fromRealtime();
  }
  data.tools.sort((a, b) => b.events - a.events);
  return (panel) => {
    panel.note(`${data.date} (${config.timezone}), from the ${data.source}; refreshes every few seconds`);
    const columns = [
      { key: "tool_id", label: "tool_id", format: (v) => v || "(no tool_id)" },
      { key: "events", label: "events", num: true, format: fmtInt },
    ];
    if (data.tools.some((t) => t.unique_users !== null)) columns.push({ key: "unique_users", label: "unique_users", head: "Users", num: true, format: fmtInt });
    panel.setCsv("live-today", columns, data.tools);
    const tiles = el("div", { cls: "tiles small" }, data.tiles.map(([key, label, value]) =>
      el("div", { cls: "tile", "data-metric": key, "data-value": value ?? "" }, [
        el("span", { cls: "tile-label", text: label }),
        el("span", { cls: "tile-value", text: fmtInt(value) }),
      ])));
    panel.show([tiles, data.tools.length ? table(columns, data.tools) : el("p", { cls: "message empty", text: "No events yet today." })]);
  };
}
