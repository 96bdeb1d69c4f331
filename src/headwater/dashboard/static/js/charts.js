// Charts drawn as inline SVG: a line chart, bar charts (plain and stacked, with negatives),
// horizontal bars and sparklines. Colours come from CSS classes (dashboard.css).

import { el, fmtNum } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const DEFAULT_W = 760;
const H = 220;
const PAD = { left: 48, right: 12, top: 10, bottom: 24 };

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function title(text) {
  return svg("title", { text });
}

// A "nice" upper bound and tick step for an axis from 0 (or below) to max. Counts (integer: true,
// the default) tick on whole numbers only: 1 user, never 0.25 or 0.5 of one.
export function niceScale(max, ticks = 4, integer = true) {
  if (!(max > 0)) return integer ? { max: 1, step: 1 } : { max: 1, step: 0.25 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const candidates = [1, 2, 2.5, 5, 10].map((m) => m * power).filter((s) => !integer || Number.isInteger(s));
  const step = Math.max(integer ? 1 : 0, candidates.find((s) => s >= raw) ?? 10 * power);
  return { max: step * Math.ceil(max / step), step };
}

function frame(width, height = H) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
}

function yAxis(root, min, max, step, y, width, signed = false) {
  for (let i = 0, v = min; v <= max + step / 2; i += 1, v = min + i * step) {
    const yy = y(v);
    const shown = Math.abs(v) < step / 1e6 ? 0 : v; // no "-0" nor 1e-17 from adding steps
    root.append(svg("line", { x1: PAD.left, x2: width - PAD.right, y1: yy, y2: yy, class: shown === 0 ? "axis" : "grid" }));
    root.append(svg("text", { x: PAD.left - 6, y: yy + 4, class: "tick", "text-anchor": "end", text: fmtNum(signed ? shown : Math.abs(shown)) }));
  }
}

function xLabels(root, labels, x, height, width) {
  const every = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(width / 70))));
  labels.forEach((label, i) => {
    const last = i === labels.length - 1;
    if (i % every !== 0 && !(last && i % every > every / 2)) return;
    const anchor = last && labels.length > 1 && x(i) > width - PAD.right - 20 ? "end" : "middle";
    root.append(svg("text", { x: anchor === "end" ? width - 2 : x(i), y: height - 6, class: "tick", "text-anchor": anchor, text: label.length === 10 ? label.slice(5) : label }));
  });
}

const COLORS = 10; // s0 .. s9 in dashboard.css

function colour(s, k) {
  return "s" + ((s.color ?? k) % COLORS) + (s.dashed ? " dashed" : "");
}

// Dashed lines (a previous period) share their line's colour: one entry says what dashes mean.
function legend(series) {
  const items = series.map((s, i) => (s.dashed ? null : el("li", { cls: colour(s, i) }, s.name))).filter(Boolean);
  if (series.some((s) => s.dashed)) items.push(el("li", { cls: "dashed" }, "dashed: the previous period"));
  return el("ul", { cls: "legend" }, items);
}

// series: [{name, values: [number|null], color?, dashed?, labels?}], labels: ["YYYY-MM-DD", ...];
// integer: false for an axis of fractions (averages, ratios).
export function lineChart(labels, series, W = DEFAULT_W, integer = true) {
  const root = frame(W);
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const min = Math.min(0, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const scale = niceScale(Math.max(max, -min), 4, integer);
  const top = max > 0 ? scale.step * Math.ceil(max / scale.step) : min < 0 ? 0 : scale.max;
  const bottom = min < 0 ? scale.step * Math.ceil(-min / scale.step) : 0;
  const span = Math.max(1, labels.length - 1);
  const x = (i) => PAD.left + ((W - PAD.left - PAD.right) * i) / span;
  const y = (v) => PAD.top + ((H - PAD.top - PAD.bottom) * (top - v)) / (top + bottom);
  yAxis(root, -bottom, top, scale.step, y, W, true);
  xLabels(root, labels, x, H, W);
  series.forEach((s, k) => {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += (d && s.values[i - 1] !== null ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1);
    });
    root.append(svg("path", { d, class: "line " + colour(s, k) }));
    s.values.forEach((v, i) => {
      if (v === null) return;
      const label = s.labels ? s.labels[i] : labels[i];
      root.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: "dot " + colour(s, k) }, [title(`${label} ${s.name}: ${fmtNum(v)}`)]));
    });
  });
  return el("div", { cls: "chart-wrap" }, [root, legend(series)]);
}

