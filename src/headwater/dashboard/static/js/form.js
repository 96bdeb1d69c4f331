// Form controls of the builder pages: every control has a label, a "data-field" naming the API
// field it fills (so a 400 naming that field marks it), and the page's state is read back from them.

import { addDays, el, todayIn } from "./dom.js";

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled control: <div class="field"><label for=id>text</label>control</div>
export function field(label, control, options = {}) {
  if (!control.id) control.id = nextId("f");
  const parts = [el("label", { for: control.id, text: label, cls: options.hideLabel ? "visually-hidden" : null }), control];
  if (options.hint) {
    const hint = el("small", { cls: "field-hint", id: nextId("h"), text: options.hint });
    control.setAttribute("aria-describedby", hint.id);
    parts.push(hint);
  }
  return el("div", { cls: "field" + (options.cls ? " " + options.cls : "") }, parts);
}

export function input(attrs = {}) {
  return el("input", { type: "text", autocomplete: "off", ...attrs });
}

// options: [[value, label], ...] or [value, ...]
export function select(options, value, attrs = {}) {
  const node = el("select", attrs, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return el("option", { value: v, text: label });
  }));
  if (value !== undefined && value !== null) node.value = String(value);
  return node;
}

export function checkbox(label, checked, attrs = {}) {
  const box = el("input", { type: "checkbox", id: nextId("c"), ...attrs });
  box.checked = Boolean(checked);
  return el("div", { cls: "field check" }, [box, el("label", { for: box.id, text: label })]);
}

export function button(text, onclick, attrs = {}) {
  return el("button", { type: "button", onclick, ...attrs }, text);
}

export function datalist(id, values) {
  let list = document.getElementById(id);
  if (!list) {
    list = el("datalist", { id });
    document.body.append(list);
  }
  const have = new Set([...list.options].map((o) => o.value));
  for (const v of values) if (!have.has(v)) list.append(el("option", { value: v }));
  return list;
}

// The IANA time zones of this browser, the project's and UTC.
let zones = null;
export function timeZones(project) {
  if (!zones) {
    const all = new Set(typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : []);
    all.add("UTC");
    zones = all;
  }
  zones.add(project);
  return [...zones].sort();
}

// Start, end, time zone and presets (each ending today in the chosen zone).
export function rangeFields(state, config, onPreset) {
  const start = input({ type: "date", value: state.start, required: true, "data-field": "start" });
  const end = input({ type: "date", value: state.end, required: true, "data-field": "end" });
  const tz = select(timeZones(config.timezone), state.tz, { "data-field": "tz" });
  const preset = (days) => () => {
    const today = todayIn(tz.value);
    end.value = today;
    start.value = addDays(today, -(days - 1));
    if (onPreset) onPreset();
  };
  const presets = el("div", { cls: "presets", role: "group", "aria-label": "Preset ranges" }, [
    button("Today", preset(1)), button("7 d", preset(7)), button("30 d", preset(30)), button("90 d", preset(90)),
  ]);
  const node = el("fieldset", { cls: "range-fields" }, [
    el("legend", { text: "Range" }),
    field("From", start), field("to", end), field("Time zone", tz), presets,
  ]);
  return { node, read: () => ({ start: start.value, end: end.value, tz: tz.value }) };
}

// The default range of a page: the 30 days up to today in the project's zone.
export function defaultRange(config, days = 30) {
  const end = todayIn(config.timezone);
  return { start: addDays(end, -(days - 1)), end, tz: config.timezone };
}

export function rangeFrom(params, config) {
  const fallback = defaultRange(config);
  const start = params.get("start") || fallback.start;
  const end = params.get("end") || fallback.end;
  return { start, end, tz: params.get("tz") || fallback.tz };
}

// The field an API error names: "field 'filters[1].value' must ..." or "parameter 'steps' ...".
export function errorField(message) {
  const found = /(?:field|parameter) '([^']+)'/.exec(message || "");
  return found ? found[1] : null;
}

// An error box next to a form: shows the API's message and marks (and focuses) the control whose
// data-field the message names, or the closest one (its list item: "filters[1]" for "filters[1].x").
export class FormErrors {
  constructor(form) {
    this.form = form;
    this.box = el("div", { cls: "form-error", id: nextId("err"), role: "alert", hidden: true });
  }

  clear() {
    this.box.hidden = true;
    this.box.textContent = "";
    for (const node of this.form.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
      const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== this.box.id);
      if (described.length) node.setAttribute("aria-describedby", described.join(" "));
      else node.removeAttribute("aria-describedby");
    }
  }

  show(err) {
    this.clear();
    const message = err && err.message ? err.message : String(err);
    const name = errorField(message);
    this.box.textContent = (err && err.status ? `${err.status} ${err.code}: ` : "") + message;
    this.box.hidden = false;
    this.box.dataset.field = name || "";
    let target = null;
    if (name) {
      const fields = [...this.form.querySelectorAll("[data-field]")];
      target = fields.find((n) => n.dataset.field === name)
        || fields.find((n) => n.dataset.field.startsWith(name + ".") || n.dataset.field.startsWith(name + "["))
        || fields.find((n) => name.startsWith(n.dataset.field + ".") || name.startsWith(n.dataset.field + "["));
    }
    if (target) {
      target.setAttribute("aria-invalid", "true");
      const described = (target.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      target.setAttribute("aria-describedby", [...described, this.box.id].join(" "));
      target.focus({ preventScroll: false });
    }
    return target;
  }
}
