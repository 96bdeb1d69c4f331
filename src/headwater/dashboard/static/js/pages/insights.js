// The insight builder pages, "#/insights/<kind>?<the query's fields>": a form (left), the answer as
// a chart and a table (right). The query is in the address, so a reload or a pasted link draws the
// same view; an API error (a 400 naming the field) is shown next to the form and marks the field.

import { el } from "../dom.js";
import { FormErrors, button } from "../form.js";
import { KINDS } from "../insights/kinds.js";
import { ResultArea } from "../result.js";
import { hashFor } from "../router.js";
import { saveButton } from "../saved.js";
import { cohortList, suggestions } from "../suggest.js";

const TABS = [["trend", "Trends"], ["funnel", "Funnels"], ["retention", "Retention"], ["paths", "Paths"], ["web", "Web analytics"]];

function tabs(current, range) {
  return el("nav", { cls: "subnav", "aria-label": "Insight types" }, TABS.map(([kind, label]) => {
    const link = el("a", { href: hashFor(`/insights/${kind}`, range), text: label, "data-kind": kind });
    if (kind === current) link.setAttribute("aria-current", "page");
    return link;
  }));
}

export async function show(view, route, ctx) {
  const kind = KINDS[route.parts[1]] ? route.parts[1] : "trend";
  const module = KINDS[kind];
  if (route.parts[1] !== kind) ctx.navigate(hashFor(`/insights/${kind}`), { replace: true });
  const [cohorts] = await Promise.all([cohortList(), Promise.race([suggestions(ctx.config), new Promise((r) => setTimeout(r, 1500))])]);
  const state = module.fromParams(route.params, ctx.config);
  const env = { config: ctx.config, cohorts, signal: ctx.signal };

  const result = new ResultArea(module.TITLE);
  const form = el("form", { cls: "builder", novalidate: true, "aria-label": `${module.TITLE} query`, "data-kind": kind });
  const errors = new FormErrors(form);
  const editor = module.form(state, env);
  const run = el("button", { type: "submit", cls: "run" }, "Run");
  const actions = el("div", { cls: "actions" }, [run]);
  form.append(editor.node, errors.box, actions);

  let generation = 0;
  async function execute(current) {
    const mine = ++generation;
    errors.clear();
    result.state = "loading";
    result.status.textContent = "Computing…";
    try {
      if (module.preview) {
        // a quick first answer (web analytics: the summary alone), drawn while the whole is counted
        const first = await module.preview(current, env);
        if (mine !== generation || ctx.signal.aborted) return;
        module.render(first, current, result, env);
        result.state = "partial"; // drawn at full strength: final numbers, the rest still coming
        result.node.setAttribute("aria-busy", "true");
      }
      const answer = await module.run(current, env);
      if (mine !== generation || ctx.signal.aborted) return;
      module.render(answer, current, result, env);
      result.state = "ready";
    } catch (err) {
      if (mine !== generation || ctx.signal.aborted) return;
      errors.show(err);
      result.message("error", `No result: the query was refused (${err.message}).`);
      result.state = "error";
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const current = editor.read();
    ctx.navigate(address(current));
    for (const link of view.querySelectorAll(".subnav a")) {
      link.href = hashFor(`/insights/${link.dataset.kind}`, { start: current.start, end: current.end, tz: current.tz }); // the other kinds keep the range
    }
    execute(current);
  });

  const range = { start: state.start, end: state.end, tz: state.tz };
  // Save what the form holds now (the saved insight's id stays in the address: saving again replaces it)
  let savedId = route.params.get("saved");
  const save = saveButton(ctx, () => {
    const current = editor.read();
    return { kind, query: module.query(current), name: module.describe(current), saved: savedId, onSaved: (s) => { savedId = s.id; } };
  }, module.TITLE);
  actions.append(save);
  const address = (current) => hashFor(`/insights/${kind}`, { ...module.toParams(current), saved: savedId });
  view.append(
    el("div", { cls: "page-head" }, [el("h2", { text: "Insights" }), tabs(kind, range)]),
    el("div", { cls: "builder-layout" }, [form, result.node]),
  );
  view.dataset.kind = kind;
  // the address holds every field, defaults included: the link reproduces this view
  ctx.navigate(address(state), { replace: true });
  const missing = module.incomplete ? module.incomplete(state) : null;
  if (missing) {
    result.message("empty", missing);
    result.state = "ready";
  } else {
    await execute(state);
  }
  view.dataset.state = "ready";
}
