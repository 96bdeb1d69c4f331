// Headline numbers, each with its change against the previous period of the same length.
// DAU, WAU, MAU, DAU/MAU and the median session are the values on the range's last day (against the
// previous period's last day); new users and sessions are totals over the range.

import { el, fmtDuration, fmtInt, fmtPct } from "../dom.js";

const byDate = (rows) => new Map(rows.map((row) => [row.date, row]));

function sum(rows, key, first, last) {
  return rows.filter((r) => r.date >= first && r.date <= last).reduce((total, r) => total + (r[key] || 0), 0);
}

// compare: false when the previous period has no data at all (the panel's note says so once)
function tile(t, compare) {
  let change = compare ? "none before" : "";
  let cls = "change flat";
  if (compare && t.value !== null && t.value !== undefined && t.prev) {
    const ratio = (t.value - t.prev) / t.prev;
    change = `${ratio > 0 ? "▲" : ratio < 0 ? "▼" : "="} ${fmtPct(Math.abs(ratio))}`;
    cls = "change " + (ratio > 0 ? "up" : ratio < 0 ? "down" : "flat");
  }
  return el("div", { cls: "tile", "data-metric": t.key, "data-value": t.value ?? "", "data-prev": t.prev ?? "" }, [
    el("span", { cls: "tile-label", text: t.label }),
    el("span", { cls: "tile-value", text: t.fmt(t.value) }),
    change ? el("span", { cls, text: change, title: `previous period: ${t.fmt(t.prev)}` }) : null,
    el("span", { cls: "tile-sub", text: t.sub }),
  ]);
}

export async function load(q, r) {
  const [stick, stickPrev, wau, sessions, life] = await Promise.all([
    q.metric("stickiness", { start: r.start, end: r.end }),
    q.metric("stickiness", { start: r.prevEnd, end: r.prevEnd }),
    q.metric("wau", { start: r.prevEnd, end: r.end }),
    q.metric("sessions", { start: r.prevStart, end: r.end }),
    q.metric("lifecycle", { start: r.prevStart, end: r.end }),
  ]);
  const s = byDate(stick.rows).get(r.end) || {};
  const sp = byDate(stickPrev.rows).get(r.prevEnd) || {};
  const w = byDate(wau.rows);
  const ss = byDate(sessions.rows);
  const onEnd = `on ${r.end}`;
  const total = `${r.start} – ${r.end}`;
  const tiles = [
    { key: "dau", label: "DAU", value: s.dau, prev: sp.dau, fmt: fmtInt, sub: onEnd },
    { key: "wau", label: "WAU", value: w.get(r.end)?.value, prev: w.get(r.prevEnd)?.value, fmt: fmtInt, sub: onEnd },
    { key: "mau", label: "MAU", value: s.mau, prev: sp.mau, fmt: fmtInt, sub: onEnd },
    { key: "dau_mau", label: "DAU / MAU", value: s.value, prev: sp.value, fmt: fmtPct, sub: onEnd },
    {
      key: "new_users", label: "New users", fmt: fmtInt, sub: total,
      value: sum(life.rows, "new", r.start, r.end), prev: sum(life.rows, "new", r.prevStart, r.prevEnd),
    },
    {
      key: "sessions", label: "Sessions", fmt: fmtInt, sub: total,
      value: sum(sessions.rows, "sessions", r.start, r.end), prev: sum(sessions.rows, "sessions", r.prevStart, r.prevEnd),
    },
    {
      key: "median_session", label: "Median session", fmt: fmtDuration, sub: onEnd,
      value: ss.get(r.end)?.median_seconds, prev: ss.get(r.prevEnd)?.median_seconds,
    },
  ];
  return (panel) => {
    const compare = tiles.some((t) => t.prev);
    panel.note(compare ? `change against ${r.prevStart} – ${r.prevEnd}` : `no data in ${r.prevStart} – ${r.prevEnd} to compare with`);
    panel.setCsv("headline", [
      { key: "key", label: "metric" }, { key: "value", label: "value" }, { key: "prev", label: "previous" }, { key: "sub", label: "period" },
    ], tiles);
    panel.show(tiles.map((t) => tile(t, compare)));
  };
}
