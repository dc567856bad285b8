// Talking to kmidi over HTTP: request IDs, JSON posts, and errors put into words.

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
      headers: { "Content-Type": "application/json", "X-Request-ID": requestId },
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
    response = await fetch(url, { headers: { "X-Request-ID": requestId } });
  } catch (err) {
    throw new StudioError(`Could not reach the results service at ${new URL(url).origin} (${err.message}).`, requestId);
  }
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    throw new StudioError(sentenceFor(response.status, answer, response), requestId, detailLines(answer));
  }
  return response;
}
