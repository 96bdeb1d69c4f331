// The alert form of the Dashboards page (docs/dashboard.md, "Alerts"): a dialog that creates an
// alert on a saved trend insight (POST /api/v1/alerts) or changes one (PUT /api/v1/alerts/{id}),
// and the confirm step of deleting one (DELETE /api/v1/alerts/{id}). A 400 names its field
// (`condition.value`, `webhook_url`): the error is shown under that control, which is marked and
// focused.

import { getJSON, sendJSON } from "./api.js";
import { el } from "./dom.js";
import { FormErrors, button, field, input, nextId, select } from "./form.js";
import { measureLabel } from "./insights/trend.js";

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const CONDITIONS = [["above", "Above a threshold"], ["below", "Below a threshold"], ["change", "Changes by a percent"]];
const DIRECTIONS = [["any", "Either way"], ["up", "Up"], ["down", "Down"]];
const PERIODS = [["day", "Day (yesterday)"], ["week", "Week (last week)"]];
const EVERY = [["hour", "Every hour"], ["day", "Every day"]];
const VALUE_HINTS = {
  above: "Firing while the period's value is above this number.",
  below: "Firing while the period's value is below this number.",
  change: "A percent: firing while the value moved this much from the period before.",
};

// The error box goes under the control the API's message names (else at the foot of the form).
class FieldErrors extends FormErrors {
  constructor(form, foot) {
    super(form);
    this.foot = foot;
    foot.append(this.box);
  }

  show(err) {
    this.foot.append(this.box); // after every control: the box's own data-field is found last
    const target = super.show(err);
    const near = target && target.closest(".field");
    (near || this.foot).append(this.box);
    if (target) target.focus();
    return target;
  }
}

// The series a saved trend has: [[index, "A · Signed Up (unique users)"], ..., formula after them].
export function seriesOptions(insight) {
  const query = (insight && insight.query) || {};
  const series = Array.isArray(query.series) && query.series.length ? query.series : [{ event: null, measure: "users" }];
  const out = series.map((s, i) => [i, `${LETTERS[i]} · ${s.event ?? "any event"} (${measureLabel(s).toLowerCase()})`]);
  if (query.formula) out.push([series.length, `Formula · ${query.formula}`]);
  return out;
}

