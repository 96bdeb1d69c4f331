// Experiments and their results: per metric and variation, users and mean, and against the
// control the relative lift with its confidence interval, p-value and chance to win.

import { getJSON } from "../api.js";
import { el, fmtInt, fmtNum, fmtPct } from "../dom.js";
import { table } from "../table.js";

const MAX_RESULTS = 10;

function rowsOf(exp, results) {
  if (!results) return [{ experiment: exp.key, status: exp.status, metric: "—", variation: "—", note: "no results yet" }];
  if (results.error) return [{ experiment: exp.key, status: exp.status, metric: "—", variation: "—", note: results.error }];
  const rows = [];
  for (const m of results.metrics || []) {
    const byVariation = new Map((m.comparisons || []).map((c) => [c.variation, c]));
    for (const v of m.variants || []) {
      const c = byVariation.get(v.variation);
      const freq = c && c.frequentist ? c.frequentist[0] : null;
      const bayes = c && c.bayesian ? c.bayesian[0] : null;
      rows.push({
        experiment: exp.key, status: exp.status, metric: m.key, variation: v.variation, users: v.users, mean: v.mean,
        lift: freq && !freq.error ? freq.expected : null,
        ci_low: freq && !freq.error ? freq.ci[0] : null,
        ci_high: freq && !freq.error ? freq.ci[1] : null,
        p_value: freq && !freq.error ? freq.p_value : null,
        chance_to_win: bayes && !bayes.error ? bayes.chance_to_win : null,
        note: c ? c.error || "" : "control",
      });
    }
  }
  if (results.srm && results.srm.warning) rows.push({ experiment: exp.key, status: exp.status, metric: "SRM", variation: "—", note: results.srm.warning });
  return rows.length ? rows : [{ experiment: exp.key, status: exp.status, metric: "—", variation: "—", note: "no metrics defined" }];
}

// What GET /api/v1/experiments/{key}/results answers, cached by the server for the dashboard
// (computed ahead for running experiments, docs/dashboard.md).
async function resultsOf(exp) {
  try {
    return await getJSON(`/dashboard/data/experiments/${encodeURIComponent(exp.key)}/results`);
  } catch (err) {
    return { error: err.message };
  }
}

export async function load(config) {
  if (!config.apis.experiments) {
    return (panel) => panel.unavailable("Experiment results are not available yet: this server has no /api/v1/experiments API.");
  }
  const list = (await getJSON("/api/v1/experiments")).experiments || [];
  const shown = list.filter((e) => e.status !== "draft").slice(0, MAX_RESULTS);
  const results = await Promise.all(shown.map(resultsOf));
  const rows = [];
  for (const exp of list) {
    const i = shown.indexOf(exp);
    rows.push(...rowsOf(exp, i >= 0 ? results[i] : null));
  }
  return (panel) => {
    if (!list.length) return panel.empty("No experiments defined yet.");
    const pct = (v) => (v === null || v === undefined ? "—" : fmtPct(v));
    const signed = (v) => (v === null || v === undefined ? "—" : (v > 0 ? "+" : "") + fmtPct(v));
    const pValue = (v) => (v === null || v === undefined ? "—" : v < 0.001 ? "< 0.001" : v.toFixed(3));
    const columns = [
      { key: "experiment", label: "experiment" },
      { key: "status", label: "status" },
      { key: "metric", label: "metric" },
      { key: "variation", label: "variation" },
      { key: "users", label: "users", num: true, format: fmtInt },
      { key: "mean", label: "mean", num: true, format: (v) => fmtNum(v) },
      { key: "lift", label: "lift", num: true, format: signed },
      { key: "ci_low", label: "ci_low", num: true, format: pct },
      { key: "ci_high", label: "ci_high", num: true, format: pct },
      { key: "p_value", label: "p_value", head: "p-value", num: true, format: pValue },
      { key: "chance_to_win", label: "chance_to_win", num: true, format: pct },
      { key: "note", label: "note", wrap: true },
    ];
    // on screen the interval is one column, "[low, high]"; the CSV keeps both bounds
    const ci = { key: "ci", label: "ci", head: "95 % CI", num: true, format: (_, row) => (row.ci_low === null || row.ci_low === undefined ? "—" : `[${signed(row.ci_low)}, ${signed(row.ci_high)}]`) };
    const shown = columns.filter((c) => c.key !== "ci_low" && c.key !== "ci_high");
    shown.splice(shown.findIndex((c) => c.key === "p_value"), 0, ci);
    panel.setCsv("experiments", columns, rows);
    panel.show([table(shown, rows), el("p", { cls: "hint", text: "Lift is relative to the control; CI and p-value are frequentist, chance to win Bayesian." })]);
  };
}
