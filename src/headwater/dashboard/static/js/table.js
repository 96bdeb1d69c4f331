// Tables, and their CSV: a panel's CSV holds exactly the rows and columns of its table.

import { el } from "./dom.js";

// Column headers in words: "share_of_mau" -> "Share of MAU" (the CSV keeps the labels as they are).
const WORDS = { tool_id: "Tool", share_of_mau: "Share of MAU", dau: "DAU", wau: "WAU", mau: "MAU", dau_mau: "DAU / MAU", id: "ID", segtax: "Segtax" };

export function human(label) {
  const text = String(label);
  if (WORDS[text]) return WORDS[text];
  const words = text.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// columns: [{key, label, head?, format?(value,row) -> string|Node, num?: bool, wrap?: bool}]
// (head: the header shown, else the label in words; label: the CSV's header)
export function table(columns, rows, options = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { cls: c.num ? "num" : null, text: c.head ?? human(c.label), scope: "col" })));
  const body = rows.map((row) =>
    el("tr", {}, columns.map((c) => {
      const value = row[c.key];
      const shown = c.format ? c.format(value, row) : value ?? "—";
      const cell = el("td", { cls: [c.num ? "num" : "", c.wrap ? "wrap" : ""].join(" ").trim() || null, "data-key": c.key });
      if (c.num && value !== null && value !== undefined) cell.dataset.value = String(value);
      cell.append(shown instanceof Node ? shown : document.createTextNode(String(shown)));
      if (options.decorate) options.decorate(cell, c, row);
      return cell;
    })),
  );
  return el("div", { cls: "table-wrap" + (options.full ? " full" : "") }, [el("table", { cls: options.cls || null }, [el("thead", {}, head), el("tbody", {}, body)])]);
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  // A spreadsheet would run a cell starting with = + - @ as a formula: quote it as text.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return /[",\r\n]/.test(text) ? '"' + text.replaceAll('"', '""') + '"' : text;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label ?? c.key)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
  return lines.join("\r\n") + "\r\n";
}

export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
