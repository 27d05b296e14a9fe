// The page: reads /page/setup (products, locations, channels, where to start), then wires the
// product widget, the stock table, the alerts feed and the holds to one product and ZIP code.
// ?sku=...&zip=... in the address opens on those.

import { ApiError, get, setApiKey, apiKey } from "./api.js";
import { AlertFeed } from "./alerts.js";
import { el, number } from "./format.js";
import { PromiseWidget } from "./promise.js";
import { Holds } from "./sale.js";
import { StockTable } from "./stock.js";

const $ = (selector) => document.querySelector(selector);

// The page's starting point, once the replica is ready and knows a product.
async function setup() {
  for (;;) {
    try {
      const found = await get("/page/setup");
      if (found.products.length) return found;
      $("#status").textContent = "no position yet: send events (POST /v1/events)…";
    } catch (error) {
      const waiting = error instanceof ApiError && error.code === "not_ready";
      $("#status").textContent = waiting
        ? "catching up with the topics…"
        : `cannot start: ${error.message}`;
    }
    $("#status").className = "status down";
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function main() {
  const found = await setup();
  const names = new Map(found.locations.map((loc) => [loc.location_id, loc.name]));
  const byId = new Map(found.locations.map((loc) => [loc.location_id, loc]));
  $("#skus").replaceChildren(...found.products.map((sku) => el("option", { value: sku })));
  const params = new URLSearchParams(location.search);
  const page = {
    sku: params.get("sku") || found.default.sku || "",
    zip: params.get("zip") ?? found.default.postal_code ?? "",
    store: null, // the location of holds: the nearest pickup store, until the user picks one
    chosen: false,
    positions: new Map(),
  };
  const store = $("#store");
  const buyers = $("#buyers");
  let buyersTyped = false;
  let suggestedFor = null; // the store the buyers were suggested for
  buyers.addEventListener("input", () => {
    buyersTyped = true;
  });
  const suggestBuyers = () => {
    // more buyers than units: some are held, the rest refused (once per store and product)
    const position = page.positions.get(page.store);
    if (buyersTyped || !position || suggestedFor === page.store) return;
    suggestedFor = page.store;
    const web = (position.channels || {}).web ?? position.atp;
    buyers.value = Math.min(200, Math.max(10, 2 * web + 10));
  };

  const fillStores = () => {
    const options = [];
    for (const loc of found.locations) {
      const position = page.positions.get(loc.location_id);
      if (!position) continue;
      const web = (position.channels || {}).web ?? position.atp;
      const label = `${loc.name} (${loc.location_id}) · web ATP ${number(web)}`;
      options.push(el("option", { value: loc.location_id }, label));
    }
    if (page.store === null && options.length) page.store = best(page.positions);
    store.replaceChildren(...options);
    store.value = page.store ?? "";
    suggestBuyers();
  };

  const promise = new PromiseWidget($("#promise"), names, found.network, (pickup) => {
    if (!page.chosen && pickup.length) {
      page.store = pickup[0].location_id; // holds go to the nearest pickup store
      page.chosen = true; // once: a sell-out there later does not move them
      fillStores();
    }
  });
  const moved = (positions) => {
    page.positions = positions;
    fillStores();
    promise.refresh("stock moved");
  };
  const table = $("#stock-table");
  const stock = new StockTable(table, $("#stock-note"), found.locations, found.channels, moved);
  const feed = new AlertFeed($("#alert-list"), names, (sku) => show(sku, page.zip), (live) => {
    document.body.classList.toggle("offline", !live);
  });
  new Holds(
    {
      hold: $("#hold"),
      sale: $("#sale"),
      qty: $("#qty"),
      buyers,
      reserve: $("#reserve"),
      flash: $("#flash"),
    },
    () => ({
      sku: page.sku,
      location_id: page.store,
      name: (byId.get(page.store) || {}).name || page.store,
    }),
    () => {
      stock.now();
      health();
    },
  );

  store.addEventListener("change", () => {
    page.store = store.value;
    page.chosen = true;
    suggestBuyers();
  });
  const mine = $("#alerts-mine");
  mine.addEventListener("change", () => feed.follow(mine.checked ? page.sku : null));

  function show(sku, zip) {
    page.sku = sku;
    page.zip = zip;
    page.store = null;
    page.chosen = false;
    page.positions = new Map();
    suggestedFor = null;
    $("#sku").value = sku;
    $("#zip").value = zip;
    $("#hold").replaceChildren();
    $("#sale").replaceChildren();
    store.replaceChildren();
    history.replaceState(null, "", `?${new URLSearchParams({ sku, zip })}`);
    document.title = `${sku} · Omnistock`;
    stock.watch(sku);
    promise.show(sku, zip);
    feed.follow(mine.checked ? sku : null);
  }

  $("#choose").addEventListener("submit", (event) => {
    event.preventDefault();
    const sku = $("#sku").value.trim();
    if (sku) show(sku, $("#zip").value.trim());
  });
  $("#key").value = apiKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("#key").value.trim());
    location.reload();
  });

  show(page.sku, page.zip);
  health();
  setInterval(health, 5000);
}

// The location with the most web ATP (where a hold is likeliest to succeed).
function best(positions) {
  let found = null;
  let most = -1;
  for (const [id, position] of positions) {
    const web = (position.channels || {}).web ?? position.atp;
    if (web > most) [found, most] = [id, web];
  }
  return found;
}

async function health() {
  const status = $("#status");
  try {
    const h = await get("/v1/health");
    const live = !document.body.classList.contains("offline");
    const state = h.status !== "ok" ? h.status : live ? "live" : "reconnecting";
    status.replaceChildren(
      el("span", { class: `dot ${state === "live" ? "on" : "off"}` }),
      `${h.mode} · ${number(h.positions)} positions · ${number(h.reservations)} reservations · `,
      state,
    );
    status.className = "status";
  } catch (error) {
    status.textContent = `API unreachable (${error.message})`;
    status.className = "status down";
  }
}

main();
