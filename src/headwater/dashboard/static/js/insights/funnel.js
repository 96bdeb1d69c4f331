// Funnels (GET /api/v1/metrics/funnel, through the page's metric batch): event names in order, a
// conversion window, a property to break the steps down by, the people of a cohort. The address
// holds the metric's own parameters: start, end, tz, steps (comma-separated), window_days,
// breakdown, in_cohort.

import { metric } from "../api.js";
import { hbars } from "../charts.js";
import { el, fmtInt, fmtPct } from "../dom.js";
import { button, field, input, rangeFields, rangeFrom, select } from "../form.js";
import { intParam } from "../router.js";
import { EVENT_LIST, PROPERTY_LIST } from "../suggest.js";
import { table } from "../table.js";
import { shownValue } from "./lines.js";

export const TITLE = "Funnel";

export function fromParams(params, config) {
  const defaults = document.body.dataset;
  const steps = (params.get("steps") || defaults.funnelSteps || "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    ...rangeFrom(params, config),
    steps: steps.length ? steps : ["", ""],
    window_days: intParam(params, "window_days", Number(defaults.funnelWindow) || 14),
    breakdown: params.get("breakdown") || "",
    in_cohort: params.get("in_cohort") || "",
  };
}

export function query(state) {
  const out = { start: state.start, end: state.end, tz: state.tz, steps: state.steps.join(","), window_days: state.window_days };
  if (state.breakdown) out.breakdown = state.breakdown;
  if (state.in_cohort) out.in_cohort = state.in_cohort;
  return out;
}

export const toParams = query;

export function describe(state) {
  return `Funnel: ${state.steps.filter(Boolean).join(" → ")}`;
}

export function run(state) {
  const { start, end, tz, ...options } = query(state);
  return metric("funnel", { start, end, tz, ...options });
}

export function cohortSelect(cohorts, value, name = "in_cohort") {
  const options = [["", "everyone"], ...cohorts.map((c) => [c.id, c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id])];
  if (value && !cohorts.some((c) => c.id === value)) options.push([value, value]);
  return select(options, value, { "data-field": name });
}

class StepList {
  constructor(steps) {
    this.steps = [...steps];
    this.list = el("ol", { cls: "rows", "aria-label": "Steps" });
    this.node = el("fieldset", { cls: "steps" }, [el("legend", { text: "Steps, in order" }), this.list, el("div", { cls: "row-actions" }, [button("+ Step", () => this.add(), { cls: "add" })])]);
    this.draw();
  }

  draw(focus = null) {
    this.inputs = this.steps.map((s) => input({ list: EVENT_LIST, value: s, placeholder: "event name", "data-field": "steps" }));
    const n = this.steps.length;
    this.list.replaceChildren(...this.inputs.map((box, i) => el("li", { cls: "row" }, [
      el("span", { cls: "letter", "aria-hidden": "true", text: String(i + 1) }),
      field(`Step ${i + 1}`, box, { hideLabel: true, cls: "grow" }),
      button("↑", () => this.move(i, -1, "up"), { cls: "icon", "aria-label": `Move step ${i + 1} up`, disabled: i === 0 }),
      button("↓", () => this.move(i, 1, "down"), { cls: "icon", "aria-label": `Move step ${i + 1} down`, disabled: i === n - 1 }),
      button("Remove", () => this.remove(i), { cls: "icon", "aria-label": `Remove step ${i + 1}`, disabled: n <= 2 }),
    ])));
    if (focus) focus();
  }

  sync() {
    this.steps = this.inputs.map((box) => box.value);
  }

  add() {
    this.sync();
    this.steps.push("");
    this.draw(() => this.inputs[this.inputs.length - 1].focus());
  }

  remove(i) {
    this.sync();
    this.steps.splice(i, 1);
    this.draw(() => this.inputs[Math.min(i, this.inputs.length - 1)].focus());
  }

  move(i, by, direction) {
    this.sync();
    const [step] = this.steps.splice(i, 1);
    this.steps.splice(i + by, 0, step);
    // the focus follows the step (or stays on the button of its new row when it can still move)
    this.draw(() => {
      const buttons = this.list.children[i + by].querySelectorAll("button");
      const again = direction === "up" ? buttons[0] : buttons[1];
      (again.disabled ? this.inputs[i + by] : again).focus();
    });
  }

  read() {
    return this.inputs.map((box) => box.value.trim()).filter(Boolean);
  }
}

export function form(state, env) {
  const range = rangeFields(state, env.config);
  const steps = new StepList(state.steps);
  const windowDays = input({ type: "number", min: 1, max: 365, value: state.window_days, "data-field": "window_days", cls: "narrow" });
  const breakdown = input({ list: PROPERTY_LIST, value: state.breakdown, placeholder: "none", "data-field": "breakdown" });
  const cohort = cohortSelect(env.cohorts, state.in_cohort);
  const node = el("div", { cls: "builder-fields" }, [
    range.node,
    steps.node,
    el("fieldset", { cls: "options" }, [
      el("legend", { text: "Options" }),
      field("Conversion window (days)", windowDays),
      field("Break down by property", breakdown, { hint: "of each person's first step" }),
      field("People", cohort),
    ]),
  ]);
  return {
    node,
    read: () => ({ ...range.read(), steps: steps.read(), window_days: Number(windowDays.value) || 14, breakdown: breakdown.value.trim(), in_cohort: cohort.value }),
  };
}

export function render(answer, state, area) {
  const rows = answer.rows;
  if (!rows.length || !rows.some((r) => r.users)) {
    area.message("empty", `Nobody did “${answer.steps[0]}” in this range.`);
    return;
  }
  const groups = new Map();
  for (const row of rows) {
    const key = answer.breakdown ? row.breakdown : null;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  const bars = [];
  for (const [key, group] of groups) {
    if (answer.breakdown) bars.push(el("h4", { text: `${answer.breakdown}: ${shownValue(key)}` }));
    bars.push(hbars(group.map((row) => ({ label: `${row.step}. ${row.event}`, value: row.users, share: row.conversion, text: `${fmtInt(row.users)} · ${fmtPct(row.conversion)}` }))));
  }
  const columns = [
    ...(answer.breakdown ? [{ key: "breakdown", label: "breakdown", head: answer.breakdown, format: shownValue }] : []),
    { key: "step", label: "step", num: true },
    { key: "event", label: "event" },
    { key: "users", label: "users", num: true, format: fmtInt },
    { key: "conversion", label: "conversion", num: true, format: (v) => fmtPct(v) },
    { key: "from_previous", label: "from_previous", head: "From previous step", num: true, format: (v) => fmtPct(v) },
  ];
  area.csv(`funnel-${answer.start}-${answer.end}`, columns, rows);
  const last = rows.filter((r) => r.step === answer.steps.length);
  const overall = answer.breakdown ? "" : ` ${fmtPct(last[0] ? last[0].conversion : 0)} converted.`;
  area.show([el("div", { cls: "funnel-bars" }, bars), table(columns, rows), el("p", { cls: "hint", text: `Window: ${answer.window_days} day(s) from the first step.` })], `${answer.start} – ${answer.end}: ${answer.steps.length} steps.${overall}`);
}
