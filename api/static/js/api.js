// The public HTTP API as the page calls it: JSON in and out, the error envelope, an optional
// key, and Server-Sent Events read with fetch (so a key can go in a header, which the
// browser's EventSource cannot send).

const KEY = "omnistock.key";

export function apiKey() {
  return localStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = error.details ?? null;
  }
}

// Any answer, error or not: {status, data}.
export async function request(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers = headers({ "content-type": "application/json" });
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: response.status, data };
}

async function ok(method, path, body) {
  const { status, data } = await request(method, path, body);
  if (status >= 400) throw new ApiError(status, data);
  return data;
}

export const get = (path) => ok("GET", path);
export const post = (path, body) => ok("POST", path, body);

export const segment = encodeURIComponent;

// Follows an SSE stream until stop() is called, reconnecting after an error or an end (the
// server drops a client that falls behind). onEvent({event, data, id}); onOpen() on each
// connection; onDown(error) when one ends. Alerts resume with Last-Event-ID.
export function listen(path, { onEvent, onOpen = () => {}, onDown = () => {} }) {
  let stopped = false;
  let controller = null;
  let lastId = null;

  async function connect() {
    controller = new AbortController();
    const extra = { accept: "text/event-stream" };
    if (lastId !== null) extra["last-event-id"] = lastId;
    const response = await fetch(path, { headers: headers(extra), signal: controller.signal });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message = parse(block);
        if (message.id !== null) lastId = message.id;
        if (message.data !== null) onEvent(message);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await connect();
        if (!stopped) onDown(null);
      } catch (error) {
        if (stopped) return;
        onDown(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}

function parse(block) {
  const message = { event: "message", data: null, id: null };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") message.event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") message.id = value;
  }
  if (data.length) message.data = JSON.parse(data.join("\n"));
  return message;
}