function modal(labelId, content, opener) {
  const box = el("dialog", { cls: "dialog alert-dialog", "aria-labelledby": labelId }, [content]);
  box.addEventListener("close", () => {
    box.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(box);
  box.showModal();
  return box;
}

// The create (alert null) or edit dialog. insights: the saved trend insights offered;
// done(saved, created) after the API took it.
export function alertDialog({ alert = null, insights, opener, done }) {
  const titleId = nextId("alert-title");
  const name = input({ value: alert ? alert.name : "", required: true, maxlength: 200, "data-field": "name" });
  const choices = insights.map((i) => [i.id, i.name]);
  if (alert && !insights.some((i) => i.id === alert.insight)) choices.unshift([alert.insight, alert.insight_name || alert.insight]);
  const insight = select(choices, alert ? alert.insight : null, { required: true, "data-field": "insight" });
  const series = select([], null, { "data-field": "series" });
  const c = (alert && alert.condition) || {};
  const type = select(CONDITIONS, c.type || "above", { "data-field": "condition.type" });
  const value = input({ type: "number", step: "any", inputmode: "decimal", value: c.value ?? "", required: true, "data-field": "condition.value" });
  const direction = select(DIRECTIONS, c.direction || "any", { "data-field": "condition.direction" });
  const period = select(PERIODS, c.period || "day", { "data-field": "condition.period" });
  const webhook = input({ type: "url", inputmode: "url", value: alert ? alert.webhook_url : "", required: true, maxlength: 2048, placeholder: "a Slack incoming webhook, or any http(s) URL", "data-field": "webhook_url" });
  const every = select(EVERY, alert ? alert.every : "hour", { "data-field": "every" });

  const valueField = field("Value", value, { hint: VALUE_HINTS.above });
  const hint = valueField.querySelector(".field-hint");
  const directionField = field("Direction of the change", direction);
  const syncType = () => {
    directionField.hidden = type.value !== "change";
    hint.textContent = VALUE_HINTS[type.value];
  };
  const syncSeries = () => {
    const keep = series.value || String(alert ? alert.series : 0);
    const found = insights.find((i) => i.id === insight.value);
    series.replaceChildren(...seriesOptions(found).map(([v, label]) => el("option", { value: v, text: label })));
    if ([...series.options].some((o) => o.value === keep)) series.value = keep;
  };
  type.addEventListener("change", syncType);
  insight.addEventListener("change", syncSeries);
  syncType();
  syncSeries();

  const form = el("form", { cls: "dialog-form alert-form", novalidate: true });
  const foot = el("div", { cls: "form-foot" });
  const errors = new FieldErrors(form, foot);
  const submit = el("button", { type: "submit" }, alert ? "Save the alert" : "Create the alert");
  form.append(
    el("h3", { id: titleId, text: alert ? `Edit the alert “${alert.name}”` : "New alert" }),
    field("Name", name),
    field("Saved trend insight", insight),
    field("Series", series),
    el("fieldset", { cls: "pair" }, [el("legend", { text: "Condition" }), field("When the value is", type), valueField, directionField, field("Over the last complete", period)]),
    field("Webhook URL (Slack-compatible JSON)", webhook),
    field("Checked", every),
    foot,
    el("div", { cls: "actions" }, [submit, button("Cancel", () => box.close())]),
  );
  const box = modal(titleId, form, opener);
  let sending = false; // a second press waits for the answer (a disabled button would drop the focus)
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    errors.clear();
    const condition = { type: type.value, value: value.value.trim() === "" ? null : Number(value.value), period: period.value };
    if (type.value === "change") condition.direction = direction.value;
    const body = { name: name.value.trim(), insight: insight.value, series: Number(series.value || 0), condition, webhook_url: webhook.value.trim(), every: every.value };
    try {
      const saved = alert
        ? await sendJSON("PUT", `/api/v1/alerts/${encodeURIComponent(alert.id)}`, body)
        : await sendJSON("POST", "/api/v1/alerts", body);
      box.close();
      done(saved, !alert);
    } catch (err) {
      errors.show(err);
    } finally {
      sending = false;
    }
  });
  name.focus();
  return box;
}

// The saved trend insights an alert may watch (only those in `only`, a Set of ids, when given).
export async function trendInsights(only = null) {
  const answer = await getJSON("/api/v1/insights/saved");
  return answer.insights.filter((i) => i.kind === "trend" && (!only || only.has(i.id)));
}

// "Delete the alert?": done() once it is deleted; an error is said in the dialog.
export function confirmDelete(alert, opener, done) {
  const titleId = nextId("alert-delete");
  const problem = el("p", { cls: "form-error", role: "alert", hidden: true });
  const yes = el("button", { type: "submit", cls: "danger" }, "Delete");
  const no = button("Cancel", () => box.close());
  const form = el("form", { cls: "dialog-form", method: "dialog" }, [
    el("h3", { id: titleId, text: `Delete the alert “${alert.name}”?` }),
    el("p", { text: "Its history goes with it; its insight stays." }),
    problem,
    el("div", { cls: "actions" }, [yes, no]),
  ]);
  const box = modal(titleId, form, opener);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    yes.disabled = true;
    try {
      await sendJSON("DELETE", `/api/v1/alerts/${encodeURIComponent(alert.id)}`);
      box.close();
      done();
    } catch (err) {
      problem.textContent = `Could not delete: ${err.message}`;
      problem.hidden = false;
      yes.disabled = false;
    }
  });
  no.focus(); // the safe choice first
  return box;
}
