// Paths (POST /api/v1/insights/paths): the most common steps after (or before) an event or a page.
// The address holds the request's fields: start, end, tz, event, kind, direction, steps, limit,
// session_scoped, exclude (JSON), filters (JSON), filter_match.

import { postJSON } from "../api.js";
import { el, fmtInt, fmtPct } from "../dom.js";
import { FilterEditor } from "../filters.js";
import { checkbox, field, input, rangeFields, rangeFrom, select } from "../form.js";
import { boolParam, intParam, jsonParam } from "../router.js";
import { EVENT_LIST, PATH_LIST } from "../suggest.js";
import { table } from "../table.js";

export const TITLE = "Paths";

export function fromParams(params, config) {
  return {
    ...rangeFrom(params, config),
    event: params.get("event") || "",
    kind: params.get("kind") || "events",
    direction: params.get("direction") || "next",
    steps: intParam(params, "steps", 3),
    limit: intParam(params, "limit", 5),
    session_scoped: boolParam(params, "session_scoped"),
    exclude: jsonParam(params, "exclude", []),
    filters: jsonParam(params, "filters", []),
    filter_match: params.get("filter_match") || "all",
  };
}

export function query(state) {
  const body = { start: state.start, end: state.end, tz: state.tz, event: state.event, kind: state.kind, direction: state.direction, steps: state.steps, limit: state.limit };
  if (state.session_scoped) body.session_scoped = true;
  if (state.exclude.length) body.exclude = state.exclude;
  if (state.filters.length) {
    body.filters = state.filters;
    body.filter_match = state.filter_match;
  }
  return body;
}

export const toParams = query;

export function describe(state) {
  return `Paths ${state.direction === "next" ? "after" : "before"} ${state.event || "an event"}`;
}

// Nothing to ask before an event is chosen (a link without one opens the empty form).
export function incomplete(state) {
  return state.event ? null : "Choose the event (or page path) the paths start from, then Run.";
}

export function run(state) {
  return postJSON("/api/v1/insights/paths", query(state));
}

export function form(state, env) {
  const range = rangeFields(state, env.config);
  const kind = select([["events", "Events"], ["pages", "Page paths"]], state.kind, { "data-field": "kind" });
  const event = input({ list: state.kind === "pages" ? PATH_LIST : EVENT_LIST, value: state.event, placeholder: "e.g. Signed Up, or /pricing", required: true, "data-field": "event" });
  kind.addEventListener("change", () => event.setAttribute("list", kind.value === "pages" ? PATH_LIST : EVENT_LIST));
  const direction = select([["next", "after it"], ["previous", "before it"]], state.direction, { "data-field": "direction" });
  const steps = input({ type: "number", min: 1, max: 5, value: state.steps, "data-field": "steps", cls: "narrow" });
  const limit = input({ type: "number", min: 1, max: 20, value: state.limit, "data-field": "limit", cls: "narrow" });
  const session = checkbox("Within the same session only", state.session_scoped, { "data-field": "session_scoped" });
  const exclude = input({ value: state.exclude.join(", "), placeholder: "e.g. identify, page", "data-field": "exclude" });
  const filters = new FilterEditor({ filters: state.filters, match: state.filter_match, cohorts: env.cohorts });
  const node = el("div", { cls: "builder-fields" }, [
    range.node,
    el("fieldset", { cls: "options" }, [
      el("legend", { text: "Start from" }),
      field("Steps are", kind),
      field(kind.value === "pages" ? "Page path" : "Event", event),
      field("Show the steps", direction),
      field("Number of steps", steps),
      field("Nodes kept per step", limit),
      field("Never a step", exclude, { hint: "comma-separated names" }),
      session,
    ]),
    filters.node,
  ]);
  kind.addEventListener("change", () => {
    event.previousElementSibling.textContent = kind.value === "pages" ? "Page path" : "Event";
  });
  return {
    node,
    read: () => ({
      ...range.read(),
      event: event.value.trim(),
      kind: kind.value,
      direction: direction.value,
      steps: Number(steps.value) || 3,
      limit: Number(limit.value) || 5,
      session_scoped: session.querySelector("input").checked,
      exclude: exclude.value.split(",").map((s) => s.trim()).filter(Boolean),
      ...filters.read(),
    }),
  };
}

