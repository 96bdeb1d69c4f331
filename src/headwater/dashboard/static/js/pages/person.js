// A person: "#/people/<id>[?event=NAME]": the profile (GET /api/v1/people/{id}: merged ids,
// traits, first and last seen, sessions, experiments, audiences) and the timeline
// (GET /api/v1/people/{id}/events, newest first, a page at a time; "Older events" follows the cursor).

import { getJSON } from "../api.js";
import { el, fmtInt, fmtTime } from "../dom.js";
import { FormErrors, button, field, input } from "../form.js";
import { hashFor } from "../router.js";
import { EVENT_LIST, suggestions } from "../suggest.js";
import { table } from "../table.js";

const PAGE = 50;

function tile(label, value, key, raw = value) {
  return el("div", { cls: "tile", "data-metric": key, "data-value": raw ?? "" }, [el("span", { cls: "tile-label", text: label }), el("span", { cls: "tile-value small", }, [value ?? "—"])]);
}

function card(title, content, key) {
  return el("section", { cls: "card", "data-card": key, "aria-label": title }, [el("h4", { text: title }), content]);
}

function empty(text) {
  return el("p", { cls: "message empty", text });
}

export function compactJson(value) {
  if (value === null || value === undefined) return "";
  const text = JSON.stringify(value);
  return text === "{}" ? "" : text;
}

function profileView(p, tz) {
  const tiles = el("div", { cls: "tiles" }, [
    tile("User id", p.user_id ?? "never identified", "user_id", p.user_id),
    tile("First seen", fmtTime(p.first_seen, tz), "first_seen", p.first_seen),
    tile("Last seen", fmtTime(p.last_seen, tz), "last_seen", p.last_seen),
    tile("Events", fmtInt(p.events), "events", p.events),
    tile("Sessions", fmtInt(p.sessions ? p.sessions.count : null), "sessions", p.sessions ? p.sessions.count : null),
  ]);
  const ids = table([{ key: "id", label: "id", wrap: true }, { key: "kind", label: "kind" }], p.ids || [], { cls: "ids" });
  const traitRows = Object.entries(p.traits || {}).map(([name, value]) => ({ name, value, updated: (p.traits_updated || {})[name] }));
  const traits = traitRows.length
    ? table([{ key: "name", label: "trait" }, { key: "value", label: "value", wrap: true }, { key: "updated", label: "updated", format: (v) => fmtTime(v, tz) }], traitRows, { cls: "traits" })
    : empty("No trait.");
  const recent = (p.sessions && p.sessions.recent) || [];
  const sessions = recent.length
    ? table([
      { key: "start", label: "start", format: (v) => fmtTime(v, tz) },
      { key: "end", label: "end", format: (v) => fmtTime(v, tz) },
      { key: "events", label: "events", num: true, format: fmtInt },
      { key: "stored", label: "stored" },
    ], recent, { cls: "sessions" })
    : empty("No session.");
  const unavailable = p.live && p.live !== "ok" ? `Not available: ${p.live}` : null;
  const experiments = p.experiments === null || p.experiments === undefined
    ? empty(unavailable || "Not available.")
    : p.experiments.length
      ? table([
        { key: "experiment", label: "experiment" },
        { key: "phase", label: "phase" },
        { key: "variation", label: "variation" },
        { key: "exposed", label: "exposed", format: (v) => (v ? "yes" : "no") },
      ], p.experiments, { cls: "experiments" })
      : empty("In no experiment.");
  const audiences = p.audiences === null || p.audiences === undefined
    ? empty(unavailable || "Not available.")
    : p.audiences.length
      ? el("ul", { cls: "chips" }, p.audiences.map((a) => el("li", { text: a })))
      : empty("In no audience.");
  return el("div", { cls: "profile" }, [
    tiles,
    el("div", { cls: "cards" }, [
      card("Ids", ids, "ids"),
      card("Traits", traits, "traits"),
      card(`Sessions (the ${recent.length} newest of ${fmtInt(p.sessions ? p.sessions.count : 0)})`, sessions, "sessions"),
      card("Experiments", experiments, "experiments"),
      card("Audiences", audiences, "audiences"),
    ]),
  ]);
}

