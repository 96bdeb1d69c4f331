// The dashboard: one page, its views chosen by the address's hash (router.js). "#/" (or the
// overview's own "#start=..&end=..&tz=..") is the overview of panels; "#/insights/<kind>",
// "#/people", "#/people/<id>", "#/live" and "#/dashboards" are pages drawn into <main id="page">.

import { el } from "./dom.js";
import * as dashboards from "./pages/dashboards.js";
import * as insights from "./pages/insights.js";
import * as live from "./pages/live.js";
import * as overview from "./pages/overview.js";
import * as people from "./pages/people.js";
import { parse } from "./router.js";

const started = performance.now();
const PAGES = { insights, people, live, dashboards };
const TITLES = { insights: "Insights", people: "People", live: "Live events", dashboards: "Dashboards" };
const $ = (id) => document.getElementById(id);

const config = (() => {
  const data = document.body.dataset;
  const apis = Object.fromEntries((data.apis || "").split(" ").filter(Boolean).map((n) => [n, true]));
  return { timezone: data.timezone || "UTC", today: data.today, apis };
})();

let rendered = null; // the hash the shown view was drawn for
let controller = null; // aborted when the view changes: its timers and requests stop
let first = true;

// A page changes the address for its new state: a new history entry (Back returns to the previous
// state), or the same one replaced; either way the view is not drawn again for it.
function navigate(hash, { replace = false } = {}) {
  if (hash === window.location.hash) return;
  rendered = hash;
  if (replace) window.history.replaceState(null, "", hash);
  else window.history.pushState(null, "", hash);
}

function markNav(section) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function ready() {
  if (!document.body.dataset.ready) document.body.dataset.ready = "true";
}

async function route() {
  const hash = window.location.hash;
  const where = parse(hash);
  const section = where.overview ? "overview" : where.parts[0];
  const wasFirst = first;
  first = false;
  if (hash === rendered && !where.overview) return;
  rendered = hash;
  if (controller) controller.abort();
  controller = new AbortController();
  markNav(section);
  document.body.dataset.route = section;
  $("range").hidden = !where.overview;
  if (where.overview) {
    $("page").hidden = true;
    $("overview").hidden = false;
    document.title = "Headwater dashboard";
    await overview.show(started);
    return;
  }
  $("overview").hidden = true;
  const view = $("page");
  view.hidden = false;
  view.replaceChildren();
  view.dataset.state = "loading";
  const page = PAGES[section];
  document.title = `${TITLES[section] || "Not found"} · Headwater`;
  if (!page) {
    view.append(el("h2", { text: "Page not found", tabindex: "-1" }), el("p", { cls: "message", text: "No page has this address." }), el("p", {}, el("a", { href: "#/", text: "Back to the overview" })));
    view.dataset.state = "ready";
    ready();
    return;
  }
  const ctx = { config, signal: controller.signal, navigate, route: where };
  try {
    await page.show(view, where, ctx);
  } catch (err) {
    if (!ctx.signal.aborted) {
      view.append(el("p", { cls: "message error", role: "alert", text: `This page could not be drawn: ${err.message}` }));
      view.dataset.state = "error";
    }
  }
  // Moving between pages puts the focus on the new page's heading (a screen reader says where it is).
  if (!wasFirst && !ctx.signal.aborted) {
    const heading = view.querySelector("h2");
    if (heading && !view.contains(document.activeElement)) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
  ready();
}

// The skip link moves the focus to the shown view without touching the address (the hash is the state).
$("skip").addEventListener("click", (event) => {
  event.preventDefault();
  const target = $("content");
  target.focus();
  target.scrollIntoView();
});
window.addEventListener("hashchange", route);
window.addEventListener("popstate", route);
route();
