// The product-page widget: each service level's delivery date and ship-by countdown, and the
// stores that can hold it for pickup, for one sku and ZIP code (POST /v1/promise). It listens
// to the promise table's stream for the ZIP code's region (GET /v1/promise/stream) and asks
// again when an entry changes, when the stock moves, or when a ship-by passes.

import { ApiError, listen, post, segment } from "./api.js";
import { clock, countdown, day, el, levelName, number, storeTime } from "./format.js";

const NO_NETWORK =
  "This server has no delivery network (serve --network FILE): stock, alerts and holds work.";

export class PromiseWidget {
  constructor(root, names, network, onPickup) {
    this.options = root.querySelector("#options");
    this.pickup = root.querySelector("#pickup");
    this.note = root.querySelector("#promise-note");
    this.names = names; // location_id -> name
    this.network = network; // whether the server has a delivery network
    this.onPickup = onPickup; // (pickup stores) after each answer
    this.sku = null;
    this.zip = null;
    this.region = null;
    this.stop = null;
    this.asking = null;
    this.again = false;
    this.shipBys = [];
    setInterval(() => this.tick(), 1000);
  }

  async show(sku, zip) {
    if (this.stop) this.stop();
    this.stop = null;
    this.sku = sku;
    this.zip = zip;
    this.region = null;
    this.options.replaceChildren();
    this.pickup.replaceChildren();
    if (!this.network || !zip) {
      this.say(this.network ? "Enter a ZIP code to see delivery and pickup." : NO_NETWORK);
      return;
    }
    await this.refresh(null);
    if (this.sku !== sku || this.zip !== zip) return;
    if (this.region === null) {
      // no table entry to follow for this ZIP code: ask again each minute (and on stock moves)
      const timer = setInterval(() => this.refresh("each minute"), 60000);
      this.stop = () => clearInterval(timer);
      return;
    }
    const path = `/v1/promise/stream?skus=${segment(sku)}&region=${segment(this.region)}`;
    this.stop = listen(path, {
      onEvent: (message) => {
        if (message.event === "promise") this.refresh("promise stream");
      },
      onOpen: () => this.refresh(null), // nothing missed between the answer and the stream
    });
  }

  // Ask again (at most one request in flight; a change meanwhile asks once more after it).
  async refresh(why) {
    if (!this.zip) return;
    if (this.asking) {
      this.again = why || this.again || "update";
      return this.asking;
    }
    this.asking = this.ask(why);
    try {
      await this.asking;
    } finally {
      this.asking = null;
    }
    if (this.again) {
      const next = this.again;
      this.again = false;
      await this.refresh(next);
    }
  }

  async ask(why) {
    const { sku, zip } = this;
    const destination = { postal_code: zip };
    try {
      const [answer, listing] = await Promise.all([
        post("/v1/promise", { items: [{ sku, qty: 1 }], destination }),
        this.region === null ? post("/v1/promise/listing", { skus: [sku], destination }) : null,
      ]);
      if (this.sku !== sku || this.zip !== zip) return;
      if (listing && listing.region) this.region = listing.region;
      this.render(answer.items[0]);
      const source = this.region ? `promise table, region ${this.region}` : "computed per request";
      const when = why ? `updated ${clock(new Date().toISOString())} (${why})` : "live";
      this.say(`To ZIP ${zip} · ${source} · ${when}`);
    } catch (error) {
      if (this.sku !== sku || this.zip !== zip) return;
      this.options.replaceChildren();
      this.pickup.replaceChildren();
      this.onPickup([]);
      this.say(explain(error), true);
    }
  }

  render(item) {
    this.shipBys = [];
    const options = item.options.map((option) => {
      const countdownNode = el("span", { class: "countdown", title: "until it ships" });
      this.shipBys.push({ at: Date.parse(option.ship_by), node: countdownNode });
      return el(
        "li",
        {
          class: "option",
          dataset: {
            level: option.service_level,
            deliverBy: option.deliver_by,
            shipBy: option.ship_by,
            location: option.location_id,
          },
        },
        el("span", { class: "level" }, levelName(option.service_level)),
        el("span", { class: "deliver-by" }, day(option.deliver_by)),
        countdownNode,
        el(
          "span",
          { class: "ship-by" },
          `ships by ${storeTime(option.ship_by)} from ${this.name(option.location_id)}`,
        ),
      );
    });
    if (!options.length) {
      options.push(el("li", { class: "empty" }, "No delivery: out of stock where it ships."));
    }
    this.options.replaceChildren(...options);
    const stores = item.pickup.map((store) =>
      el(
        "li",
        { class: "store", dataset: { location: store.location_id, readyAt: store.ready_at } },
        el("span", { class: "store-name" }, store.name || this.name(store.location_id)),
        el("span", { class: "distance" }, `${store.distance_km.toFixed(1)} km`),
        el("span", { class: "in-stock" }, `${number(store.atp)} in stock`),
        el("span", { class: "ready-at" }, `ready ${storeTime(store.ready_at)}`),
      ),
    );
    if (!stores.length) {
      stores.push(el("li", { class: "empty" }, "No store within 50 km has it."));
    }
    this.pickup.replaceChildren(...stores);
    this.onPickup(item.pickup);
    this.tick();
  }

  tick() {
    const now = Date.now();
    let passed = false;
    for (const { at, node } of this.shipBys) {
      passed ||= at <= now;
      node.textContent = at > now ? `ships in ${countdown(at - now)}` : "shipping now";
    }
    if (passed) {
      this.shipBys = [];
      this.refresh("a ship-by passed");
    }
  }

  name(locationId) {
    return this.names.get(locationId) || locationId;
  }

  say(text, bad = false) {
    this.note.textContent = text;
    this.note.classList.toggle("bad", bad);
  }
}

function explain(error) {
  if (!(error instanceof ApiError)) return `The API did not answer (${error.message}).`;
  if (error.code === "no_network") return NO_NETWORK;
  if (error.code === "unknown_postal_code") return "That is no US ZIP code we know.";
  return `${error.code}: ${error.message}`;
}
