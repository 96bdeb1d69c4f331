// Dashboards: "#/dashboards" lists the dashboards (and makes new ones), the saved insights (open
// one in its builder, pin it to a dashboard, delete it) and the alerts; "#/dashboards/<id>" is one
// dashboard (board.js).

import { getJSON, sendJSON } from "../api.js";
import { alertsSection } from "../alerts.js";
import { el, fmtInt, fmtTime } from "../dom.js";
import { FormErrors, button, field, input, select } from "../form.js";
import { builderHash, createDashboard, pin } from "../saved.js";
import { table } from "../table.js";
import * as board from "./board.js";

const KIND_NAMES = { trend: "Trend", funnel: "Funnel", retention: "Retention", paths: "Paths", web: "Web analytics" };

export function kindName(kind) {
  return KIND_NAMES[kind] || kind;
}

export async function show(view, route, ctx) {
  if (route.parts.length > 1) return board.show(view, route, ctx);
  const tz = ctx.config.timezone;
  view.append(el("div", { cls: "page-head" }, [el("h2", { text: "Dashboards" }), el("p", { cls: "note", text: "Save an insight from its builder (Insights, then Save…) and pin it to dashboards." })]));

  const boardsBody = el("div");
  const name = input({ placeholder: "e.g. Growth", required: true, maxlength: 200, "data-field": "name" });
  const createForm = el("form", { cls: "search", "aria-label": "New dashboard" }, [field("New dashboard", name, { cls: "inline grow" }), el("button", { type: "submit" }, "Create")]);
  const createErrors = new FormErrors(createForm);
  createForm.append(createErrors.box);
  const boardsStatus = el("p", { cls: "status", role: "status" });
  const boardsNode = el("section", { cls: "result", "aria-labelledby": "boards-title" }, [el("h3", { id: "boards-title", text: "Your dashboards" }), boardsStatus, boardsBody, createForm]);

  const insightsStatus = el("p", { cls: "status", role: "status" });
  const insightsBody = el("div");
  const insightsNode = el("section", { cls: "result", "aria-labelledby": "saved-title" }, [el("h3", { id: "saved-title", text: "Saved insights" }), insightsStatus, insightsBody]);
  const alerts = alertsSection(ctx);
  view.append(boardsNode, insightsNode, alerts.node);

  let boards = [];
  async function load() {
    const [b, i] = await Promise.all([getJSON("/api/v1/dashboards"), getJSON("/api/v1/insights/saved")]);
    if (ctx.signal.aborted) return;
    boards = b.dashboards;
    drawBoards();
    drawInsights(i.insights);
  }

  function drawBoards() {
    boardsBody.replaceChildren(boards.length
      ? el("ul", { cls: "board-list" }, boards.map((d) => el("li", { "data-dashboard": d.id }, [
        el("a", { href: `#/dashboards/${encodeURIComponent(d.id)}`, text: d.name }),
        el("span", { cls: "muted", text: ` ${fmtInt(d.tiles.length)} insight(s)` }),
      ])))
      : el("p", { cls: "message empty", text: "No dashboard yet." }));
    boardsStatus.textContent = `${boards.length} dashboard(s).`;
  }

  function drawInsights(insights) {
    const pinCell = (id, row) => {
      const choice = select(boards.map((d) => [d.id, d.name]), null, { "aria-label": `Dashboard to pin “${row.name}” to` });
      const go = button("Pin", async () => {
        go.disabled = true;
        try {
          const where = choice.selectedOptions[0].textContent;
          await pin(choice.value, id);
          await load();
          insightsStatus.textContent = `Pinned “${row.name}” to ${where}.`;
        } catch (err) {
          insightsStatus.textContent = `Could not pin: ${err.message}`;
        } finally {
          go.disabled = false;
        }
      }, { "aria-label": `Pin “${row.name}” to the chosen dashboard` });
      return boards.length ? el("span", { cls: "pin" }, [choice, go]) : el("span", { cls: "muted", text: "no dashboard" });
    };
    const remove = (id, row) => button("Delete", async () => {
      if (!window.confirm(`Delete the saved insight “${row.name}”? Its tiles and alerts go with it.`)) return;
      try {
        await sendJSON("DELETE", `/api/v1/insights/saved/${encodeURIComponent(id)}`);
        await Promise.all([load(), alerts.load()]); // its alerts went with it
        insightsStatus.textContent = `Deleted “${row.name}”.`;
      } catch (err) {
        insightsStatus.textContent = `Could not delete: ${err.message}`;
      }
    }, { cls: "icon", "aria-label": `Delete “${row.name}”` });
    const columns = [
      { key: "name", label: "name", format: (v, row) => el("a", { href: builderHash(row.kind, row.query, row.id), text: v }) },
      { key: "kind", label: "kind", format: kindName },
      { key: "updated_at", label: "updated_at", head: "Updated", format: (v) => fmtTime(v, tz) },
      { key: "id", label: "pin", head: "Pin to", format: pinCell },
      { key: "id", label: "delete", head: "", format: remove },
    ];
    insightsBody.replaceChildren(insights.length ? table(columns, insights, { cls: "saved" }) : el("p", { cls: "message empty", text: "No saved insight yet: build one under Insights and press Save…" }));
    if (!insightsStatus.textContent) insightsStatus.textContent = `${insights.length} saved insight(s).`;
  }

  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    createErrors.clear();
    try {
      const created = await createDashboard(name.value.trim());
      window.location.hash = `#/dashboards/${encodeURIComponent(created.id)}`;
    } catch (err) {
      createErrors.show(err);
    }
  });

  try {
    await Promise.all([load(), alerts.load()]);
  } catch (err) {
    if (!ctx.signal.aborted) boardsBody.replaceChildren(el("p", { cls: "message error", role: "alert", text: `The dashboards could not be loaded: ${err.message}` }));
  }
  view.dataset.state = "ready";
}
