// The piano roll: one SVG rect per note, time across, pitch up.

const SVG = "http://www.w3.org/2000/svg";
const DRUM_CHANNEL = 9;
// A colour a track, each 4.7:1 or more against the roll's background; drums in grey.
const TRACK_COLOURS = ["#1f5fa8", "#b8451f", "#2f7d32", "#7b3fa0", "#8a6d00", "#0f7c80"];
const DRUM_COLOUR = "#6b6b6b";
const WIDTH = 1000;
const ROW = 6; // height of one semitone, in SVG units

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Bar lines: one every bar of the first meter (4/4 when the file names none). */
function barTicks(song) {
  const meter = song.meters[0] ?? { numerator: 4, denominator: 4 };
  const span = (song.ticksPerBeat * 4 * meter.numerator) / meter.denominator;
  const ticks = [];
  for (let tick = 0; tick <= song.endTick; tick += span) ticks.push(tick);
  return ticks;
}

function colourOf(note, order) {
  return note.channel === DRUM_CHANNEL ? DRUM_COLOUR : TRACK_COLOURS[order % TRACK_COLOURS.length];
}

/** A small square of ``colour``, for the legend (an SVG attribute, which the CSP allows). */
export function swatch(colour) {
  const svg = element("svg", { width: 12, height: 12, "aria-hidden": "true" });
  svg.append(element("rect", { width: 12, height: 12, fill: colour }));
  return svg;
}

/**
 * Draw ``song`` (from parseMidi) into ``container``; returns what was drawn:
 * {notes, tracks, lowest, highest, bars, legend: [{name, colour, notes}]}.
 */
export function drawPianoRoll(container, song) {
  const voiced = song.tracks.filter((track) => track.notes.length > 0);
  const notes = voiced.flatMap((track, order) => track.notes.map((note) => ({ ...note, order })));
  const legend = voiced.map((track, order) => ({
    name: track.name || `track ${track.index + 1}`,
    colour: colourOf(track.notes[0], order),
    notes: track.notes.length,
  }));
  container.replaceChildren();
  if (notes.length === 0) return { notes: 0, tracks: 0, lowest: null, highest: null, bars: 0, legend };

  const pitches = notes.map((note) => note.pitch);
  const lowest = Math.min(...pitches);
  const highest = Math.max(...pitches);
  const height = (highest - lowest + 1) * ROW;
  const scale = WIDTH / Math.max(1, song.endTick);
  const bars = barTicks(song);
  const svg = element("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    class: "roll-svg",
  });
  svg.append(element("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#fbfbf8" }));
  for (const tick of bars) {
    svg.append(element("line", { x1: tick * scale, x2: tick * scale, y1: 0, y2: height, class: "bar" }));
  }
  for (const note of notes) {
    svg.append(
      element("rect", {
        class: "note",
        x: note.start * scale,
        y: (highest - note.pitch) * ROW,
        width: Math.max(1.5, (note.end - note.start) * scale),
        height: ROW - 1,
        fill: colourOf(note, note.order),
        "fill-opacity": 0.45 + (0.55 * note.velocity) / 127,
      }),
    );
  }
  const drawn = { notes: notes.length, tracks: voiced.length, lowest, highest, bars: bars.length - 1, legend };
  svg.setAttribute(
    "aria-label",
    `Piano roll: ${drawn.notes} notes on ${drawn.tracks} tracks, MIDI pitches ${lowest} to ${highest}, ${drawn.bars} bars.`,
  );
  container.append(svg);
  return drawn;
}
