// The alerts (GET /api/v1/alerts): each one's name, its saved insight, its condition, its state
// (ok, firing, error; none before its first check) and the last value, refreshed every 30 s. Anyone
// who may read sees them and their history; a credential that may change alerts (the `audiences`
// permission, GET /api/v1/me) also gets "New alert" and each alert's Check now, Edit and Delete
// (alert_form.js); the evaluation and the history are drawn under the table (alert_detail.js).

import { getJSON, sendJSON } from "./api.js";
import { alertDialog, confirmDelete, trendInsights } from "./alert_form.js";
import { badge, checkPanel, delivery, historyPanel } from "./alert_detail.js";
import { el, fmtExact, fmtTime } from "./dom.js";
import { button } from "./form.js";
import { human, table } from "./table.js";

const REFRESH_MS = 30000;

function condition(c) {
  if (!c) return "—";
  const over = c.period ? ` over a ${c.period}` : "";
  if (c.type === "above") return `above ${fmtExact(c.value)}${over}`;
  if (c.type === "below") return `below ${fmtExact(c.value)}${over}`;
  if (c.type === "change") return `changes ${c.direction && c.direction !== "any" ? c.direction + " " : ""}by ${fmtExact(c.value)} %${over}`;
  return JSON.stringify(c);
}

// Whether this page's credential may change alerts: asked once a page load.
let mayChange = null;
export function canChangeAlerts() {
  if (!mayChange) mayChange = getJSON("/api/v1/me").then((me) => (me.permissions || []).includes("audiences"), () => false);
  return mayChange;
}

