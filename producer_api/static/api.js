// Talking to kmidi over HTTP: request IDs, JSON posts, the API key, and errors put into words.

const KEY_STORAGE = "kmidi-api-key";

/** The API key typed into the page (kept for this tab only), or "". */
export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** The Authorization header when a key is set: only then is anything sent. */
function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** A fresh request ID (32 hex digits), chosen here so that even a failed connection has one. */
export function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An error to show: a sentence, the request ID, and optional detail lines. */
export class StudioError extends Error {
  constructor(message, requestId, details = []) {
    super(message);
    this.requestId = requestId;
    this.details = details;
  }
}

function detailLines(body) {
  return (body?.details ?? [])
    .map((d) => (d.msg ? `${(d.loc ?? []).filter((p) => p !== "body").join(".")}: ${d.msg}` : ""))
    .filter(Boolean);
}

/** The sentence for an error answer: the server's own message, introduced by what it means. */
function sentenceFor(status, body, response) {
  const message = body?.error?.message ?? response.statusText ?? "";
  if (status === 401) return `kmidi needs a valid API key (enter yours in the API key field): ${message}`;
  if (status === 422) return `kmidi cannot accept this request: ${message}`;
  if (status === 429) return `Too many requests from this address: ${message}.`; // says when to retry
  if (status === 503) return `kmidi is not ready (is Kafka running?): ${message}`;
  if (status === 504) return `No answer in time: ${message}`;
  return `The request failed (HTTP ${status}): ${message}`;
}

/** POST ``body`` as JSON; the parsed answer, or a StudioError that says what went wrong. */
export async function postJson(url, body, requestId) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Request-ID": requestId, ...authHeaders() },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new StudioError(`Could not reach kmidi at ${new URL(url, location.href).origin} (${err.message}). Is it running?`, requestId);
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const id = answer?.request_id ?? response.headers.get("X-Request-ID") ?? requestId;
    throw new StudioError(sentenceFor(response.status, answer, response), id, detailLines(answer));
  }
  return answer;
}

/** GET ``url``: the response if it is 2xx, else a StudioError. */
export async function get(url, requestId) {
  let response;
  try {
    response = await fetch(url, { headers: { "X-Request-ID": requestId, ...authHeaders() } });
  } catch (err) {
    throw new StudioError(`Could not reach the results service at ${new URL(url).origin} (${err.message}).`, requestId);
  }
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    throw new StudioError(sentenceFor(response.status, answer, response), requestId, detailLines(answer));
  }
  return response;
}

/** A status stream: the browser's EventSource, or, with an API key (which EventSource cannot
 * send), a fetch-based reader with the same events, ``close()`` and ``readyState``. */
export function openEvents(url) {
  const key = apiKey();
  return key ? new KeyedEventSource(url, key) : new EventSource(url);
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

class KeyedEventSource extends EventTarget {
  constructor(url, key) {
    super();
    this.url = url;
    this.key = key;
    this.readyState = CONNECTING;
    this.lastEventId = "";
    this.controller = new AbortController();
    this.run();
  }

  close() {
    this.readyState = CLOSED;
    this.controller.abort();
  }

  /** Connect, read, and reconnect after a second when the server ends the stream. */
  async run() {
    while (this.readyState !== CLOSED) {
      try {
        const headers = { Accept: "text/event-stream", Authorization: `Bearer ${this.key}` };
        if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
        const response = await fetch(this.url, { headers, cache: "no-store", signal: this.controller.signal });
        if (!response.ok || !response.body) {
          // As EventSource does on an error answer: closed for good.
          this.readyState = CLOSED;
          this.dispatchEvent(new Event("error"));
          return;
        }
        this.readyState = OPEN;
        await this.read(response.body);
      } catch {
        if (this.readyState === CLOSED) return; // close() aborted the read
      }
      if (this.readyState === CLOSED) return;
      this.readyState = CONNECTING;
      this.dispatchEvent(new Event("error"));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // A CR at the end may be the first half of a CRLF: keep it for the next chunk.
      const held = buffer.endsWith("\r") ? "\r" : "";
      let text = (held ? buffer.slice(0, -1) : buffer).replace(/\r\n?/g, "\n");
      for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
        this.dispatch(text.slice(0, end));
        text = text.slice(end + 2);
      }
      buffer = text + held;
    }
  }

  dispatch(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") this.lastEventId = value;
    }
    if (data.length === 0 || this.readyState === CLOSED) return;
    this.dispatchEvent(new MessageEvent(type, { data: data.join("\n"), lastEventId: this.lastEventId }));
  }
}

/** A URL the page may give an <audio> element or a link: the URL itself without a key;
 * with one, the file fetched with it, as a blob: URL (call URL.revokeObjectURL later). */
export async function keyedUrl(url, requestId) {
  if (!apiKey()) return url;
  const response = await get(url, requestId);
  return URL.createObjectURL(await response.blob());
}