// Stacked bars: series values >= 0 stack up, series with negative: true stack down.
export function stackedBars(labels, series, W = DEFAULT_W) {
  const root = frame(W);
  const up = labels.map((_, i) => series.filter((s) => !s.negative).reduce((a, s) => a + (s.values[i] || 0), 0));
  const down = labels.map((_, i) => series.filter((s) => s.negative).reduce((a, s) => a + (s.values[i] || 0), 0));
  const top = niceScale(Math.max(0, ...up));
  const bottom = Math.max(0, ...down) > 0 ? top.step * Math.ceil(Math.max(...down) / top.step) : 0;
  const range = top.max + bottom;
  const y = (v) => PAD.top + ((H - PAD.top - PAD.bottom) * (top.max - v)) / range;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, labels.length);
  const x = (i) => PAD.left + slot * (i + 0.5);
  yAxis(root, -bottom, top.max, top.step, y, W);
  xLabels(root, labels, x, H, W);
  labels.forEach((label, i) => {
    let above = 0;
    let below = 0;
    series.forEach((s, k) => {
      const v = s.values[i] || 0;
      if (!v) return;
      const from = s.negative ? -below : above;
      const to = s.negative ? -(below + v) : above + v;
      if (s.negative) below += v;
      else above += v;
      root.append(
        svg("rect", {
          x: x(i) - slot * 0.38, width: slot * 0.76, y: Math.min(y(from), y(to)), height: Math.abs(y(from) - y(to)),
          class: "bar s" + (s.color ?? k),
        }, [title(`${label} ${s.name}: ${fmtNum(v)}`)]),
      );
    });
  });
  return el("div", { cls: "chart-wrap" }, [root, legend(series)]);
}

export function barChart(labels, values, name, xTitle, W = DEFAULT_W) {
  const chart = stackedBars(labels.map(String), [{ name, values }], W);
  if (xTitle) chart.append(el("p", { cls: "axis-title", text: xTitle }));
  return chart;
}

// rows: [{label, value, share (0..1), text}] -> horizontal bars as HTML (width set through CSSOM).
export function hbars(rows) {
  const max = Math.max(0, ...rows.map((r) => r.share ?? 0));
  return el("div", { cls: "hbars" }, rows.map((r) => {
    const fill = el("span", { cls: "fill" });
    fill.style.width = max > 0 ? ((100 * (r.share ?? 0)) / max).toFixed(1) + "%" : "0";
    return el("div", { cls: "hbar" }, [
      el("span", { cls: "label", text: r.label, title: r.label }),
      el("span", { cls: "track" }, [fill]),
      el("span", { cls: "value", text: r.text, "data-value": r.value }),
    ]);
  }));
}

export function sparkline(values, width = 96, height = 22) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", width, height });
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((height - 4) * v) / max).toFixed(1)}`);
  root.append(svg("polyline", { points: points.join(" "), class: "spark-line" }));
  return root;
}

// A colour for a share 0..1 (heat maps), through CSSOM so the page needs no inline style.
export function heat(node, ratio) {
  const r = Math.max(0, Math.min(1, ratio || 0));
  node.style.backgroundColor = `hsl(205 75% ${(97 - r * 52).toFixed(0)}%)`;
  if (r > 0.55) node.classList.add("dark");
}
