// First run: a project without any event shows its write key, snippets that send one event to
// this server (curl, analytics.js, the Python and Node SDKs), and "waiting for the first event",
// which turns live when the live panel (refreshed every few seconds) counts one.

import { getJSON } from "../api.js";
import { clear, el, fmtInt } from "../dom.js";

const PLACEHOLDER = "YOUR_WRITE_KEY";
const EVENT = { event: "Report Exported", tool: "reports", user: "user-1" };

export function snippets(origin, key) {
  const url = new URL(origin);
  const body = JSON.stringify({ userId: EVENT.user, event: EVENT.event, properties: { tool_id: EVENT.tool } });
  return [
    {
      id: "curl",
      label: "curl",
      text: `curl -u '${key}:' -H 'Content-Type: application/json' \\\n  ${origin}/v1/track -d '${body}'`,
    },
    {
      id: "analytics-js",
      label: "analytics.js",
      text: [
        "// npm install @segment/analytics-next",
        'import { AnalyticsBrowser } from "@segment/analytics-next";',
        "",
        "export const analytics = AnalyticsBrowser.load(",
        `  { writeKey: "${key}", cdnURL: "${origin}" },`,
        `  { integrations: { "Segment.io": { apiHost: "${url.host}/v1", protocol: "${url.protocol.replace(":", "")}" } } },`,
        ");",
        `analytics.identify("${EVENT.user}");`,
        `analytics.track("${EVENT.event}", { tool_id: "${EVENT.tool}" });`,
      ].join("\n"),
    },
    {
      id: "python",
      label: "Python",
      text: [
        "# pip install segment-analytics-python",
        "import segment.analytics as analytics",
        "",
        `analytics.write_key = "${key}"`,
        `analytics.host = "${origin}"`,
        `analytics.track("${EVENT.user}", "${EVENT.event}", {"tool_id": "${EVENT.tool}"})`,
        "analytics.flush()",
      ].join("\n"),
    },
    {
      id: "node",
      label: "Node",
      text: [
        "// npm install @segment/analytics-node",
        'import { Analytics } from "@segment/analytics-node";',
        "",
        `const analytics = new Analytics({ writeKey: "${key}", host: "${origin}" });`,
        `analytics.track({ userId: "${EVENT.user}", event: "${EVENT.event}", properties: { tool_id: "${EVENT.tool}" } });`,
        "await analytics.closeAndFlush();",
      ].join("\n"),
    },
  ];
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy"; // no clipboard outside a secure context
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
}

function keyNote(keys) {
  if (keys === null) return el("p", { cls: "hint", text: `Only an owner or admin sees the write keys here: ask one, or run \`headwater keys list\`, and put it in place of ${PLACEHOLDER}.` });
  if (!keys.length) return el("p", { cls: "hint", text: `No active write key: make one with \`headwater keys create my-app\` and put it in place of ${PLACEHOLDER}.` });
  return null;
}

function codeBlocks(origin, key) {
  const tabs = el("div", { cls: "tabs", role: "tablist", "aria-label": "Snippet" });
  const blocks = el("div", { cls: "snippets" });
  snippets(origin, key).forEach((s, i) => {
    const tab = el("button", { type: "button", role: "tab", id: `tab-${s.id}`, "aria-controls": `snippet-${s.id}`, "aria-selected": i === 0 ? "true" : "false", text: s.label });
    const code = el("code", { text: s.text });
    const button = el("button", { type: "button", cls: "copy", text: "Copy", onclick: () => copy(s.text, button) });
    const block = el("div", { cls: "snippet", id: `snippet-${s.id}`, role: "tabpanel", "aria-labelledby": `tab-${s.id}`, "data-snippet": s.id, hidden: i !== 0 }, [button, el("pre", {}, [code])]);
    tab.addEventListener("click", () => {
      for (const t of tabs.children) t.setAttribute("aria-selected", String(t === tab));
      for (const b of blocks.children) b.hidden = b !== block;
    });
    tabs.append(tab);
    blocks.append(block);
  });
  return [tabs, blocks];
}

// The setup view; resolves the keys from GET /api/v1/dashboard/config (only owners and admins get them).
export async function load() {
  const config = await getJSON("/api/v1/dashboard/config");
  const keys = config.write_keys;
  return (panel) => {
    const origin = window.location.origin;
    const status = el("p", { cls: "waiting", role: "status", "aria-live": "polite" }, [el("span", { cls: "dot" }), "Waiting for the first event…"]);
    const area = el("div", { cls: "snippet-area" });
    const draw = (key) => clear(area).append(...codeBlocks(origin, key));
    const parts = [status];
    if (keys && keys.length) {
      const select = el("select", { id: "setup-key", "aria-label": "Write key" }, keys.map((k) => el("option", { value: k.key, text: `${k.name}: ${k.key}` })));
      select.addEventListener("change", () => draw(select.value));
      parts.push(el("p", { cls: "key" }, [el("label", { for: "setup-key", text: "Write key " }), select]));
    }
    const note = keyNote(keys);
    if (note) parts.push(note);
    draw(keys && keys.length ? keys[0].key : PLACEHOLDER);
    parts.push(area, el("p", { cls: "hint", text: `Any Segment-compatible client works: point it at ${origin} (docs: /openapi.json).` }));
    panel.show(parts, "waiting");
    panel.root.dataset.origin = origin;
  };
}

// The first event is here: say so, and what arrived.
export function arrived(panel, eventsToday) {
  const status = panel.root.querySelector(".waiting");
  if (status) {
    status.className = "waiting live";
    status.replaceChildren(el("span", { cls: "dot" }), `First event received: ${fmtInt(eventsToday)} today. The panels below now show your data.`);
  }
  panel.state = "live";
}
