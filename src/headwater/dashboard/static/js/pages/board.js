// One dashboard, "#/dashboards/<id>[?start=&end=&tz=]": its saved insights as tiles on a 12-column
// grid, each drawn from GET /api/v1/insights/saved/{id}/result (over the dashboard's range when one
// is chosen, else the insight's own). "Arrange" shows each tile's buttons (move left, right, up,
// down; wider, narrower, taller, shorter; remove), which work from the keyboard; a tile can also be
// dragged onto another. The layout is saved (PUT /api/v1/dashboards/{id}) after each change.

import { getJSON, sendJSON } from "../api.js";
import { alertsSection } from "../alerts.js";
import { addDays, el, todayIn } from "../dom.js";
import { button, field, input, select, timeZones } from "../form.js";
import { KINDS } from "../insights/kinds.js";
import { ResultArea } from "../result.js";
import { hashFor } from "../router.js";
import { GRID, builderHash, ordered, pack, queryParams, tileBody } from "../saved.js";

function stateOf(kind, query, range, config) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(queryParams(kind, query))) {
    if (value !== null && value !== undefined) params.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  for (const [key, value] of Object.entries(range)) if (value) params.set(key, value);
  return KINDS[kind].fromParams(params, config);
}

function rowsOf(tiles) {
  const rows = new Map();
  for (const t of tiles) {
    if (!rows.has(t.y)) rows.set(t.y, []);
    rows.get(t.y).push(t);
  }
  return [...rows.keys()].sort((a, b) => a - b).map((y) => rows.get(y));
}

// The tile of another row under (or above) a tile's left edge.
function across(tiles, tile, step) {
  const rows = rowsOf(tiles);
  const at = rows.findIndex((r) => r.includes(tile));
  const row = rows[at + step];
  if (!row) return null;
  return row.find((t) => t.x <= tile.x && tile.x < t.x + t.w) || (tile.x < row[0].x ? row[0] : row[row.length - 1]);
}

const MOVES = {
  left: (tiles, i) => (i > 0 ? i - 1 : null),
  right: (tiles, i) => (i < tiles.length - 1 ? i + 1 : null),
  up: (tiles, i) => {
    const other = across(tiles, tiles[i], -1);
    return other ? tiles.indexOf(other) : null;
  },
  down: (tiles, i) => {
    const other = across(tiles, tiles[i], 1);
    return other ? tiles.indexOf(other) : null;
  },
};

