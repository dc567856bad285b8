// A Standard MIDI File reader: just what a piano roll needs (notes, tempo, meter).
// Hand-written instead of a vendored library; docs/studio.md says why.

/** A byte cursor over one chunk of the file. */
class Cursor {
  constructor(bytes, start, end) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }
  byte() {
    if (this.pos >= this.end) throw new Error("MIDI file ends inside an event");
    return this.bytes[this.pos++];
  }
  /** A variable-length quantity (7 bits a byte, high bit = more follows). */
  vlq() {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.byte();
      value = (value << 7) | (b & 0x7f);
      if (!(b & 0x80)) return value;
    }
    throw new Error("MIDI variable-length number longer than 4 bytes");
  }
  take(length) {
    if (this.pos + length > this.end) throw new Error("MIDI file ends inside an event");
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return slice;
  }
}

const ascii = (bytes) => String.fromCharCode(...bytes);
const u16 = (b, at) => (b[at] << 8) | b[at + 1];
const u32 = (b, at) => ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];

/** Every chunk of the file: {type, start, end} (start/end of the data). */
function chunks(bytes) {
  const found = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    const length = u32(bytes, at + 4);
    found.push({ type: ascii(bytes.subarray(at, at + 4)), start: at + 8, end: at + 8 + length });
    at += 8 + length;
  }
  if (at > bytes.length) throw new Error("MIDI file is cut short");
  return found;
}

/** One track's notes (note-on paired with its note-off) and meta events. */
function readTrack(bytes, chunk, index, song) {
  const cursor = new Cursor(bytes, chunk.start, chunk.end);
  const open = new Map(); // "channel:pitch" -> starts not yet ended, oldest first
  const track = { index, name: "", notes: [] };
  let tick = 0;
  let running = 0;
  while (cursor.pos < cursor.end) {
    tick += cursor.vlq();
    let status = cursor.byte();
    if (status === 0xff) {
      const type = cursor.byte();
      const data = cursor.take(cursor.vlq());
      if (type === 0x03 && !track.name) track.name = new TextDecoder().decode(data);
      else if (type === 0x51) song.tempos.push({ tick, usPerBeat: (data[0] << 16) | (data[1] << 8) | data[2] });
      else if (type === 0x58) song.meters.push({ tick, numerator: data[0], denominator: 2 ** data[1] });
      else if (type === 0x2f) break;
      continue;
    }
    if (status === 0xf0 || status === 0xf7) {
      cursor.take(cursor.vlq());
      continue;
    }
    if (status < 0x80) {
      if (!running) throw new Error("MIDI data byte without a status");
      cursor.pos--; // running status: this byte is the first data byte
      status = running;
    } else {
      running = status;
    }
    const kind = status & 0xf0;
    const channel = status & 0x0f;
    const first = cursor.byte();
    const second = kind === 0xc0 || kind === 0xd0 ? 0 : cursor.byte();
    const key = `${channel}:${first}`;
    if (kind === 0x90 && second > 0) {
      if (!open.has(key)) open.set(key, []);
      open.get(key).push({ tick, velocity: second });
    } else if (kind === 0x80 || kind === 0x90) {
      const start = open.get(key)?.shift();
      if (start) track.notes.push({ channel, pitch: first, velocity: start.velocity, start: start.tick, end: tick });
    }
  }
  song.endTick = Math.max(song.endTick, tick);
  for (const [key, starts] of open) {
    const [channel, pitch] = key.split(":").map(Number);
    for (const start of starts) track.notes.push({ channel, pitch, velocity: start.velocity, start: start.tick, end: tick });
  }
  return track;
}

/**
 * Parse SMF bytes (an ArrayBuffer or Uint8Array) into
 * {format, ticksPerBeat, tracks: [{index, name, notes: [{channel, pitch, velocity, start, end}]}],
 *  tempos: [{tick, usPerBeat}], meters: [{tick, numerator, denominator}], endTick}.
 */
export function parseMidi(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const all = chunks(bytes);
  const header = all[0];
  if (!header || header.type !== "MThd" || header.end - header.start < 6) {
    throw new Error("not a Standard MIDI File (no MThd header)");
  }
  const format = u16(bytes, header.start);
  const division = u16(bytes, header.start + 4);
  if (division & 0x8000) throw new Error("SMPTE-timed MIDI files are not supported");
  const song = { format, ticksPerBeat: division, tracks: [], tempos: [], meters: [], endTick: 0 };
  all.filter((c) => c.type === "MTrk").forEach((chunk, index) => {
    song.tracks.push(readTrack(bytes, chunk, index, song));
  });
  return song;
}
