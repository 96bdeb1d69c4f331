// What the alerts section shows of one alert under its table: the evaluation "Check now" answered
// (POST /api/v1/alerts/{id}/check) and the alert's history (GET /api/v1/alerts/{id}/events).

import { el, fmtExact, fmtTime } from "./dom.js";
import { button, nextId } from "./form.js";
import { human, table } from "./table.js";

export function badge(state) {
  return el("span", { cls: `state ${state || "none"}`, text: state || "not checked yet" });
}

function span(period) {
  if (!period) return "";
  return period.start === period.end ? period.start : `${period.start} to ${period.end}`;
}

// A panel with a heading and a Close button (which gives the focus back to `opener`).
function panel(kind, alert, title, parts, opener, onClose) {
  const id = nextId("alert-detail");
  const heading = el("h4", { id, tabindex: "-1" }, [el("span", { text: title })]);
  const node = el("section", { cls: `alert-detail ${kind}`, "aria-labelledby": id, "data-alert": alert.id }, [heading, ...parts]);
  heading.append(button("Close", () => {
    node.remove();
    onClose();
    if (opener && opener.isConnected) opener.focus();
  }, { cls: "icon close", "aria-label": `Close: ${title}` }));
  return node;
}

// What the webhook got from this check, in words.
export function delivery(found) {
  if (found.state === "error") return `The check failed: ${found.error}`;
  if (!found.notification) return "Nothing sent: the state did not cross since the last message.";
  if (found.delivered) return `The webhook took the ${found.notification} message.`;
  return `The ${found.notification} message was not delivered: ${found.delivery_error} (sent again at the next check).`;
}

function fact(term, value) {
  return [el("dt", { text: term }), el("dd", {}, value)];
}

export function checkPanel(alert, found, tz, opener, onClose) {
  const facts = el("dl", { cls: "facts" }, [
    ...fact("State", badge(found.state)),
    ...(found.state === "error" ? fact("Error", found.error) : [
      ...fact(`Value${found.period ? ` (${span(found.period)})` : ""}`, fmtExact(found.value)),
      ...fact(`Previous${found.previous_period ? ` (${span(found.previous_period)})` : ""}`, fmtExact(found.previous_value)),
      ...fact("Change", found.change === null || found.change === undefined ? "—" : `${fmtExact(found.change)} %`),
    ]),
    ...fact("Webhook", delivery(found)),
    ...fact("Checked", fmtTime(found.checked_at, tz)),
  ]);
  const summary = found.summary ? el("p", { cls: "summary", text: found.summary }) : null;
  const node = panel("check", alert, `Check of “${alert.name}”`, [summary, facts], opener, onClose);
  node.dataset.state = found.state;
  node.dataset.notification = found.notification || "";
  return node;
}

function change(event) {
  return el("span", { cls: "change" }, [badge(event.previous_state), " → ", badge(event.state)]);
}

function outcome(event) {
  if (event.notification && event.delivered) return `${event.notification} message delivered`;
  if (event.notification) return `${event.notification} message not delivered: ${event.error || "no answer"}`;
  return event.error ? `error: ${event.error}` : "nothing sent";
}

export function historyPanel(alert, events, tz, opener, onClose) {
  const columns = [
    { key: "at", label: "at", head: "Time", format: (v) => fmtTime(v, tz) },
    { key: "state", label: "state", head: "State change", format: (v, row) => change(row) },
    { key: "value", label: "value", head: "Value", num: true, format: fmtExact },
    { key: "notification", label: "notification", head: "Webhook", wrap: true, format: (v, row) => outcome(row) },
  ];
  const body = events.length
    ? table(columns, events, { cls: "alert-events", full: true, decorate: (cell, c) => (cell.dataset.label = c.head ?? human(c.label)) })
    : el("p", { cls: "message empty", text: "No event yet: the alert has not changed state or sent anything." });
  const node = panel("history", alert, `History of “${alert.name}”`, [body], opener, onClose);
  node.dataset.events = String(events.length);
  return node;
}