export async function show(view, route, ctx) {
  const started = performance.now();
  const id = route.parts.slice(1).join("/");
  const config = ctx.config;
  const head = el("div", { cls: "page-head" }, [el("h2", { text: "Dashboard" }), el("a", { href: "#/dashboards", cls: "back", text: "← All dashboards" })]);
  view.append(head);
  let dash;
  let saved;
  try {
    [dash, saved] = await Promise.all([getJSON(`/api/v1/dashboards/${encodeURIComponent(id)}`), getJSON("/api/v1/insights/saved")]);
  } catch (err) {
    view.append(el("p", { cls: "message error", role: "alert", text: err.status === 404 ? `No dashboard has the id “${id}”.` : `The dashboard could not be loaded: ${err.message}` }));
    view.dataset.state = "ready";
    return;
  }
  if (ctx.signal.aborted) return;
  document.title = `${dash.name} · Headwater`;
  head.querySelector("h2").textContent = dash.name;
  const insights = new Map(saved.insights.map((i) => [i.id, i]));
  const range = { start: route.params.get("start") || "", end: route.params.get("end") || "", tz: route.params.get("tz") || "" };

  // the range of every tile: each insight's own, or one for all
  const start = input({ type: "date", value: range.start, "data-field": "start" });
  const end = input({ type: "date", value: range.end, "data-field": "end" });
  const tz = select([["", "each insight's"], ...timeZones(config.timezone)], range.tz, { "data-field": "tz" });
  const apply = (values) => {
    ctx.navigate(hashFor(`/dashboards/${encodeURIComponent(id)}`, values));
    reload(values);
  };
  const preset = (days) => () => {
    const today = todayIn(tz.value || config.timezone);
    apply({ start: addDays(today, -(days - 1)), end: today, tz: tz.value });
  };
  const rangeForm = el("form", { cls: "search board-range", "aria-label": "Range of every tile" }, [
    field("From", start, { cls: "inline" }), field("to", end, { cls: "inline" }), field("Time zone", tz, { cls: "inline" }),
    el("button", { type: "submit" }, "Apply"),
    el("span", { cls: "presets", role: "group", "aria-label": "Preset ranges" }, [
      button("Own ranges", () => apply({}), { title: "Each insight over the range it was saved with" }),
      button("7 d", preset(7)), button("30 d", preset(30)), button("90 d", preset(90)),
    ]),
  ]);
  rangeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    apply({ start: start.value, end: end.value, tz: tz.value });
  });

  const arrange = button("Arrange", () => {
    const on = arrange.getAttribute("aria-pressed") !== "true";
    arrange.setAttribute("aria-pressed", String(on));
    grid.classList.toggle("arranging", on);
    for (const t of tiles) {
      t.controls.hidden = !on;
      t.node.draggable = on; // dragging a tile onto another moves it there
    }
  }, { "aria-pressed": "false", cls: "arrange" });
  const remove = button("Delete the dashboard", async () => {
    if (!window.confirm(`Delete the dashboard “${dash.name}”? Its insights are kept.`)) return;
    await sendJSON("DELETE", `/api/v1/dashboards/${encodeURIComponent(id)}`);
    window.location.hash = "#/dashboards";
  }, { cls: "icon" });
  const layoutStatus = el("p", { cls: "status", role: "status" });
  view.append(rangeForm, el("div", { cls: "row board-tools" }, [arrange, remove, layoutStatus]));

  const grid = el("ol", { cls: "board", "aria-label": `Insights of ${dash.name}` });
  view.append(grid);
  const alerts = alertsSection(ctx, new Set(dash.tiles.map((t) => t.insight)));
  view.append(alerts.node);

  // tiles: the stored ones in reading order, each with its node
  const tiles = ordered(dash.tiles).map((t) => ({ ...t }));
  let saving = null;
  function place() {
    for (const t of tiles) {
      t.node.style.gridColumn = `${Math.min(t.x, GRID - 1) + 1} / span ${Math.min(t.w, GRID)}`;
      t.node.style.gridRow = `${t.y + 1} / span ${t.h}`;
      t.node.dataset.x = t.x;
      t.node.dataset.y = t.y;
      t.node.dataset.w = t.w;
      t.node.dataset.h = t.h;
    }
    grid.append(...tiles.map((t) => t.node)); // the reading (and tab) order follows the grid
  }
  function persist(message) {
    clearTimeout(saving);
    layoutStatus.textContent = `${message} Saving…`;
    saving = setTimeout(async () => {
      try {
        await sendJSON("PUT", `/api/v1/dashboards/${encodeURIComponent(id)}`, { tiles: tileBody(tiles) });
        layoutStatus.textContent = `${message} Layout saved.`;
        grid.dataset.saved = String(Number(grid.dataset.saved || 0) + 1);
      } catch (err) {
        layoutStatus.textContent = `The layout could not be saved: ${err.message}`;
      }
    }, 300);
  }
  function change(tile, action, message) {
    action();
    pack(tiles);
    place();
    persist(typeof message === "function" ? message() : message);
    return tile;
  }
  function move(tile, direction) {
    const i = tiles.indexOf(tile);
    const to = MOVES[direction](tiles, i);
    if (to === null) {
      layoutStatus.textContent = `“${tile.name}” cannot move ${direction}.`;
      return;
    }
    change(tile, () => {
      tiles.splice(i, 1);
      tiles.splice(to, 0, tile);
    }, `Moved “${tile.name}” ${direction}.`);
  }
  function resize(tile, dw, dh) {
    change(tile, () => {
      tile.w = Math.max(2, Math.min(GRID, tile.w + dw));
      tile.h = Math.max(2, Math.min(12, tile.h + dh));
    }, () => `“${tile.name}” is ${tile.w} of ${GRID} columns wide and ${tile.h} rows tall.`);
  }
  function drop(tile) {
    const i = tiles.indexOf(tile);
    change(tile, () => {
      tiles.splice(i, 1);
      tile.node.remove();
    }, `Removed “${tile.name}” from the dashboard.`);
    (tiles[Math.min(i, tiles.length - 1)] || { node: arrange }).node.querySelector("a, button")?.focus();
  }

  let dragged = null;
  function tileNode(tile) {
    const ins = insights.get(tile.insight);
    tile.name = ins ? ins.name : tile.insight;
    const title = el("h3", { id: `tile-${tiles.indexOf(tile)}` }, [ins ? el("a", { href: builderHash(ins.kind, ins.query, ins.id), text: ins.name, title: "Open in its builder" }) : el("span", { text: tile.insight })]);
    const label = (what) => `${what} “${tile.name}”`;
    const keep = (fn, cls) => () => {
      fn();
      tile.controls.querySelector(`.${cls}`)?.focus(); // the focus stays on the button pressed
    };
    tile.controls = el("div", { cls: "tile-controls", role: "group", "aria-label": label("Arrange"), hidden: grid.classList.contains("arranging") ? null : true }, [
      button("←", keep(() => move(tile, "left"), "mv-left"), { cls: "icon mv-left", "aria-label": label("Move left") }),
      button("→", keep(() => move(tile, "right"), "mv-right"), { cls: "icon mv-right", "aria-label": label("Move right") }),
      button("↑", keep(() => move(tile, "up"), "mv-up"), { cls: "icon mv-up", "aria-label": label("Move up") }),
      button("↓", keep(() => move(tile, "down"), "mv-down"), { cls: "icon mv-down", "aria-label": label("Move down") }),
      button("Wider", keep(() => resize(tile, 1, 0), "wider"), { cls: "icon wider", "aria-label": label("Make wider") }),
      button("Narrower", keep(() => resize(tile, -1, 0), "narrower"), { cls: "icon narrower", "aria-label": label("Make narrower") }),
      button("Taller", keep(() => resize(tile, 0, 1), "taller"), { cls: "icon taller", "aria-label": label("Make taller") }),
      button("Shorter", keep(() => resize(tile, 0, -1), "shorter"), { cls: "icon shorter", "aria-label": label("Make shorter") }),
      button("Remove", () => drop(tile), { cls: "icon", "aria-label": label("Remove from the dashboard") }),
    ]);
    title.append(tile.controls);
    const area = new ResultArea(tile.name, { heading: title, tag: "li", cls: "board-tile" });
    area.node.dataset.insight = tile.insight;
    area.node.dataset.kind = ins ? ins.kind : "";
    area.node.addEventListener("dragstart", () => {
      dragged = tile;
    });
    area.node.addEventListener("dragover", (event) => {
      if (dragged && dragged !== tile) event.preventDefault();
    });
    area.node.addEventListener("drop", (event) => {
      event.preventDefault();
      if (!dragged || dragged === tile) return;
      const moving = dragged;
      dragged = null;
      change(moving, () => {
        tiles.splice(tiles.indexOf(moving), 1);
        tiles.splice(tiles.indexOf(tile), 0, moving);
      }, `Moved “${moving.name}” before “${tile.name}”.`);
    });
    tile.node = area.node;
    tile.area = area;
    return area;
  }

  async function draw(tile, values) {
    const ins = insights.get(tile.insight);
    const area = tile.area;
    if (!ins) {
      area.message("error", "This saved insight no longer exists.");
      area.state = "error";
      return;
    }
    area.state = "loading";
    try {
      const params = Object.fromEntries(Object.entries(values).filter(([, v]) => v));
      const answer = await getJSON(`/api/v1/insights/saved/${encodeURIComponent(ins.id)}/result`, params);
      if (ctx.signal.aborted) return;
      KINDS[ins.kind].render(answer, stateOf(ins.kind, ins.query, params, config), area, { config });
      area.state = "ready";
    } catch (err) {
      if (ctx.signal.aborted) return;
      area.message("error", `Could not load: ${err.message}`);
      area.state = "error";
    }
  }

  // Every tile drawn; when each was, for the benchmark (bench/bench_dashboard.py):
  // window.headwaterBoardTiles, {insight id: ms since navigation start}.
  function drawAll(values) {
    const drawn = {};
    window.headwaterBoardTiles = drawn;
    return Promise.all(tiles.map((t) => draw(t, values).then(() => {
      drawn[t.insight] = Math.round(performance.now());
    })));
  }

  async function reload(values) {
    start.value = values.start || "";
    end.value = values.end || "";
    tz.value = values.tz || "";
    view.dataset.state = "loading";
    const since = performance.now();
    await drawAll(values);
    window.headwaterBoardRedrawMs = Math.round(performance.now() - since); // a new range: every tile redrawn
    view.dataset.state = "ready";
  }

  for (const tile of tiles) tileNode(tile);
  place();
  if (!tiles.length) grid.replaceWith(el("p", { cls: "message empty", text: "No insight on this dashboard yet: open one under Insights, press Save… and pin it here." }));
  // window.headwaterBoardLoadMs: from navigation start until every tile is drawn (the alerts aside)
  const tilesDrawn = drawAll(range).then(() => {
    window.headwaterBoardLoadMs = Math.round(performance.now());
  });
  await Promise.all([tilesDrawn, alerts.load()]);
  window.headwaterBoardMs = Math.round(performance.now() - started);
  view.dataset.state = "ready";
}
