// The studio page: submit an intent or talk it through, follow its status live over
// Server-Sent Events, then show the reading, the plan, the piano roll, audio and downloads.

import { StudioError, apiKey, get, keyedUrl, newRequestId, openEvents, postJson, setApiKey } from "./api.js";
import { drawPianoRoll, swatch } from "./pianoroll.js";
import { parseMidi } from "./smf.js";

const $ = (id) => document.getElementById(id);
const STATUS_WORDS = {
  accepted: "Accepted: the intent is on its way to the composer.",
  processing: "Reading the words and planning the piece…",
  completed: "Composed.",
};

let current = null; // {requestId, events, urls} of the piece being followed
const conversation = { sessionId: null, pending: null };

// ------------------------------------------------------------------ status and errors

function say(text) {
  $("status").textContent = text;
}

function showSteps(status) {
  const order = ["accepted", "processing", "completed"];
  const reached = order.indexOf(status);
  for (const item of $("steps").children) {
    const index = order.indexOf(item.dataset.step);
    item.classList.toggle("done", index <= reached);
    if (index === reached) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
}

function showError(error) {
  const box = $("error");
  const { requestId } = error; // none for a check made here, before anything was sent
  const lines = [error.message, ...(error.details ?? [])];
  box.replaceChildren(
    ...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })),
  );
  if (requestId) {
    const quote = document.createElement("p");
    quote.append("Request ID: ", Object.assign(document.createElement("code"), { textContent: requestId }));
    box.append(quote);
  }
  box.hidden = false;
  document.body.dataset.state = "error";
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

// ------------------------------------------------------------------ building requests

function value(id) {
  return $(id).value.trim();
}

function outputChoice() {
  const [format, audio] = $("output").value.split(":");
  // Only non-default choices are sent, so the body stays the seed service's shape.
  return format === "audio" ? { output_format: "audio", audio_format: audio } : {};
}

function numberOrNothing(id) {
  const text = value(id);
  return text === "" ? undefined : Number(text);
}

function generateBody() {
  const technical = {
    key: value("key") || undefined,
    bpm: numberOrNothing("bpm"),
    genre: value("genre") || undefined,
    time_signature: value("time-signature") || undefined,
    length_bars: numberOrNothing("length-bars"),
  };
  const intent = {
    emotional_intent: value("emotional-intent"),
    core_wound: value("core-wound") || undefined,
    core_desire: value("core-desire") || undefined,
    technical: Object.values(technical).some((v) => v !== undefined) ? technical : undefined,
  };
  return { intent, seed: numberOrNothing("seed"), ...outputChoice() };
}

// ------------------------------------------------------------------ following a piece

function begin(requestId) {
  current?.events?.close();
  for (const url of current?.urls ?? []) URL.revokeObjectURL(url);
  current = { requestId, events: null, urls: [] };
  clearError();
  $("result").hidden = true;
  showAudio({}); // no player of an earlier piece while this one's audio is made
  showSteps(null);
  document.body.dataset.state = "submitting";
  say("Sending…");
  // On a phone the status is a screen away from the button that was pressed.
  $("status-heading").scrollIntoView({ block: "start" });
}

function follow(accepted) {
  const piece = current;
  piece.requestId = accepted.request_id;
  showSteps("accepted");
  say(`${STATUS_WORDS.accepted} Request ID ${accepted.request_id}.`);
  document.body.dataset.state = "waiting";
  // The address names the piece, so a reload or a shared link follows it again.
  history.replaceState(null, "", `#piece=${encodeURIComponent(accepted.status_url)}`);
  const events = openEvents(`${accepted.status_url}/events`);
  piece.events = events;
  let shown = false;
  events.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    showSteps(status.status);
    if (status.status === "failed") {
      events.close();
      const error = status.error ?? {};
      const where = error.stage ? ` in the ${error.stage} stage` : "";
      showError(new StudioError(`The piece could not be made${where}: ${error.message ?? "no reason given"} (${error.code ?? "error"}).`, piece.requestId));
      say("Failed.");
      return;
    }
    if (status.status !== "completed") {
      say(STATUS_WORDS[status.status] ?? status.status);
      return;
    }
    const audioPending = status.audio_status === "pending";
    if (!shown) {
      shown = true;
      showResult(accepted, piece).catch(showError);
    }
    if (audioPending) {
      say("Composed. The audio is being rendered…");
      $("audio-area").replaceChildren(Object.assign(document.createElement("p"), { textContent: "The audio is being rendered…" }));
      return; // the stream (or its reconnection) brings the audio
    }
    events.close();
    showAudio(status);
    const audioError = (status.artifact_errors ?? []).find((e) => e.kind === "audio");
    say(audioError ? `Composed, MIDI only: the audio could not be made (${audioError.message}).` : STATUS_WORDS.completed);
  });
  events.addEventListener("error", (event) => {
    if (event.data) {
      // The server's own "error" event: the request left the results view.
      events.close();
      const body = JSON.parse(event.data);
      showError(new StudioError(`The results service lost this request: ${body.message ?? body.code}`, piece.requestId));
    } else if (events.readyState === EventSource.CLOSED) {
      showError(new StudioError(`The status stream of the results service at ${new URL(accepted.status_url).origin} could not be opened.`, piece.requestId));
    } else {
      say("Connection to the results service lost; reconnecting…");
    }
  });
}

