// The overview (route "#/", state "#start=..&end=..&tz=.."): pickers, the range panels (loaded
// together, in parallel, and re-loaded when the range changes), and the live and data-health panels
// (refreshed every few seconds while the overview is shown). Started the first time it is shown.

import { metric } from "../api.js";
import { parse } from "../router.js";
import { addDays, daysBetween, el, todayIn } from "../dom.js";
import { Panel } from "../panel.js";
import * as activity from "../panels/activity.js";
import * as experiments from "../panels/experiments.js";
import * as features from "../panels/features.js";
import * as funnel from "../panels/funnel.js";
import * as headline from "../panels/headline.js";
import * as health from "../panels/health.js";
import * as lifecycle from "../panels/lifecycle.js";
import * as live from "../panels/live.js";
import * as optional from "../panels/optional.js";
import * as preferences from "../panels/preferences.js";
import * as retention from "../panels/retention.js";
import * as setup from "../panels/setup.js";
import * as stickiness from "../panels/stickiness.js";

const REFRESH_MS = 5000;
const DEFAULT_DAYS = 30;
const RANGE_PANELS = { headline, activity, features, preferences, stickiness, retention, funnel, lifecycle };

const $ = (id) => document.getElementById(id);
const state = { config: null, start: "", end: "", tz: "UTC", generation: 0, loads: 0, rangeLoad: Promise.resolve(), waiting: false };
const panels = {};

// Metric requests of one load, shared between panels (the headline and the charts ask the same).
class Queries {
  constructor(range) {
    this.range = range;
    this.cache = new Map();
  }

  metric(name, params) {
    const all = { tz: this.range.tz, ...params };
    const key = name + JSON.stringify(all);
    if (!this.cache.has(key)) this.cache.set(key, metric(name, all));
    return this.cache.get(key);
  }
}

function currentRange() {
  const days = daysBetween(state.start, state.end) + 1;
  return {
    start: state.start,
    end: state.end,
    tz: state.tz,
    days,
    prevStart: addDays(state.start, -days),
    prevEnd: addDays(state.start, -1),
  };
}

async function loadPanel(name, queries, generation) {
  const panel = panels[name];
  panel.loading();
  try {
    const render = await RANGE_PANELS[name].load(queries, queries.range, panel);
    if (generation === state.generation) render(panel);
  } catch (err) {
    if (generation === state.generation) panel.error(err);
  }
}

async function loadRange(only = null) {
  const generation = only ? state.generation : ++state.generation;
  const queries = new Queries(currentRange());
  const names = only ? [only] : Object.keys(RANGE_PANELS);
  const load = Promise.all(names.map((name) => loadPanel(name, queries, generation)));
  state.rangeLoad = load;
  await load;
  if (!only && generation === state.generation) document.body.dataset.loads = String(++state.loads);
}

const refreshers = {};

// The live and data-health panels reload every few seconds (data health also when the range
// changes: its late events follow the range).
function refreshLoop(panel, module, fetched = null) {
  let ticks = 0;
  const tick = async () => {
    if (!visible()) return; // another page is shown: no request until the overview is back
    try {
      const render = await (fetched || module.load(state.config, currentRange()));
      fetched = null;
      render(panel);
      panel.root.dataset.ticks = String(++ticks);
      if (panel.id === "live" && state.waiting) firstEvent();
    } catch (err) {
      panel.error(err);
    }
  };
  // A refresh waits for a range load in flight: the live API answers within ~100 ms or not at
  // all (docs/live.md), so it is not asked while the server computes a new range's metrics.
  const next = () => setTimeout(() => state.rangeLoad.then(tick).then(next), REFRESH_MS);
  refreshers[panel.id] = tick;
  return tick().then(next);
}

// First run (a project without events): the setup panel instead of the range panels, until the
// live panel counts an event today; then the range panels appear and load.
function showSetup(waiting) {
  state.waiting = waiting;
  if (waiting) $("setup").hidden = false;
  for (const name of Object.keys(RANGE_PANELS)) panels[name].root.hidden = waiting;
}

function firstEvent() {
  const tile = panels.live.root.querySelector('.tile[data-metric="events_today"]');
  const events = Number(tile ? tile.dataset.value : 0);
  if (!(events > 0)) return;
  state.waiting = false;
  setup.arrived(panels.setup, events);
  for (const name of Object.keys(RANGE_PANELS)) panels[name].root.hidden = false;
  loadRange();
}

async function once(panel, load) {
  try {
    (await load())(panel);
  } catch (err) {
    panel.error(err);
  }
}

function readHash() {
  const { params } = parse();
  return { start: params.get("start"), end: params.get("end"), tz: params.get("tz") };
}

function writeHash() {
  if (!visible()) return; // another page owns the address now
  const params = new URLSearchParams({ start: state.start, end: state.end, tz: state.tz });
  window.history.replaceState(null, "", "#" + params.toString());
}

