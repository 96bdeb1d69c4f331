// The insights' filters ({type, name, op, value}, docs/insights.md) and breakdown, as form rows.
// A value is typed as the CLI reads it: a number, true, false, null or a "quoted string" is JSON,
// anything else is text; "is one of" takes a comma list (\, for a comma inside a value).

import { el } from "./dom.js";
import { button, field, input, nextId, select } from "./form.js";
import { DERIVED, PROPERTY_LIST, TRAIT_LIST } from "./suggest.js";

export const TYPES = [["event", "Event property"], ["person", "Person trait"], ["derived", "Dimension"], ["cohort", "Cohort"]];
const OPS = [["eq", "is"], ["neq", "is not"], ["in", "is one of"], ["gt", "greater than"], ["lt", "less than"], ["contains", "contains"], ["exists", "is set / not set"]];
const NUMBER = /^-?(?:\d+|\d*\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseScalar(text) {
  const t = String(text).trim();
  if (t === "true") return true;
  if (t === "false") return false;
  if (t === "null") return null;
  if (NUMBER.test(t)) return Number(t);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    try {
      return JSON.parse(t);
    } catch {
      return t;
    }
  }
  return t;
}

export function showScalar(value) {
  if (typeof value === "string") return parseScalar(value) === value ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

export function parseValue(op, text) {
  if (op === "in") return String(text).split(/(?<!\\),/).map((s) => s.replaceAll("\\,", ",")).filter((s) => s.trim() !== "").map(parseScalar);
  return parseScalar(text);
}

export function showValue(op, value) {
  if (op === "in" && Array.isArray(value)) return value.map((v) => showScalar(v).replaceAll(",", "\\,")).join(", ");
  if (value === undefined) return "";
  return showScalar(value);
}

// The control naming a property, trait, dimension or cohort.
function nameControl(type, value, cohorts, attrs) {
  if (type === "derived") return select(DERIVED, value || DERIVED[0], attrs);
  if (type === "cohort") {
    const options = cohorts.length ? cohorts.map((c) => [c.id, c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id]) : [["", "(no saved cohort)"]];
    if (value && !cohorts.some((c) => c.id === value)) options.push([value, value]);
    return select(options, value || (cohorts[0] && cohorts[0].id) || "", attrs);
  }
  return input({ list: type === "person" ? TRAIT_LIST : PROPERTY_LIST, value: value || "", placeholder: type === "person" ? "trait, e.g. plan" : "property, e.g. plan", ...attrs });
}

// One filter row: type, name, operator, value (a cohort: member or not; exists: set or not).
class FilterRow {
  constructor(editor, filter) {
    this.editor = editor;
    this.filter = { type: "event", name: "", op: "eq", value: "", ...filter };
    this.node = el("li", { cls: "row filter-row" });
    // the row's filter follows its controls (a type or operator change redraws the row first)
    const sync = () => {
      if (this.type) this.filter = this.read();
    };
    this.node.addEventListener("input", sync);
    this.node.addEventListener("change", sync);
  }

  draw(index) {
    const f = this.filter;
    const at = `${this.editor.prefix}[${index}]`;
    const n = index + 1;
    this.type = select(TYPES, f.type, { "data-field": `${at}.type` });
    this.type.addEventListener("change", () => {
      this.filter = { type: this.type.value, name: "", op: "eq", value: this.type.value === "cohort" ? true : "" };
      this.editor.redraw();
      this.node.querySelector("select, input").focus();
    });
    this.name = nameControl(f.type, f.name, this.editor.cohorts, { "data-field": `${at}.name` });
    const parts = [field(`Filter ${n}: type`, this.type, { hideLabel: true }), field(`Filter ${n}: name`, this.name, { hideLabel: true })];
    if (f.type === "cohort") {
      const member = (f.op === "neq") !== (f.value === false) ? "false" : "true";
      this.member = select([["true", "member"], ["false", "not a member"]], member === "true" ? "true" : "false", { "data-field": `${at}.value` });
      parts.splice(1, 0, field(`Filter ${n}: membership`, this.member, { hideLabel: true }));
    } else {
      this.op = select(OPS, f.op, { "data-field": `${at}.op` });
      this.op.addEventListener("change", () => {
        const previous = this.read();
        const wasExists = f.op === "exists"; // the operator the row was drawn with
        this.filter = { ...previous, op: this.op.value, value: this.op.value === "exists" ? true : wasExists ? "" : previous.value };
        this.editor.redraw();
        this.op.focus();
      });
      parts.push(field(`Filter ${n}: operator`, this.op, { hideLabel: true }));
      if (f.op === "exists") {
        this.value = select([["true", "set"], ["false", "not set"]], f.value === false ? "false" : "true", { "data-field": `${at}.value` });
      } else {
        this.value = input({ value: showValue(f.op, f.value), placeholder: f.op === "in" ? "a, b, c" : "value", "data-field": `${at}.value` });
      }
      parts.push(field(`Filter ${n}: value`, this.value, { hideLabel: true }));
    }
    parts.push(button("Remove", () => this.editor.remove(this), { cls: "icon", "aria-label": `Remove filter ${n}` }));
    this.node.replaceChildren(...parts);
  }

  read() {
    const type = this.type.value;
    if (type === "cohort") return { type, name: this.name.value, op: "eq", value: this.member.value === "true" };
    const op = this.op.value;
    const value = op === "exists" ? this.value.value === "true" : parseValue(op, this.value.value);
    return { type, name: this.name.value.trim(), op, value };
  }
}

export class FilterEditor {
  constructor({ filters = [], match = "all", cohorts = [], prefix = "filters", legend = "Filters", types = TYPES.map((t) => t[0]) }) {
    this.prefix = prefix;
    this.cohorts = cohorts;
    this.types = types;
    this.rows = filters.map((f) => new FilterRow(this, f));
    this.list = el("ol", { cls: "rows", "aria-label": legend });
    this.match = select([["all", "all of the filters"], ["any", "any of the filters"]], match, { "data-field": "filter_match" });
    this.matchField = field("Match", this.match, { cls: "inline" });
    this.node = el("fieldset", { cls: "filters" }, [
      el("legend", { text: legend }),
      this.list,
      el("div", { cls: "row-actions" }, [button("+ Filter", () => this.add(), { cls: "add" }), this.matchField]),
    ]);
    this.redraw();
  }

  add() {
    const row = new FilterRow(this, { type: "event" });
    this.rows.push(row);
    this.redraw();
    row.name.focus();
  }

  remove(row) {
    this.rows = this.rows.filter((r) => r !== row);
    this.redraw();
    this.node.querySelector("button.add").focus();
  }

  redraw() {
    this.rows.forEach((row, i) => row.draw(i));
    this.list.replaceChildren(...this.rows.map((r) => r.node));
    this.list.hidden = this.rows.length === 0;
    this.matchField.hidden = this.rows.length < 2;
  }

  read() {
    return { filters: this.rows.map((r) => r.read()), filter_match: this.match.value };
  }
}

// The breakdown: none, or {type, name}; with the number of values kept.
export class BreakdownEditor {
  constructor({ breakdown = null, limit = 10, cohorts = [], withLimit = true }) {
    this.cohorts = cohorts;
    this.state = breakdown ? { ...breakdown } : { type: "", name: "" };
    this.type = select([["", "none"], ...TYPES], this.state.type, { "data-field": "breakdown.type" });
    this.slot = el("div", { cls: "slot" });
    this.limit = input({ type: "number", min: 1, max: 100, value: limit, "data-field": "limit", cls: "narrow" });
    this.limitField = field("Values kept", this.limit, { cls: "inline" });
    this.limitField.hidden = !withLimit;
    this.withLimit = withLimit;
    this.type.addEventListener("change", () => {
      this.state = { type: this.type.value, name: "" };
      this.draw();
    });
    this.node = el("fieldset", { cls: "breakdown" }, [el("legend", { text: "Breakdown" }), el("div", { cls: "row" }, [field("Break down by", this.type, { hideLabel: true }), this.slot, this.limitField])]);
    this.draw();
  }

  draw() {
    this.name = null;
    this.slot.replaceChildren();
    if (this.state.type) {
      this.name = nameControl(this.state.type, this.state.name, this.cohorts, { "data-field": "breakdown.name", id: nextId("bd") });
      this.slot.append(field("Breakdown name", this.name, { hideLabel: true }));
    }
    this.limitField.hidden = !this.withLimit || !this.state.type || this.state.type === "cohort"; // a cohort: 2 values
  }

  read() {
    if (!this.type.value || !this.name) return { breakdown: null, limit: Number(this.limit.value) || 10 };
    return { breakdown: { type: this.type.value, name: this.name.value.trim() }, limit: Number(this.limit.value) || 10 };
  }
}
