// Live events: "#/live[?event=&user=&type=&source=&limit=]": the latest events received
// (GET /api/v1/events/latest, newest first), asked again every few seconds while the page is shown
// and not paused. New lines are marked; a status line (announced politely) says what changed.

import { getJSON } from "../api.js";
import { el, fmtInt } from "../dom.js";
import { FormErrors, button, field, input, select } from "../form.js";
import { hashFor, intParam } from "../router.js";
import { EVENT_LIST, suggestions } from "../suggest.js";
import { download, table, toCsv } from "../table.js";
import { personLink } from "./people.js";
import { compactJson } from "./person.js";

const REFRESH_MS = 3000;
const TYPES = [["", "any type"], "track", "page", "screen", "identify", "group", "alias"];

function clock(value, tz) {
  if (!value) return "—";
  const format = new Intl.DateTimeFormat("sv-SE", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return el("time", { datetime: value, title: value, text: format.format(new Date(value)) });
}

export async function show(view, route, ctx) {
  const tz = ctx.config.timezone;
  suggestions(ctx.config);
  const p = route.params;
  const event = input({ list: EVENT_LIST, value: p.get("event") || "", placeholder: "any event", "data-field": "event" });
  const user = input({ value: p.get("user") || "", placeholder: "userId or anonymousId", "data-field": "user" });
  const type = select(TYPES, p.get("type") || "", { "data-field": "type" });
  const source = input({ value: p.get("source") || "", placeholder: "any source", "data-field": "source" });
  const limit = select(["20", "50", "100", "200"], String(intParam(p, "limit", 50)), { "data-field": "limit" });
  const pause = button("Pause", () => toggle(), { cls: "pause", "aria-pressed": "false" });
  const form = el("form", { cls: "search live-filters", "aria-label": "Filter the live events" }, [
    field("Event", event, { cls: "inline" }), field("User", user, { cls: "inline" }), field("Type", type, { cls: "inline" }),
    field("Source", source, { cls: "inline" }), field("Show", limit, { cls: "inline" }), el("button", { type: "submit" }, "Apply"), pause,
  ]);
  const errors = new FormErrors(form);
  form.append(errors.box);
  const status = el("p", { cls: "status", role: "status", "aria-live": "polite" });
  const list = el("div", { cls: "live-list" });
  const csv = button("CSV", () => download("headwater-live-events.csv", toCsv(csvColumns, rows)), { cls: "csv", hidden: true, title: "Download the table as CSV" });
  const area = el("section", { cls: "result", "aria-labelledby": "live-title", "data-state": "loading" }, [el("h3", { id: "live-title" }, [el("span", { text: "Latest events" }), csv]), status, list]);
  view.append(el("div", { cls: "page-head" }, [el("h2", { text: "Live events" }), el("p", { cls: "note", text: `Newest first by the time received, refreshed every ${REFRESH_MS / 1000} s; times in ${tz}.` })]), form, area);

  let rows = [];
  let seen = null; // messageIds already shown (null: the first answer, nothing is "new")
  let paused = false;
  let ticks = 0;
  let timer = null;
  const csvColumns = [
    { key: "receivedAt", label: "receivedAt" }, { key: "event", label: "event" }, { key: "type", label: "type" },
    { key: "person", label: "person" }, { key: "source", label: "source" }, { key: "properties", label: "properties" },
    { key: "messageId", label: "messageId" },
  ];
  const columns = [
    { key: "receivedAt", label: "receivedAt", head: "Received", format: (v) => clock(v, tz) },
    { key: "event", label: "event" },
    { key: "type", label: "type" },
    { key: "person", label: "person", format: (v) => (v ? personLink(v) : "—") },
    { key: "source", label: "source" },
    { key: "properties", label: "properties" },
  ];
  const filters = () => ({ event: event.value.trim(), user: user.value.trim(), type: type.value, source: source.value.trim(), limit: Number(limit.value) });

  async function tick() {
    const f = filters();
    try {
      const answer = await getJSON("/api/v1/events/latest", { ...f, event: f.event || null, user: f.user || null, type: f.type || null, source: f.source || null });
      if (ctx.signal.aborted) return;
      errors.clear();
      const fresh = [];
      rows = answer.events.map((e) => {
        const isNew = seen !== null && !seen.has(e.messageId);
        if (isNew) fresh.push(e);
        return { receivedAt: e.receivedAt, event: e.event || e.type, type: e.type, person: e.userId || e.anonymousId, source: e.source, properties: compactJson(e.properties) || compactJson(e.traits), messageId: e.messageId, isNew };
      });
      seen = new Set(answer.events.map((e) => e.messageId));
      const decorate = (cell, column, row) => {
        if (column.key === "receivedAt") cell.dataset.messageId = row.messageId;
        if (column.key === "properties" && row.properties) cell.title = row.properties; // the cell cuts it
      };
      const drawn = rows.length ? table(columns, rows, { decorate, cls: "live-events", full: true }) : el("p", { cls: "message empty", text: answer.hint || "No event matches." });
      drawn.querySelectorAll("tbody tr").forEach((tr, i) => tr.classList.toggle("new", rows[i].isNew));
      list.replaceChildren(drawn);
      csv.hidden = !rows.length;
      ticks += 1;
      area.dataset.ticks = String(ticks);
      area.dataset.state = "ready";
      const now = new Intl.DateTimeFormat("sv-SE", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date());
      const news = fresh.length ? `${fmtInt(fresh.length)} new` : "nothing new";
      status.textContent = `Updated ${now}: ${fmtInt(rows.length)} event(s), ${ticks > 1 ? news : "the latest"}${answer.complete === false ? " (older matches may exist)" : ""}.`;
    } catch (err) {
      if (ctx.signal.aborted) return;
      errors.show(err);
      area.dataset.state = "error";
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (paused || ctx.signal.aborted) return;
    timer = setTimeout(async () => {
      if (document.hidden) return schedule(); // a background tab asks nothing
      await tick();
      schedule();
    }, REFRESH_MS);
  }

  function toggle() {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (paused) {
      clearTimeout(timer);
      status.textContent = "Paused.";
    } else {
      tick().then(schedule);
    }
  }

  ctx.signal.addEventListener("abort", () => clearTimeout(timer));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = filters();
    ctx.navigate(hashFor("/live", { ...f, limit: f.limit === 50 ? null : f.limit }));
    seen = null;
    tick().then(schedule);
  });
  await tick();
  schedule();
  view.dataset.state = "ready";
}
