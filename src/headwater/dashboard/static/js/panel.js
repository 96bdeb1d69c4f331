// One dashboard panel: its state (loading, ready, empty, error, unavailable), body and CSV.

import { clear, el } from "./dom.js";
import { download, toCsv } from "./table.js";

export class Panel {
  constructor(id, range) {
    this.id = id;
    this.range = range;
    this.root = document.getElementById(id);
    this.body = this.root.querySelector(".body");
    this.csv = null;
    this.button = el("button", { type: "button", cls: "csv", hidden: true, title: "Download this table as CSV", onclick: () => this.download() }, "CSV");
    this.root.querySelector("h2").append(this.button);
  }

  set state(value) {
    this.root.dataset.state = value;
  }

  get state() {
    return this.root.dataset.state;
  }

  loading() {
    this.state = "loading";
    this.root.setAttribute("aria-busy", "true");
  }

  show(nodes, state = "ready") {
    clear(this.body).append(...[].concat(nodes));
    this.state = state;
    this.root.removeAttribute("aria-busy");
  }

  message(state, text) {
    this.setCsv(null);
    this.show(el("p", { cls: "message " + state, text }), state);
  }

  empty(text = "No data in this range.") {
    this.message("empty", text);
  }

  unavailable(text) {
    this.message("unavailable", text);
  }

  error(err) {
    this.message("error", `Could not load: ${err && err.message ? err.message : err}`);
  }

  // The body's width in CSS pixels, so charts draw at 1:1 and their text keeps its size.
  width() {
    return Math.max(320, Math.round(this.body.clientWidth || 760));
  }

  note(text) {
    const node = this.root.querySelector("h2 .note");
    if (node) node.textContent = text;
  }

  // columns: [{key, label}], rows: objects
  setCsv(name, columns, rows) {
    this.csv = name ? { name, columns, rows } : null;
    this.button.hidden = !name;
  }

  download() {
    if (!this.csv) return;
    const { start, end } = this.range();
    download(`headwater-${this.csv.name}-${start}-${end}.csv`, toCsv(this.csv.columns, this.csv.rows));
  }
}