async function showResult(accepted, piece) {
  const [detail, midi] = await Promise.all([
    get(`${accepted.status_url}?format=json`, piece.requestId).then((r) => r.json()),
    get(accepted.result_url, piece.requestId).then((r) => r.arrayBuffer()),
  ]);
  if (piece !== current) return; // a newer submission replaced this one
  showReading(detail.affect ?? {});
  showPlan(detail.plan ?? {});
  showRoll(midi);
  const link = $("midi-download");
  if (apiKey()) {
    // A plain link would go without the key: offer the bytes already fetched instead.
    link.href = URL.createObjectURL(new Blob([midi], { type: "audio/midi" }));
    piece.urls.push(link.href);
  } else {
    link.href = accepted.result_url;
  }
  link.download = `kmidi-${piece.requestId}.mid`;
  link.textContent = `Download MIDI (${(midi.byteLength / 1024).toFixed(1)} KB)`;
  $("result").hidden = false;
  document.body.dataset.state = "completed";
}

function showRoll(midi) {
  const started = performance.now();
  const song = parseMidi(midi);
  const drawn = drawPianoRoll($("roll"), song);
  const milliseconds = performance.now() - started;
  $("roll").dataset.milliseconds = milliseconds.toFixed(2);
  $("roll-caption").textContent = drawn.notes
    ? `${drawn.notes} notes on ${drawn.tracks} tracks over ${drawn.bars} bars (read and drawn in ${milliseconds.toFixed(1)} ms).`
    : "The file has no notes.";
  $("roll-legend").replaceChildren(
    ...drawn.legend.map((track) => {
      const item = document.createElement("li");
      item.append(swatch(track.colour), ` ${track.name} (${track.notes} notes)`);
      return item;
    }),
  );
}

function showAudio(status) {
  // Over HTTP an artifact's uri is its download URL (docs/results.md).
  const artifact = (status.artifacts ?? []).find((a) => a.kind === "audio");
  const area = $("audio-area");
  const link = $("audio-download");
  $("files-heading").textContent = artifact ? "Listen and download" : "Download";
  if (!artifact) {
    area.replaceChildren();
    link.hidden = true;
    return;
  }
  if (!apiKey()) {
    showPlayer(artifact, artifact.uri);
    return;
  }
  // An <audio> element cannot send the key: it plays the file fetched with it.
  const piece = current;
  keyedUrl(artifact.uri, piece.requestId)
    .then((source) => {
      if (piece !== current) return URL.revokeObjectURL(source); // a newer piece came
      piece.urls.push(source);
      showPlayer(artifact, source);
    })
    .catch(showError);
}

function showPlayer(artifact, source) {
  const area = $("audio-area");
  const link = $("audio-download");
  const player = Object.assign(document.createElement("audio"), { controls: true, preload: "metadata" });
  player.id = "player";
  player.setAttribute("aria-label", "The piece as audio");
  player.append(Object.assign(document.createElement("source"), { src: source, type: artifact.media_type }));
  area.replaceChildren(player);
  link.href = artifact.uri;
  const size = artifact.size ? `, ${(artifact.size / 1024).toFixed(0)} KB` : "";
  link.textContent = `Download audio (${artifact.media_type}${size})`;
  link.hidden = false;
}

/** Save the audio: the results service is another origin, where ``download`` is ignored
 * and its inline file would replace this page, so the file is fetched and saved from here. */