// A section listing the alerts (only those on `insights`, a Set of ids, when given).
export function alertsSection(ctx, insights = null) {
  const status = el("p", { cls: "status", role: "status" });
  const said = el("p", { cls: "alert-live", role: "status", "aria-live": "polite" }); // what an action did
  const body = el("div");
  const details = el("div", { cls: "alert-details" });
  const create = button("New alert", () => openForm(null, create), { cls: "new-alert", hidden: true, "aria-haspopup": "dialog" });
  const heading = el("h3", { id: "alerts-title" }, [el("span", { text: "Alerts" }), create]);
  const node = el("section", { cls: "result alerts", "aria-labelledby": "alerts-title", "data-state": "loading" }, [heading, status, said, body, details]);
  const tz = ctx.config.timezone;
  let timer = null;
  let writer = false;
  let shown = [];

  const byId = (id) => shown.find((a) => a.id === id);
  const say = (text, kind = "") => {
    said.textContent = text;
    said.className = `alert-live ${kind}`.trim();
  };
  function detail(which, panel) {
    details.querySelector(`.alert-detail.${which}`)?.remove();
    details.prepend(panel);
  }

  async function openForm(alert, opener) {
    let offered;
    try {
      offered = await trendInsights(insights);
    } catch (err) {
      say(`The saved insights could not be loaded: ${err.message}`, "error");
      return;
    }
    if (!alert && !offered.length) {
      say(insights ? "No saved trend insight on this dashboard: an alert watches a trend (Insights, Trends, Save…)." : "No saved trend insight yet: build one under Insights, Trends, and press Save…", "error");
      return;
    }
    alertDialog({
      alert, insights: offered, opener, done: async (saved, created) => {
        say(created ? `Created the alert “${saved.name}”: it is checked within a minute, or press Check now.` : `Saved the alert “${saved.name}”.`);
        await load();
      },
    });
  }

  const busy = new Set(); // the alerts being checked (a second press waits for the first)
  async function check(alert, opener) {
    if (busy.has(alert.id)) return;
    busy.add(alert.id);
    say(`Checking “${alert.name}”…`);
    try {
      const found = await sendJSON("POST", `/api/v1/alerts/${encodeURIComponent(alert.id)}/check`);
      if (ctx.signal.aborted) return;
      detail("check", checkPanel(alert, found, tz, opener, () => say("")));
      say(`“${alert.name}” checked: ${found.state}${found.value !== undefined && found.state !== "error" ? `, value ${fmtExact(found.value)}` : ""}. ${delivery(found)}`);
      await load();
    } catch (err) {
      say(`Could not check “${alert.name}”: ${err.message}`, "error");
    } finally {
      busy.delete(alert.id);
    }
  }

  async function history(alert, opener) {
    try {
      const answer = await getJSON(`/api/v1/alerts/${encodeURIComponent(alert.id)}/events`);
      if (ctx.signal.aborted) return;
      const panel = historyPanel(alert, answer.events, tz, opener, () => say(""));
      detail("history", panel);
      say(`History of “${alert.name}”: ${answer.events.length} event(s).`);
      panel.querySelector("h4").focus();
    } catch (err) {
      say(`The history of “${alert.name}” could not be loaded: ${err.message}`, "error");
    }
  }

  function remove(alert, opener) {
    confirmDelete(alert, opener, async () => {
      for (const panel of details.querySelectorAll(`[data-alert="${CSS.escape(alert.id)}"]`)) panel.remove();
      say(`Deleted the alert “${alert.name}”.`);
      await load();
      create.focus();
    });
  }

  // Each row's buttons; data-action and data-alert let a redraw give the focus back.
  function actions(id, row) {
    const act = (action, text, label, fn) => button(text, (event) => fn(byId(id) || row, event.currentTarget), { cls: `icon ${action}`, "data-action": action, "data-alert": id, "aria-label": `${label} “${row.name}”` });
    const buttons = [act("history", "History", "History of", history)];
    if (writer) {
      buttons.unshift(act("check", "Check now", "Check now", check));
      buttons.push(act("edit", "Edit", "Edit", (a, b) => openForm(a, b)), act("delete", "Delete", "Delete", remove));
    }
    return el("span", { cls: "row-actions" }, buttons);
  }

  function draw(rows) {
    const active = document.activeElement;
    const focus = body.contains(active) && active.dataset.action ? [active.dataset.action, active.dataset.alert] : null;
    const columns = [
      { key: "name", label: "name" },
      { key: "insight_name", label: "insight", head: "Insight", format: (v, row) => v || row.insight },
      { key: "condition", label: "condition", format: condition },
      { key: "state", label: "state", format: badge },
      { key: "last_value", label: "last_value", head: "Last value", num: true, format: fmtExact },
      { key: "last_checked_at", label: "last_checked_at", head: "Checked", format: (v) => (v ? fmtTime(v, tz) : "—") },
      { key: "id", label: "actions", head: "Actions", format: actions },
    ];
    const empty = insights ? "No alert watches these insights." : writer ? "No alert yet: press New alert to watch a saved trend." : "No alert yet.";
    const decorate = (cell, c) => (cell.dataset.label = c.head ?? human(c.label)); // a narrow screen's labels
    body.replaceChildren(rows.length ? table(columns, rows, { cls: "alerts", decorate }) : el("p", { cls: "message empty", text: empty }));
    for (const tr of body.querySelectorAll("tbody tr")) tr.dataset.alert = tr.querySelector("[data-alert]")?.dataset.alert || "";
    if (focus) body.querySelector(`[data-action="${focus[0]}"][data-alert="${CSS.escape(focus[1])}"]`)?.focus();
  }

  async function load() {
    clearTimeout(timer);
    try {
      const [answer, may] = await Promise.all([getJSON("/api/v1/alerts"), canChangeAlerts()]);
      if (ctx.signal.aborted) return;
      writer = may;
      create.hidden = !writer;
      node.dataset.writer = String(writer);
      shown = answer.alerts.filter((a) => !insights || insights.has(a.insight));
      draw(shown);
      const firing = shown.filter((a) => a.state === "firing").length;
      status.textContent = `${shown.length} alert(s)${firing ? `, ${firing} firing` : ""}.`;
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
