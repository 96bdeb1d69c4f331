// People: "#/people?search=TEXT[&trait=NAME]" finds people by the start of an id or by a trait's
// value (GET /api/v1/people); "#/people/<id>" is a person's profile and timeline (person.js).
// Without a search, the people of the latest events are listed.

import { getJSON } from "../api.js";
import { el, fmtInt } from "../dom.js";
import { FormErrors, button, field, input, select } from "../form.js";
import { hashFor } from "../router.js";
import { TRAIT_LIST, suggestions } from "../suggest.js";
import { download, table, toCsv } from "../table.js";
import * as person from "./person.js";

export function personLink(id, text = id) {
  return el("a", { href: `#/people/${encodeURIComponent(id)}`, text, cls: "person-link" });
}

// The table, and its CSV button in the section's heading.
function resultTable(rows, columns, name, heading) {
  heading.querySelector(".csv")?.remove();
  heading.append(button("CSV", () => download(`headwater-${name}.csv`, toCsv(columns, rows)), { cls: "csv", title: "Download the table as CSV" }));
  return [table(columns, rows, { cls: "people" })];
}

async function recent() {
  const body = await getJSON("/api/v1/events/latest", { limit: 200 });
  const seen = new Map();
  for (const event of body.events || []) {
    const id = event.userId || event.anonymousId;
    if (!id) continue;
    if (!seen.has(id)) seen.set(id, { id, user_id: event.userId || null, last_event: event.event || event.type, received: event.receivedAt, events: 0 });
    seen.get(id).events += 1;
  }
  return [...seen.values()];
}

export async function show(view, route, ctx) {
  if (route.parts.length > 1) return person.show(view, route, ctx);
  suggestions(ctx.config);
  const params = route.params;
  const text = input({ type: "search", value: params.get("search") || "", placeholder: "e.g. user-0, or pro", "data-field": "search", required: true });
  const by = select([["id", "the start of an id"], ["trait", "a trait's value"]], params.get("trait") ? "trait" : "id", { "data-field": "by" });
  const trait = input({ list: TRAIT_LIST, value: params.get("trait") || "", placeholder: "trait, e.g. plan", "data-field": "trait" });
  const traitField = field("Trait", trait, { cls: "inline" });
  traitField.hidden = by.value !== "trait";
  by.addEventListener("change", () => {
    traitField.hidden = by.value !== "trait";
  });
  const form = el("form", { cls: "search", role: "search", "aria-label": "Find people" }, [
    field("Find people by", by, { cls: "inline" }), traitField, field("Search", text, { cls: "inline grow" }), el("button", { type: "submit" }, "Search"),
  ]);
  const errors = new FormErrors(form);
  form.append(errors.box);
  const status = el("p", { cls: "status", role: "status" });
  const title = el("span", { text: "People" });
  const heading = el("h3", { id: "people-results" }, [title]);
  const results = el("section", { cls: "result", "aria-labelledby": "people-results" }, [heading, status, el("div", { cls: "result-body" })]);
  const body = results.querySelector(".result-body");
  view.append(el("div", { cls: "page-head" }, [el("h2", { text: "People" })]), form, results);

  async function run(search, traitName) {
    errors.clear();
    results.setAttribute("aria-busy", "true");
    try {
      if (!search) {
        const rows = await recent();
        if (ctx.signal.aborted) return;
        title.textContent = "Recently seen";
        heading.querySelector(".csv")?.remove();
        const columns = [
          { key: "id", label: "id", head: "Id (user or anonymous)", format: (v) => personLink(v) },
          { key: "last_event", label: "last_event", head: "Latest event" },
          { key: "events", label: "events", head: "Of the latest 200 events", num: true, format: fmtInt },
        ];
        body.replaceChildren(...(rows.length ? resultTable(rows, columns, "people-recent", heading) : [el("p", { cls: "message empty", text: "No event received yet." })]));
        status.textContent = `${rows.length} people in the latest events.`;
        return;
      }
      const answer = await getJSON("/api/v1/people", { search, trait: traitName || null, limit: 100 });
      if (ctx.signal.aborted) return;
      title.textContent = "People found";
      heading.querySelector(".csv")?.remove();
      const columns = [
        { key: "id", label: "id", head: "Person", format: (v) => personLink(v) },
        { key: "user_id", label: "user_id", head: "User id" },
        { key: "matched", label: "matched", head: "Matched", wrap: true, format: (v) => (v || []).join(", ") },
      ];
      const rows = answer.people.map((p) => ({ ...p, matched: p.matched }));
      body.replaceChildren(...(rows.length ? resultTable(rows, columns, "people-search", heading) : [el("p", { cls: "message empty", text: traitName ? `Nobody's ${traitName} is “${search}”.` : `No id starts with “${search}”.` })]));
      status.textContent = `${rows.length}${answer.truncated ? "+" : ""} people found.`;
    } catch (err) {
      if (ctx.signal.aborted) return;
      errors.show(err);
      body.replaceChildren(el("p", { cls: "message error", text: `No result: ${err.message}` }));
      status.textContent = "";
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = text.value.trim();
    const traitName = by.value === "trait" ? trait.value.trim() : "";
    ctx.navigate(hashFor("/people", { search, trait: traitName }));
    run(search, traitName);
  });
  await run(params.get("search") || "", params.get("trait") || "");
  view.dataset.state = "ready";
}
