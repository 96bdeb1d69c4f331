// Saved insights and the dashboards they are pinned to (docs/dashboard.md): the "Save…" dialog of
// the builder pages (POST /api/v1/insights/saved, or PUT for the saved insight the page was opened
// from), pinning to dashboards (PUT /api/v1/dashboards/{id} with one more tile, or POST a new one),
// and the builder link of a saved insight.

import { getJSON, sendJSON } from "./api.js";
import { el } from "./dom.js";
import { FormErrors, button, checkbox, field, input } from "./form.js";
import { hashFor } from "./router.js";

export const GRID = 12; // columns of a dashboard's grid
const TILE = ["insight", "x", "y", "w", "h"];

// A saved query as the builder's address parameters (a funnel's steps as one comma list).
export function queryParams(kind, query) {
  const params = { ...query };
  if (kind === "funnel" && Array.isArray(params.steps)) params.steps = params.steps.join(",");
  return params;
}

export function builderHash(kind, query, id) {
  return hashFor(`/insights/${kind}`, { ...queryParams(kind, query), saved: id || null });
}

// Tiles in reading order, placed row by row on the grid (a row is as tall as its tallest tile).
export function pack(tiles) {
  let x = 0;
  let y = 0;
  let row = 0;
  for (const tile of tiles) {
    tile.w = Math.max(1, Math.min(GRID, tile.w || 6));
    tile.h = Math.max(1, tile.h || 4);
    if (x + tile.w > GRID) {
      y += row;
      x = 0;
      row = 0;
    }
    tile.x = x;
    tile.y = y;
    x += tile.w;
    row = Math.max(row, tile.h);
  }
  return tiles;
}

export function ordered(tiles) {
  return [...tiles].sort((a, b) => a.y - b.y || a.x - b.x);
}

export function tileBody(tiles) {
  return tiles.map((t) => Object.fromEntries(TILE.map((k) => [k, t[k]])));
}

// Pin a saved insight to a dashboard: one more tile, after the others.
export async function pin(dashboardId, insightId) {
  const board = await getJSON(`/api/v1/dashboards/${encodeURIComponent(dashboardId)}`);
  const tiles = pack([...ordered(board.tiles), { insight: insightId, w: 6, h: 4 }]);
  return sendJSON("PUT", `/api/v1/dashboards/${encodeURIComponent(dashboardId)}`, { tiles: tileBody(tiles) });
}

export function createDashboard(name, insightIds = []) {
  const tiles = pack(insightIds.map((insight) => ({ insight, w: 6, h: 4 })));
  return sendJSON("POST", "/api/v1/dashboards", { name, tiles: tileBody(tiles) });
}

// The "Save…" button of a builder page; current() -> {kind, query, name, saved: id|null}.
export function saveButton(ctx, current, title) {
  const status = el("span", { cls: "save-status", role: "status" });
  const open = button("Save…", () => dialog(ctx, current(), title, status, open), { cls: "save", "aria-haspopup": "dialog" });
  return el("span", { cls: "save-wrap" }, [open, status]);
}

async function dialog(ctx, what, title, status, opener) {
  const [boards, existing] = await Promise.all([
    getJSON("/api/v1/dashboards").then((b) => b.dashboards, () => []),
    what.saved ? getJSON(`/api/v1/insights/saved/${encodeURIComponent(what.saved)}`).catch(() => null) : null,
  ]);
  const name = input({ value: existing ? existing.name : what.name, required: true, maxlength: 200, "data-field": "name" });
  const replace = existing ? checkbox(`Replace the saved insight “${existing.name}”`, true, { "data-field": "replace" }) : null;
  const boxes = boards.map((b) => checkbox(b.name, false, { value: b.id, "data-field": "dashboards" }));
  const fresh = input({ placeholder: "a new dashboard's name", maxlength: 200, "data-field": "new_dashboard" });
  const form = el("form", { cls: "dialog-form", novalidate: true });
  const errors = new FormErrors(form);
  const cancel = button("Cancel", () => box.close());
  form.append(
    el("h3", { id: "save-title", text: `Save this ${title.toLowerCase()}` }),
    field("Name", name),
    replace,
    el("fieldset", {}, [el("legend", { text: "Pin to dashboards" }), ...(boxes.length ? boxes : [el("p", { cls: "hint", text: "No dashboard yet." })]), field("and to a new dashboard", fresh)]),
    errors.box,
    el("div", { cls: "actions" }, [el("button", { type: "submit" }, "Save"), cancel]),
  );
  const box = el("dialog", { cls: "dialog", "aria-labelledby": "save-title" }, [form]);
  box.addEventListener("close", () => {
    box.remove();
    opener.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    try {
      const body = { name: name.value.trim(), kind: what.kind, query: what.query };
      const saved = replace && replace.querySelector("input").checked
        ? await sendJSON("PUT", `/api/v1/insights/saved/${encodeURIComponent(existing.id)}`, body)
        : await sendJSON("POST", "/api/v1/insights/saved", body);
      const chosen = boxes.map((b) => b.querySelector("input")).filter((b) => b.checked);
      const pinned = [];
      for (const b of chosen) {
        await pin(b.value, saved.id);
        pinned.push(b.nextElementSibling.textContent);
      }
      let link = null;
      if (fresh.value.trim()) {
        const board = await createDashboard(fresh.value.trim(), [saved.id]);
        pinned.push(board.name);
        link = `#/dashboards/${encodeURIComponent(board.id)}`;
      } else if (chosen.length) {
        link = `#/dashboards/${encodeURIComponent(chosen[0].value)}`;
      }
      ctx.navigate(builderHash(what.kind, what.query, saved.id), { replace: true });
      what.onSaved && what.onSaved(saved);
      box.close();
      status.replaceChildren(`Saved “${saved.name}”${pinned.length ? `, pinned to ${pinned.join(", ")}` : ""}. `, link ? el("a", { href: link, text: "Open the dashboard" }) : "");
      status.dataset.saved = saved.id;
    } catch (err) {
      errors.show(err);
    }
  });
  document.body.append(box);
  box.showModal();
  name.focus();
  name.select();
}
