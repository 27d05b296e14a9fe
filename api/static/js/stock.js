// Stock of one sku across every location, and its channel views: POST /v1/atp/query once a
// second (docs/decisions.md D101). A figure that changed flashes; onChange(positions) is
// called after each read that changed something (positions: location_id -> position).

import { post } from "./api.js";
import { el, number } from "./format.js";

const EVERY_MS = 1000;
const BATCH = 100; // locations per query (the route's limit)
const FIGURES = [
  ["on_hand", "On hand"],
  ["reserved", "Reserved"],
  ["atp", "ATP"],
];

export class StockTable {
  constructor(table, note, locations, channels, onChange) {
    this.table = table;
    this.note = note;
    this.locations = locations; // [{location_id, name, kind, ...}], the network's order
    this.channels = channels;
    this.onChange = onChange;
    this.sku = null;
    this.positions = new Map();
    this.rows = new Map();
    this.timer = null;
    this.head();
  }

  head() {
    const top = el(
      "tr",
      {},
      el("th", { scope: "col", rowspan: 2 }, "Location"),
      el("th", { scope: "colgroup", colspan: FIGURES.length, class: "group" }, "Position"),
      el(
        "th",
        { scope: "colgroup", colspan: this.channels.length, class: "group" },
        "ATP by channel",
      ),
      el("th", { scope: "col", rowspan: 2, class: "num" }, "Oversold"),
    );
    const names = el(
      "tr",
      {},
      ...FIGURES.map(([, label]) => el("th", { scope: "col", class: "num" }, label)),
      ...this.channels.map((name) => el("th", { scope: "col", class: "num channel" }, name)),
    );
    this.table.tHead.replaceChildren(top, names);
  }

  watch(sku) {
    this.sku = sku;
    this.positions = new Map();
    this.rows = new Map();
    this.table.tBodies[0].replaceChildren();
    this.table.tFoot.replaceChildren();
    clearTimeout(this.timer);
    this.poll();
  }

  // Re-read now (after a reservation, say), not at the next tick.
  now() {
    clearTimeout(this.timer);
    return this.poll();
  }

  async poll() {
    const sku = this.sku;
    try {
      if (!document.hidden) await this.read(sku);
      if (sku === this.sku) this.note.textContent = `${sku} · read every second`;
    } catch (error) {
      if (sku === this.sku) this.note.textContent = `not read: ${error.message}`;
    }
    if (sku === this.sku) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.poll(), EVERY_MS);
    }
  }

  async read(sku) {
    const ids = this.locations.map((loc) => loc.location_id);
    const batches = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      batches.push(post("/v1/atp/query", { skus: [sku], location_ids: ids.slice(i, i + BATCH) }));
    }
    const answers = await Promise.all(batches);
    if (sku !== this.sku) return;
    const fresh = new Map();
    for (const answer of answers) {
      for (const position of answer.positions) fresh.set(position.location_id, position);
    }
    let changed = fresh.size !== this.positions.size;
    for (const [id, position] of fresh) {
      const before = this.positions.get(id);
      if (!before || JSON.stringify(before) !== JSON.stringify(position)) changed = true;
    }
    this.positions = fresh;
    this.render();
    if (changed) this.onChange(fresh);
  }

  render() {
    const body = this.table.tBodies[0];
    const totals = { on_hand: 0, reserved: 0, atp: 0, oversold: 0 };
    const channelTotals = Object.fromEntries(this.channels.map((c) => [c, 0]));
    let order = 0;
    for (const loc of this.locations) {
      const position = this.positions.get(loc.location_id);
      if (!position) continue;
      let row = this.rows.get(loc.location_id);
      if (!row) {
        row = this.row(loc);
        this.rows.set(loc.location_id, row);
      }
      if (body.children[order] !== row) body.insertBefore(row, body.children[order] || null);
      order += 1;
      for (const [field] of FIGURES) {
        set(row, field, position[field]);
        totals[field] += position[field];
      }
      for (const channel of this.channels) {
        const value = (position.channels || {})[channel] ?? 0;
        set(row, `channel-${channel}`, value);
        channelTotals[channel] += value;
      }
      set(row, "oversold", position.oversold);
      totals.oversold += position.oversold;
      row.classList.toggle("out", position.atp === 0);
      row.classList.toggle("oversold", position.oversold > 0);
    }
    while (body.children.length > order) body.lastElementChild.remove();
    const foot = el(
      "tr",
      {},
      el("th", { scope: "row" }, `All ${order} locations`),
      ...FIGURES.map(([field]) => el("td", { class: "num" }, number(totals[field]))),
      ...this.channels.map((c) => el("td", { class: "num" }, number(channelTotals[c]))),
      el("td", { class: "num" }, number(totals.oversold)),
    );
    this.table.tFoot.replaceChildren(foot);
  }

  row(loc) {
    const cells = [
      ...FIGURES.map(([field]) => field),
      ...this.channels.map((c) => `channel-${c}`),
      "oversold",
    ].map((field) => el("td", { class: "num", dataset: { field } }));
    return el(
      "tr",
      { dataset: { location: loc.location_id } },
      el(
        "th",
        { scope: "row" },
        el("span", { class: "loc-name" }, loc.name),
        loc.name === loc.location_id && loc.kind !== "dc"
          ? null
          : el("span", { class: `tag ${loc.kind}` }, loc.kind === "dc" ? "DC" : loc.location_id),
      ),
      ...cells,
    );
  }
}

function set(row, field, value) {
  const cell = row.querySelector(`[data-field="${field}"]`);
  const text = number(value);
  if (cell.textContent === text) return;
  const first = cell.textContent === "";
  cell.textContent = text;
  if (first) return;
  cell.classList.remove("bump");
  void cell.offsetWidth; // restart the animation
  cell.classList.add("bump");
}
