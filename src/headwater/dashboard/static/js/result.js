// Where an insight's answer is drawn (a builder page's result, a dashboard's tile): a status line
// (announced), the chart, the table and notes, and a CSV button for the table.

import { clear, el } from "./dom.js";
import { button } from "./form.js";
import { download, toCsv } from "./table.js";

export class ResultArea {
  constructor(title, options = {}) {
    this.csvData = null;
    this.csvButton = button("CSV", () => this.download(), { cls: "csv", hidden: true, title: "Download the table as CSV" });
    this.status = el("p", { cls: "status", role: "status" });
    this.body = el("div", { cls: "result-body" });
    const heading = options.heading || el("h3", { id: "result-title" }, [el("span", { text: title })]);
    heading.append(this.csvButton);
    this.node = el(options.tag || "section", { cls: options.cls || "result", "aria-labelledby": heading.id || null, "data-state": "loading" }, [heading, this.status, this.body]);
  }

  set state(value) {
    this.node.dataset.state = value;
    if (value === "loading") this.node.setAttribute("aria-busy", "true");
    else this.node.removeAttribute("aria-busy");
  }

  csv(name, columns, rows) {
    this.csvData = name ? { name, columns, rows } : null;
    this.csvButton.hidden = !name;
  }

  download() {
    if (this.csvData) download(`headwater-${this.csvData.name}.csv`, toCsv(this.csvData.columns, this.csvData.rows));
  }

  show(nodes, status) {
    clear(this.body).append(...[].concat(nodes).filter(Boolean));
    this.status.textContent = status || "";
  }

  message(kind, text) {
    this.csv(null);
    this.show(el("p", { cls: `message ${kind}`, text }), kind === "error" ? "" : text);
  }
}