function eventRow(event, tz) {
  const details = el("details", { cls: "event-json" }, [
    el("summary", { text: "JSON", "aria-label": `The whole event ${event.messageId}` }),
    el("pre", { text: JSON.stringify(event, null, 2) }),
  ]);
  return {
    time: event.timestamp,
    event: event.event || event.type,
    type: event.type,
    source: event.source,
    properties: compactJson(event.properties) || compactJson(event.traits),
    stored: event.stored,
    details,
    messageId: event.messageId,
  };
}

export async function show(view, route, ctx) {
  const id = route.parts.slice(1).join("/");
  const tz = ctx.config.timezone;
  suggestions(ctx.config);
  const eventFilter = route.params.get("event") || "";
  view.append(el("div", { cls: "page-head" }, [
    el("h2", {}, [el("span", { cls: "muted", text: "Person " }), el("span", { cls: "person-id", text: id })]),
    el("a", { href: "#/people", cls: "back", text: "← Find people" }),
  ]));
  const profileArea = el("section", { cls: "result", "aria-label": "Profile", "aria-busy": "true" }, [el("p", { cls: "status", role: "status", text: "Loading the profile…" })]);
  view.append(profileArea);
  let profile;
  try {
    profile = await getJSON(`/api/v1/people/${encodeURIComponent(id)}`);
  } catch (err) {
    profileArea.removeAttribute("aria-busy");
    profileArea.replaceChildren(el("p", { cls: "message error", role: "alert", text: err.status === 404 ? `Nobody has the id “${id}”.` : `The profile could not be loaded: ${err.message}` }));
    view.dataset.state = "ready";
    return;
  }
  if (ctx.signal.aborted) return;
  profileArea.removeAttribute("aria-busy");
  profileArea.replaceChildren(el("h3", { text: "Profile" }), profileView(profile, tz));

  // the timeline
  const filter = input({ list: EVENT_LIST, value: eventFilter, placeholder: "every event", "data-field": "event" });
  const form = el("form", { cls: "search", "aria-label": "Filter the timeline" }, [field("Only the event", filter, { cls: "inline grow" }), el("button", { type: "submit" }, "Show")]);
  const errors = new FormErrors(form);
  form.append(errors.box);
  const status = el("p", { cls: "status", role: "status" });
  const list = el("div", { cls: "timeline" });
  const more = button("Older events", () => load(false), { cls: "more", hidden: true });
  const timeline = el("section", { cls: "result", "aria-labelledby": "timeline-title" }, [el("h3", { id: "timeline-title", text: "Timeline" }), form, status, list, more]);
  view.append(timeline);
  let cursor = null;
  let shown = [];
  const columns = [
    { key: "time", label: "timestamp", head: "Time", format: (v) => fmtTime(v, tz) },
    { key: "event", label: "event" },
    { key: "type", label: "type" },
    { key: "source", label: "source" },
    { key: "properties", label: "properties", wrap: true },
    { key: "stored", label: "stored" },
    { key: "details", label: "details", head: "Event", format: (v) => v },
  ];

  async function load(fresh) {
    errors.clear();
    timeline.setAttribute("aria-busy", "true");
    try {
      const params = { limit: PAGE, event: filter.value.trim() || null, before: fresh ? null : cursor };
      const answer = await getJSON(`/api/v1/people/${encodeURIComponent(id)}/events`, params);
      if (ctx.signal.aborted) return;
      const rows = answer.events.map((e) => eventRow(e, tz));
      shown = fresh ? rows : [...shown, ...rows];
      cursor = answer.next;
      list.replaceChildren(shown.length ? table(columns, shown, { cls: "events", full: true }) : empty(params.event ? `No “${params.event}” event.` : "No event."));
      more.hidden = !cursor;
      status.textContent = `${shown.length} event(s), newest first${cursor ? "; older ones follow" : ""}.`;
      if (!fresh) {
        const rowsNodes = list.querySelectorAll("tbody tr");
        const first = rowsNodes[shown.length - rows.length];
        if (first) first.querySelector("td").setAttribute("tabindex", "-1");
        if (first) first.querySelector("td").focus();
      }
    } catch (err) {
      if (ctx.signal.aborted) return;
      errors.show(err);
      status.textContent = "";
    } finally {
      timeline.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate(hashFor(`/people/${encodeURIComponent(id)}`, { event: filter.value.trim() }));
    load(true);
  });
  await load(true);
  view.dataset.state = "ready";
}