function fillTimeZones(select, wanted) {
  const zones = new Set(typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : []);
  zones.add("UTC");
  zones.add(state.config.timezone);
  for (const zone of [...zones].sort()) select.append(el("option", { value: zone, text: zone }));
  select.value = wanted;
}

// Presets end today ("Today" is today alone): a new project sees its first events at once.
function setPreset(days) {
  state.end = todayIn(state.tz);
  state.start = addDays(state.end, -(days - 1));
  $("start").value = state.start;
  $("end").value = state.end;
}

function applyForm() {
  const start = $("start").value;
  const end = $("end").value;
  if (!start || !end || start > end) {
    $("end").setCustomValidity("The end date must be on or after the start date.");
    $("end").reportValidity();
    return;
  }
  $("end").setCustomValidity("");
  Object.assign(state, { start, end, tz: $("tz").value });
  writeHash();
  loadRange();
  if (refreshers.health) state.rangeLoad.then(refreshers.health); // its late events follow the range
}

function wireControls() {
  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    applyForm();
  });
  $("tz").addEventListener("change", applyForm);
  for (const button of document.querySelectorAll(".presets button")) {
    button.addEventListener("click", () => {
      state.tz = $("tz").value;
      setPreset(Number(button.dataset.days));
      applyForm();
    });
  }
  for (const [form, name] of [["preferences-form", "preferences"], ["funnel-form", "funnel"]]) {
    $(form).addEventListener("submit", (event) => {
      event.preventDefault();
      loadRange(name);
    });
  }
}

const visible = () => !$("overview").hidden;

async function main(started) {
  // The page carries the config (GET /api/v1/dashboard/config answers the same), saving a round trip.
  const data = document.body.dataset;
  state.config = { timezone: data.timezone, today: data.today, apis: Object.fromEntries(data.apis.split(" ").filter(Boolean).map((n) => [n, true])) };
  const wanted = readHash();
  state.tz = wanted.tz || state.config.timezone;
  fillTimeZones($("tz"), state.tz);
  state.tz = $("tz").value || state.config.timezone;
  if (wanted.start && wanted.end && wanted.start <= wanted.end) {
    state.start = wanted.start;
    state.end = wanted.end;
    $("start").value = state.start;
    $("end").value = state.end;
  } else {
    setPreset(DEFAULT_DAYS);
  }
  writeHash();
  for (const name of [...Object.keys(RANGE_PANELS), "live", "health", "experiments", "audiences"]) {
    panels[name] = new Panel(name, currentRange);
  }
  wireControls();
  if (data.events === "0") panels.setup = new Panel("setup", currentRange);
  else $("setup").remove(); // a project with events: no setup panel
  showSetup(data.events === "0");
  // The live panel first: its API answers within ~100 ms or not at all (docs/live.md), so it is
  // asked before anything else can keep the server busy (~50 ms). Then every other panel's
  // requests leave at once: the server computes the default view's metrics and experiment results
  // ahead of time (docs/dashboard.md). Each panel's time is kept for the benchmark's breakdown.
  const timings = { script_start: Math.round(started) };
  const timed = (name, promise) => promise.then(() => { timings[name] = Math.round(performance.now()); });
  const first = live.load(state.config).then((render) => render, (err) => (panel) => panel.error(err));
  await timed("live_fetched", first);
  // The range panels first: their metric requests are sent as one batch at the end of this turn
  // (api.js), before the live panel is drawn.
  await Promise.all([
    timed("range_panels", state.waiting ? once(panels.setup, setup.load) : loadRange()),
    timed("live", refreshLoop(panels.live, live, first)),
    timed("health", refreshLoop(panels.health, health)),
    timed("experiments", once(panels.experiments, () => experiments.load(state.config))),
    timed("audiences", once(panels.audiences, () => optional.load("audiences", state.config))),
  ]);
  window.headwaterFirstLoadMs = Math.round(performance.now());
  window.headwaterScriptMs = Math.round(performance.now() - started);
  window.headwaterTimings = timings;
  document.body.dataset.ready = "true";
}

let running = null;

// Show the overview: the first time, start it (its hash, or the default range); later, put its
// range back in the address (another page had it) or apply the range a link or Back brought.
export function show(started = performance.now()) {
  if (!running) {
    running = main(started).catch((err) => {
      document.body.dataset.ready = "error";
      $("overview").prepend(el("p", { cls: "message error", text: `The dashboard could not start: ${err.message}` }));
    });
    return running;
  }
  const wanted = readHash();
  if (wanted.start && wanted.end && wanted.start <= wanted.end && (wanted.start !== state.start || wanted.end !== state.end || (wanted.tz && wanted.tz !== state.tz))) {
    $("start").value = wanted.start;
    $("end").value = wanted.end;
    if (wanted.tz) $("tz").value = wanted.tz;
    state.rangeLoad.then(applyForm);
  } else {
    state.rangeLoad.then(writeHash);
  }
  for (const tick of Object.values(refreshers)) tick(); // at once, not at the next turn of the loop
  return running;
}
