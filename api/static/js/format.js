// Dates, times and countdowns as a shopper reads them. Promise times carry the location's own
// offset (2026-11-25T14:00:00-05:00): they are shown in the store's time, read from the text.

const DAY = new Intl.DateTimeFormat("en-US", {
  weekday: "short", month: "short", day: "numeric", timeZone: "UTC",
});

// "2026-11-30" -> "Mon, Nov 30"
export function day(isoDate) {
  return DAY.format(new Date(`${isoDate}T00:00:00Z`));
}

// The date and time of an instant as written, in its own offset, and "today"/"tomorrow" by
// the clock of that offset.
export function storeTime(iso, now = Date.now()) {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(iso);
  if (!match) return iso;
  const offset = /([+-])(\d\d):(\d\d)$/.exec(iso);
  const minutes = offset ? (offset[1] === "-" ? -1 : 1) * (60 * +offset[2] + +offset[3]) : 0;
  const localToday = new Date(now + minutes * 60000).toISOString().slice(0, 10);
  const tomorrow = new Date(now + minutes * 60000 + 86400000).toISOString().slice(0, 10);
  const [, date, time] = match;
  if (date === localToday) return `today ${time}`;
  if (date === tomorrow) return `tomorrow ${time}`;
  return `${day(date)} ${time}`;
}

// milliseconds -> "2 d 3 h", "4 h 05 min", "12 min 30 s"
export function countdown(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  return `${m} min ${String(s % 60).padStart(2, "0")} s`;
}

// An instant in the browser's own time: "15:42:07"
export function clock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { hour12: false });
}

// "same_day" -> "Same day"
export function levelName(name) {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function number(n) {
  return Number(n).toLocaleString("en-US");
}

// A new id for a reservation the page makes: "page-" and 16 hex digits.
export function newId(prefix = "page") {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// Build an element: el("li", {class: "x", dataset: {sku}}, "text", child)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