// "$other" inside a path is an other node of an earlier step (an event really named so is rare)
function nodeName(name, other) {
  return other || name === "$other" ? "(other)" : name === "$none" ? "(no path)" : name;
}

function bar(share) {
  const fill = el("span", { cls: "fill" });
  fill.style.width = `${(100 * Math.max(0, Math.min(1, share || 0))).toFixed(1)}%`;
  return el("span", { cls: "track" }, [fill]);
}

export function render(answer, state, area) {
  const anchor = answer.anchor;
  if (!anchor.users) {
    area.message("empty", `Nobody did “${anchor.event}” in this range${answer.filters.length ? " with these filters" : ""}.`);
    return;
  }
  const arrow = answer.direction === "next" ? " → " : " ← ";
  const columnsNode = el("ol", { cls: "path-steps", "aria-label": "Steps" }, [
    el("li", { cls: "path-step" }, [
      el("h4", { text: answer.direction === "next" ? "Start" : "End" }),
      el("ul", { cls: "nodes" }, [el("li", { cls: "node anchor", "data-users": anchor.users }, [
        el("span", { cls: "node-name", text: anchor.event }),
        el("span", { cls: "node-value", text: `${fmtInt(anchor.users)} people` }),
        bar(1),
        el("span", { cls: "node-sub", text: `${fmtInt(anchor.drop_off)} with no step ${answer.direction === "next" ? "after" : "before"}` }),
      ])]),
    ]),
    ...answer.steps.map((step) => el("li", { cls: "path-step" }, [
      el("h4", { text: `Step ${step.step} ${answer.direction === "next" ? "after" : "before"}` }),
      el("p", { cls: "node-sub", text: `${fmtInt(step.users)} people, ${fmtInt(step.drop_off)} go no further` }),
      el("ul", { cls: "nodes" }, step.nodes.map((node) => el("li", { cls: "node" + (node.other ? " other" : ""), "data-users": node.users }, [
        el("span", { cls: "node-name", text: nodeName(node.event, node.other), title: node.path.map((p, i) => nodeName(p, node.other && i === node.path.length - 1)).join(arrow) }),
        el("span", { cls: "node-value", text: `${fmtInt(node.users)} · ${fmtPct(node.share_of_anchor)}` }),
        bar(node.share_of_anchor),
        node.path.length > 2 ? el("span", { cls: "node-sub", text: `after ${node.path.slice(1, -1).map((p) => nodeName(p, false)).join(arrow)}` }) : null,
      ]))),
    ])),
  ]);
  const rows = [
    { step: 0, path: anchor.event, event: anchor.event, other: false, users: anchor.users, share_of_anchor: 1, share_of_parent: 1, drop_off: anchor.drop_off },
    ...answer.steps.flatMap((step) => step.nodes.map((node) => ({ step: step.step, path: node.path.map((p, i) => (i === node.path.length - 1 && !node.other ? p : nodeName(p, false))).join(arrow), event: node.event, other: node.other, users: node.users, share_of_anchor: node.share_of_anchor, share_of_parent: node.share_of_parent, drop_off: node.drop_off }))),
  ];
  const columns = [
    { key: "step", label: "step", num: true },
    { key: "path", label: "path", wrap: true },
    { key: "users", label: "users", head: "People", num: true, format: fmtInt },
    { key: "share_of_anchor", label: "share_of_anchor", head: "Of the start", num: true, format: (v) => fmtPct(v) },
    { key: "share_of_parent", label: "share_of_parent", head: "Of the step before", num: true, format: (v) => fmtPct(v) },
    { key: "drop_off", label: "drop_off", head: "Go no further", num: true, format: fmtInt },
  ];
  area.csv(`paths-${answer.start}-${answer.end}`, columns, rows);
  area.show([columnsNode, table(columns, rows, { cls: "paths" })], `${fmtInt(anchor.users)} people did ${anchor.event}; ${answer.steps.length} step(s) ${answer.direction === "next" ? "after" : "before"}.`);
}
