// The distribution of a user trait or an event property over users (their latest value).

import { hbars } from "../charts.js";
import { fmtInt, fmtPct } from "../dom.js";

const KEY = "headwater.preferences";

export async function load(q, r) {
  const kind = document.getElementById("pref-kind");
  const name = document.getElementById("pref-name");
  if (!load.restored) {
    load.restored = true;
    const saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
    if (saved) [kind.value, name.value] = [saved.kind, saved.name];
  }
  const choice = { kind: kind.value, name: name.value.trim() || document.body.dataset.preferenceTrait };
  window.localStorage.setItem(KEY, JSON.stringify(choice));
  const body = await q.metric("preferences", { start: r.start, end: r.end, [choice.kind]: choice.name });
  return (panel) => {
    if (!body.rows.length) return panel.empty(`No user has a ${choice.kind} “${choice.name}” in this range.`);
    panel.setCsv(`preferences-${choice.name}`, [
      { key: "value", label: choice.name }, { key: "users", label: "users" }, { key: "share", label: "share" },
    ], body.rows);
    panel.show(hbars(body.rows.map((row) => ({
      label: String(row.value), value: row.users, share: row.share, text: `${fmtInt(row.users)} · ${fmtPct(row.share)}`,
    }))));
  };
}
