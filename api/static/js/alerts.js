// The alerts feed: the latest alerts (GET /v1/alerts), then each new one as it arrives
// (GET /v1/alerts/stream), newest on top; all products, or only the one shown.

import { get, listen, segment } from "./api.js";
import { clock, el, number } from "./format.js";

const KEPT = 40;
const LABELS = {
  stockout: "stock-out",
  back_in_stock: "back in stock",
  low_stock: "low stock",
  oversold: "oversold",
  replenish: "replenish",
  stockout_soon: "stock-out soon",
};

export class AlertFeed {
  constructor(list, names, onPick, onLive) {
    this.list = list;
    this.names = names;
    this.onPick = onPick; // (sku): show that product
    this.onLive = onLive; // (connected: bool)
    this.stop = null;
    this.sku = undefined;
  }

  async follow(sku) {
    if (sku === this.sku) return;
    this.sku = sku;
    if (this.stop) this.stop();
    this.list.replaceChildren();
    const query = sku ? `?sku=${segment(sku)}` : "";
    this.stop = listen(`/v1/alerts/stream${query}`, {
      onEvent: (message) => {
        if (message.event === "alert") this.add(message.data, true);
      },
      onOpen: () => this.onLive(true),
      onDown: () => this.onLive(false),
    });
    try {
      const { alerts } = await get(`/v1/alerts${query}${query ? "&" : "?"}limit=20`);
      if (sku !== this.sku) return;
      const fresh = [...this.list.children]; // what the stream brought meanwhile stays on top
      this.list.replaceChildren(...fresh, ...alerts.map((alert) => this.item(alert, false)));
      if (!this.list.children.length) {
        this.list.append(el("li", { class: "empty" }, "No alert yet."));
      }
      this.trim();
    } catch (error) {
      this.list.replaceChildren(el("li", { class: "empty" }, `No alerts: ${error.message}`));
    }
  }

  add(alert, fresh) {
    this.list.querySelector(".empty")?.remove();
    this.list.prepend(this.item(alert, fresh));
    this.trim();
  }

  trim() {
    while (this.list.children.length > KEPT) this.list.lastElementChild.remove();
  }

  item(alert, fresh) {
    const pick = () => this.onPick(alert.sku);
    const where = this.names.get(alert.location_id) || alert.location_id;
    const figures = `ATP ${number(alert.atp)} · on hand ${number(alert.on_hand)}`;
    return el(
      "li",
      {
        class: `alert${fresh ? " fresh" : ""}`,
        dataset: { kind: alert.kind, sku: alert.sku, location: alert.location_id },
      },
      el("span", { class: `kind ${alert.kind}` }, LABELS[alert.kind] || alert.kind),
      el(
        "button",
        { type: "button", class: "link sku", title: `Show ${alert.sku}`, onclick: pick },
        alert.sku,
      ),
      el("time", { datetime: alert.ts }, clock(alert.ts)),
      el("span", { class: "figs" }, `at ${where} · ${figures}`),
    );
  }
}