async function saveAudio(event) {
  event.preventDefault();
  const link = event.currentTarget;
  try {
    const response = await get(link.href, current.requestId);
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `kmidi-${current.requestId}`;
    const url = URL.createObjectURL(await response.blob());
    Object.assign(document.createElement("a"), { href: url, download: name }).click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ reading and plan

function facts(list, entries) {
  list.replaceChildren();
  for (const [term, text] of entries) {
    if (text === undefined || text === null || text === "") continue;
    list.append(
      Object.assign(document.createElement("dt"), { textContent: term }),
      Object.assign(document.createElement("dd"), { textContent: String(text) }),
    );
  }
}

const signed = (x) => (typeof x === "number" ? (x >= 0 ? "+" : "") + x.toFixed(2) : undefined);

function showReading(affect) {
  facts($("reading"), [
    ["Emotion", affect.primary],
    ["Also", affect.secondary],
    ["Intensity", affect.intensity?.toFixed(2)],
    ["Valence (sad − happy +)", signed(affect.valence)],
    ["Arousal (calm − excited +)", signed(affect.arousal)],
    ["Confidence", affect.confidence?.toFixed(2)],
    ["Language", affect.language],
  ]);
  const words = affect.evidence ?? [];
  $("evidence").replaceChildren(
    ...(words.length ? words : ["(no single word decided it)"]).map((word) =>
      Object.assign(document.createElement("li"), { textContent: word }),
    ),
  );
}

/** The first chords of the plan's progression, by name. */
function chordNames(progression, shown = 8) {
  if (!Array.isArray(progression) || progression.length === 0) return undefined;
  const names = progression.slice(0, shown).map((chord) => chord.symbol ?? String(chord));
  return names.join(" – ") + (progression.length > shown ? " …" : "");
}

function showPlan(plan) {
  const key = plan.key_tonic ? `${plan.key_tonic} ${plan.key_mode ?? ""}`.trim() : undefined;
  facts($("plan"), [
    ["Key", key],
    ["Tempo", plan.tempo_bpm ? `${Math.round(plan.tempo_bpm)} bpm` : undefined],
    ["Meter", plan.time_signature],
    ["Length", plan.length_bars ? `${plan.length_bars} bars` : undefined],
    ["Genre", plan.instrumentation?.genre],
    ["Chords", chordNames(plan.progression)],
  ]);
  $("explanations").replaceChildren(
    ...(plan.explanations ?? []).map((line) => Object.assign(document.createElement("li"), { textContent: line })),
  );
}

// ------------------------------------------------------------------ the two forms

async function submitIntent(event) {
  event.preventDefault();
  const body = generateBody();
  if (!body.intent.emotional_intent) {
    $("emotional-intent").focus();
    showError(new StudioError("Please say what you feel first: the first field is required."));
    return;
  }
  const requestId = newRequestId();
  begin(requestId);
  try {
    follow(await postJson("/v1/generate", body, requestId));
  } catch (error) {
    say("Not submitted.");
    showError(error);
  }
}

function addTurn(speaker, text) {
  const item = document.createElement("li");
  item.className = speaker;
  item.append(Object.assign(document.createElement("strong"), { textContent: speaker === "you" ? "You: " : "kmidi: " }), text);
  $("conversation").append(item);
}

function showSuggestions(suggestions) {
  $("suggestions").replaceChildren(
    ...suggestions.map((text) => {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: text, className: "chip" });
      button.addEventListener("click", () => {
        $("talk-message").value = text;
        $("talk-message").focus();
      });
      return button;
    }),
  );
}

async function sendTurn(event) {
  event.preventDefault();
  const message = value("talk-message");
  if (!message) {
    $("talk-message").focus();
    showError(new StudioError("Write a message first."));
    return;
  }
  const submit = event.submitter?.value === "compose";
  // A resent turn keeps its request ID, so the stage answers it once (docs/api.md).
  const same = conversation.pending?.message === message && conversation.pending?.submit === submit;
  const requestId = same ? conversation.pending.requestId : newRequestId();
  conversation.pending = { message, submit, requestId };
  clearError();
  if (!same) addTurn("you", message);
  say("kmidi is thinking about your message…");
  const body = { message, submit, session_id: conversation.sessionId ?? undefined, seed: numberOrNothing("seed"), ...outputChoice() };
  let reply;
  try {
    reply = await postJson("/v1/interrogate", body, requestId);
  } catch (error) {
    say("Message not answered; send it again to retry.");
    showError(error);
    return;
  }
  conversation.pending = null;
  conversation.sessionId = reply.session_id;
  $("talk-message").value = "";
  if (reply.question) addTurn("kmidi", reply.question);
  showSuggestions(reply.suggestions ?? []);
  if (reply.generation) {
    addTurn("kmidi", "I have what I need: composing it now.");
    begin(reply.generation.request_id);
    follow(reply.generation);
  } else if (submit) {
    say("Not ready to compose yet: answer kmidi's question first.");
  } else {
    say(reply.ready ? "kmidi understood enough: press “Send and compose” when you are ready." : "Answer kmidi's question to go on.");
  }
}

/** Follow the piece the address names (#piece=<status_url>), as its 202 described it. */
function followAddress() {
  const statusUrl = new URLSearchParams(location.hash.slice(1)).get("piece");
  if (!URL.canParse(statusUrl ?? "") || !/^https?:$/.test(new URL(statusUrl).protocol)) return;
  const requestId = new URL(statusUrl).pathname.split("/").pop();
  begin(requestId);
  follow({ request_id: requestId, status_url: statusUrl, result_url: `${statusUrl}/midi` });
}

/** With API keys on (the server marks the page), a field for the key, kept for this tab. */
function setUpKey() {
  if (document.body.dataset.apiKeys !== "on") return;
  $("key-section").hidden = false;
  const field = $("api-key");
  field.value = apiKey();
  field.addEventListener("input", () => setApiKey(field.value.trim()));
}

setUpKey();
$("intent-form").addEventListener("submit", submitIntent);
$("talk-form").addEventListener("submit", sendTurn);
$("audio-download").addEventListener("click", saveAudio);
window.addEventListener("hashchange", followAddress);
document.body.dataset.state = "ready";
followAddress();
