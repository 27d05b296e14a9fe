// Holding stock: one reservation (POST /v1/reservations, released with DELETE), and the flash
// sale, many buyers reserving one unit each at once at one store. Each answer is counted by
// status: 201 held, 409 refused, 202 pending (sent, decided later); then the final position
// shows that nothing was oversold (reserved <= on hand).

import { get, request, segment } from "./api.js";
import { clock, el, newId, number } from "./format.js";

const SALE_TTL_S = 300; // a flash sale's holds lapse on their own after five minutes

export class Holds {
  constructor(parts, target, onDone) {
    this.hold = parts.hold;
    this.sale = parts.sale;
    this.qty = parts.qty;
    this.buyers = parts.buyers;
    this.reserveButton = parts.reserve;
    this.flashButton = parts.flash;
    this.target = target; // () => {sku, location_id, name}
    this.onDone = onDone; // after anything changed stock
    this.held = [];
    this.reserveButton.addEventListener("click", () => this.reserve());
    this.flashButton.addEventListener("click", () => this.flash());
  }

  async reserve() {
    const { sku, location_id: locationId, name } = this.target();
    if (!locationId) return;
    const qty = Math.max(1, Number(this.qty.value) || 1);
    const id = newId();
    const body = { reservation_id: id, location_id: locationId, sku, qty };
    this.reserveButton.disabled = true;
    try {
      const { status, data } = await request("POST", "/v1/reservations", body);
      this.hold.replaceChildren(...this.describe(status, data, { id, qty, sku, name }));
    } catch (error) {
      this.hold.replaceChildren(el("p", { class: "bad" }, `Not sent: ${error.message}`));
    } finally {
      this.reserveButton.disabled = false;
      this.onDone();
    }
  }

  describe(status, data, { id, qty, sku, name }) {
    if (status === 201 || status === 200) {
      const release = el("button", { type: "button", class: "small" }, "Release");
      release.addEventListener("click", async () => {
        release.disabled = true;
        const answer = await request("DELETE", `/v1/reservations/${segment(id)}`);
        const said = answer.status === 200 ? "released" : `release: ${answer.status}`;
        release.replaceWith(el("span", { class: "released" }, said));
        this.onDone();
      });
      return [
        el("p", { class: "good", dataset: { status: data.status, reservation: id } },
          el("strong", {}, `Held ${number(data.qty)} × ${sku}`),
          ` at ${name} until ${clock(data.expires_at)}`),
        el("p", { class: "note" }, `reservation ${id} · ${data.status} `, release),
      ];
    }
    if (status === 409) {
      return [el("p", { class: "bad", dataset: { status: "rejected" } },
        el("strong", {}, "Refused"), `: not enough stock of ${sku} at ${name} for ${qty}.`)];
    }
    if (status === 202) {
      return [el("p", { class: "warn", dataset: { status: "pending" } },
        el("strong", {}, "Pending"), `: sent, not decided yet (reservation ${id}).`)];
    }
    const error = (data && data.error) || {};
    return [el("p", { class: "bad" }, `${status} ${error.code || ""}: ${error.message || ""}`)];
  }

  async flash() {
    const { sku, location_id: locationId, name } = this.target();
    if (!locationId) return;
    const buyers = Math.min(200, Math.max(2, Number(this.buyers.value) || 30));
    const path = `/v1/atp/${segment(locationId)}/${segment(sku)}`;
    this.flashButton.disabled = true;
    const racing = `${buyers} buyers racing for ${sku} at ${name}…`;
    this.sale.replaceChildren(el("p", { class: "note" }, racing));
    try {
      const before = await get(path);
      const stock = (before.channels || {}).web ?? before.atp;
      const ids = Array.from({ length: buyers }, () => newId("flash"));
      const answers = await Promise.all(ids.map((id) => request("POST", "/v1/reservations", {
        reservation_id: id, location_id: locationId, sku, qty: 1, ttl_s: SALE_TTL_S,
      }).catch(() => ({ status: 0 }))));
      const count = { 201: 0, 409: 0, 202: 0, other: 0 };
      answers.forEach(({ status }, i) => {
        if (status in count) count[status] += 1;
        else count.other += 1;
        if (status === 201 || status === 202) this.held.push(ids[i]);
      });
      const after = await get(path);
      this.sale.replaceChildren(...this.outcome({ buyers, stock, count, after }));
    } catch (error) {
      this.sale.replaceChildren(el("p", { class: "bad" }, `Flash sale stopped: ${error.message}`));
    } finally {
      this.flashButton.disabled = false;
      this.onDone();
    }
  }

  outcome({ buyers, stock, count, after }) {
    const oversold = Math.max(0, after.reserved - after.on_hand);
    const figure = (id, label, value, kind) =>
      el("div", { class: `figure ${kind}` }, el("dt", {}, label), el("dd", { id }, number(value)));
    const bar = el("div", { class: "bar", "aria-hidden": "true" },
      el("span", { class: "held", style: `flex: ${count[201]}` }),
      el("span", { class: "pending", style: `flex: ${count[202]}` }),
      el("span", { class: "refused", style: `flex: ${count[409] + count.other}` }));
    const release = el("button", { type: "button", class: "small" }, "Release the holds");
    release.addEventListener("click", () => this.releaseAll(release));
    const verdict = oversold === 0
      ? `Oversold 0: ${number(after.reserved)} reserved ≤ ${number(after.on_hand)} on hand.`
      : `Oversold ${number(oversold)}: a till sale took stock that was held.`;
    return [
      el("dl", { class: "figures" },
        figure("sale-buyers", "buyers", buyers, ""),
        figure("sale-stock", "web stock before", stock, ""),
        figure("sale-held", "held · 201", count[201], "held"),
        figure("sale-refused", "refused · 409", count[409], "refused"),
        figure("sale-pending", "pending · 202", count[202], "pending"),
        figure("sale-oversold", "oversold", oversold, oversold ? "bad" : "good")),
      bar,
      el("p", { class: oversold ? "bad" : "good", id: "sale-verdict" }, verdict,
        count.other ? ` (${count.other} requests failed)` : ""),
      el("p", { class: "note" }, `Holds last ${SALE_TTL_S / 60} minutes. `, release),
    ];
  }

  async releaseAll(button) {
    button.disabled = true;
    const ids = this.held.splice(0);
    const release = (id) => request("DELETE", `/v1/reservations/${segment(id)}`);
    await Promise.all(ids.map((id) => release(id).catch(() => null)));
    button.replaceWith(el("span", { class: "released" }, `${ids.length} released`));
    this.onDone();
  }
}
