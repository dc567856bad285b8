"""Interrogation: refine an intent over several conversational turns.

``advance`` is pure and deterministic: (state, message) -> (new state, reply). State is a
plain JSON-able dict via ``ConversationState.to_dict`` so the pipeline can keep it in a
changelog-backed table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, cast

from kmidi.affect import Affect, analyse_text
from kmidi.emotions import PRESETS
from kmidi.language import detect
from kmidi.lexicon import read_data
from schemas.intent import GENRES, MAX_TEXT_CHARS

TECHNICAL_KEYS: Final = ("key", "bpm", "genre", "length_bars", "time_signature", "progression")
TOPICS: Final = ("feeling", "wound", "desire", "genre", "tempo")
"""Topics in order of usefulness; the next question is the first one still missing."""
READY_AFTER_TURNS: Final = 3
DEFAULT_BPM: Final = 96.0

_OPPOSITE: Final[Mapping[str, str]] = {
    "sadness": "calm", "fear": "tension_building", "anger": "defiance", "joy": "hope",
    "peace": "melancholy", "tenderness": "nostalgia", "nostalgia": "melancholy",
    "tension": "fear", "awe": "wonder", "detachment": "melancholy",
}  # fmt: skip
"""The preset offered beside an unsure reading that has no secondary one."""


@cache
def _dialogue(language: str) -> Mapping[str, Any]:
    """What the dialogue says in ``language`` (``data/dialogue.json``), else in English."""
    languages = read_data("dialogue.json")["languages"]
    return cast(Mapping[str, Any], languages.get(language, languages["en"]))


def _feeling_name(preset: str, language: str) -> str:
    names: Mapping[str, str] = _dialogue(language)["feelings"]
    return names.get(preset, preset.replace("_", " "))


# --- extractors -----------------------------------------------------------------------

_CLAUSE_END = (
    r"(?=[.!?;\n]|,\s*(?:and\s+)?(?:but|so|and i|i)\b"
    r"|\s+(?:and\s+|so\s+|but\s+)?i(?:'m|\s+am|\s+feel|\s+felt|'ve|\s+have|\s+just|\s+want|\s+wish|\s+need|\s+hope)\b|$)"
)
_WOUND_RES: Final = (
    re.compile(rf"\bbecause\s+(?:of\s+)?(?P<w>[^.!?;\n]{{3,}}?){_CLAUSE_END}", re.I),
    re.compile(
        rf"\b(?:ever\s+)?since\s+(?P<w>(?:my|our|his|her|the|i|we)\b[^.!?;\n]{{2,}}?){_CLAUSE_END}",
        re.I,
    ),
    re.compile(
        rf"\bafter\s+(?P<w>(?:i|we)\s+(?:lost|losing|got|was|were|had)\b[^.!?;\n]{{2,}}?){_CLAUSE_END}",
        re.I,
    ),
    re.compile(rf"\bafter\s+(?P<w>(?:my|our|the)\s+[^.!?;\n]{{2,}}?){_CLAUSE_END}", re.I),
)
_DESIRE_RES: Final = (
    re.compile(
        r"\bi\s+(?:just\s+|really\s+|only\s+|so\s+)?(?:want|wish|need|long|yearn|hope|crave)"
        rf"\s+(?:(?:to|for|that|i\s+could)\s+)?(?P<d>[^.!?;\n]{{2,}}?){_CLAUSE_END}",
        re.I,
    ),
    re.compile(rf"\bi\s+just\s+want\s+(?P<d>[^.!?;\n]{{2,}}?){_CLAUSE_END}", re.I),
    re.compile(rf"\bi\s+wish\s+(?P<d>[^.!?;\n]{{2,}}?){_CLAUSE_END}", re.I),
)
_REQUEST_WORDS: Final = re.compile(
    r"\b(?:song|track|piece|music|tune|melody|bpm|bars?|key|make|generate|compose|write|play|"
    r"minutes?|tempo|genre)\b",
    re.I,
)
_BPM_RE: Final = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats\s+(?:per|a)\s+minute)\b", re.I)
_TEMPO_WORDS: Final = (
    (re.compile(r"\b(?:very|really|super)\s+slow(?:ly)?\b", re.I), 56.0),
    (re.compile(r"\b(?:very|really|super)\s+(?:fast|quick)\b", re.I), 160.0),
    (re.compile(r"\b(?:slow(?:ly)?|unhurried|gently paced|downtempo)\b", re.I), 70.0),
    (re.compile(r"\b(?:fast|quick|up-?tempo|energetic|driving)\b", re.I), 132.0),
    (re.compile(r"\b(?:moderate|mid-?tempo|medium(?:\s+tempo)?|walking pace)\b", re.I), 100.0),
)
_MODE_WORDS: Final = {
    "major": "major",
    "maj": "major",
    "minor": "minor",
    "min": "minor",
    "m": "minor",
    "ionian": "ionian",
    "dorian": "dorian",
    "phrygian": "phrygian",
    "lydian": "lydian",
    "mixolydian": "mixolydian",
    "aeolian": "aeolian",
    "locrian": "locrian",
}
_ACCIDENTALS: Final = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}
_MODE_ALT = "major|maj|minor|min|ionian|dorian|phrygian|lydian|mixolydian|aeolian|locrian"
_KEY_RES: Final = (
    # "key of F#", "key: Bb minor", "in the key of d dorian"
    re.compile(
        rf"\bkey(?:\s+of|:)?\s+(?P<t>[A-Ga-g])(?P<a>#|♯|♭|b(?=m\b|[^a-z]|$)|\s+sharp|\s+flat)?"
        rf"(?:\s*(?P<m>{_MODE_ALT})\b|(?P<mm>m)\b)?",
        re.I,
    ),
    # "in D minor", "in f# minor", "in Ebm", "in A" (capital tonic only when bare)
    re.compile(
        rf"\bin\s+(?P<t>[A-Ga-g])(?P<a>#|♯|♭|b(?=m\b|[^a-z]|$)|\s+sharp|\s+flat)?"
        rf"(?:\s*(?P<m>{_MODE_ALT})\b|(?P<mm>m)\b)",
        re.I,
    ),
    re.compile(r"\bin\s+(?P<t>[A-G])(?P<a>#|♯|♭|b)?(?P<m>)(?P<mm>)(?![\w'&])"),
)
_GENRE_SYNONYMS: Final[Mapping[str, str]] = {
    "ambient": "ambient",
    "drone": "ambient",
    "atmospheric": "ambient",
    "new age": "ambient",
    "soundscape": "ambient",
    "blues": "blues",
    "bluesy": "blues",
    "classical": "classical",
    "baroque": "classical",
    "string quartet": "classical",
    "chamber music": "classical",
    "romantic era": "classical",
    "symphonic": "classical",
    "orchestral": "cinematic",
    "cinematic": "cinematic",
    "film score": "cinematic",
    "movie score": "cinematic",
    "soundtrack": "cinematic",
    "trailer": "cinematic",
    "epic": "cinematic",
    "electronic": "electronic",
    "electronica": "electronic",
    "lofi": "electronic",
    "lo-fi": "electronic",
    "lo fi": "electronic",
    "edm": "electronic",
    "techno": "electronic",
    "house": "electronic",
    "trance": "electronic",
    "synthwave": "electronic",
    "synth": "electronic",
    "synths": "electronic",
    "dubstep": "electronic",
    "drum and bass": "electronic",
    "hip hop": "electronic",
    "hip-hop": "electronic",
    "trip hop": "electronic",
    "experimental": "experimental",
    "avant-garde": "experimental",
    "avant garde": "experimental",
    "glitch": "experimental",
    "noise": "experimental",
    "folk": "folk",
    "acoustic": "folk",
    "singer-songwriter": "folk",
    "country": "folk",
    "bluegrass": "folk",
    "celtic": "folk",
    "funk": "funk",
    "funky": "funk",
    "disco": "funk",
    "groovy": "funk",
    "jazz": "jazz",
    "jazzy": "jazz",
    "swing": "jazz",
    "bebop": "jazz",
    "bossa nova": "jazz",
    "smooth jazz": "jazz",
    "pop": "pop",
    "synthpop": "pop",
    "synth-pop": "pop",
    "k-pop": "pop",
    "rock": "rock",
    "metal": "rock",
    "punk": "rock",
    "grunge": "rock",
    "indie": "rock",
    "guitar": "rock",
    "soul": "soul",
    "soulful": "soul",
    "r&b": "soul",
    "rnb": "soul",
    "gospel": "soul",
    "motown": "soul",
    "neo-soul": "soul",
}
_GENRE_RE: Final = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(s) for s in sorted(_GENRE_SYNONYMS, key=len, reverse=True))
    + r")(?![\w-])",
    re.I,
)
_BARS_RE: Final = re.compile(r"\b(\d{1,3})\s*(?:-\s*)?(?:bars?|measures?)\b", re.I)
_NUMBER_WORDS: Final = {
    "a": 1.0,
    "an": 1.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "half a": 0.5,
    "a couple of": 2.0,
    "couple of": 2.0,
}
_DURATION_RE: Final = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?|half a|a couple of|couple of|an?|one|two|three|four|five)"
    r"(?P<half>\s+and\s+a\s+half)?\s*(?P<u>minutes?|mins?|seconds?|secs?)\b"
    r"(?P<half2>\s+and\s+a\s+half)?",
    re.I,
)
_TIME_SIG_RE: Final = re.compile(r"(?<![\d/])(2/4|3/4|4/4|5/4|6/8|7/8|9/8|12/8)(?![\d/])")
_TIME_SIG_WORDS: Final = (
    (re.compile(r"\b(?:waltz|in three|triple (?:time|meter|metre))\b", re.I), "3/4"),
    (re.compile(r"\b(?:jig|lilting)\b", re.I), "6/8"),
    (re.compile(r"\b(?:common time|four on the floor)\b", re.I), "4/4"),
)
_CHORD = r"[A-G][#b]?(?:maj7|m7|m|7|dim|aug|sus[24])?"
_ROMAN = r"b?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?:°|o|\+|7)?"
_PROGRESSION_RES: Final = (
    re.compile(rf"(?<![\w-])({_ROMAN}(?:\s*[-–]\s*{_ROMAN}){{2,}})(?![\w-])"),
    re.compile(rf"(?<![\w#])({_CHORD}(?:(?:\s*[-–,]\s*|\s+){_CHORD}){{2,}})(?![\w#])"),
)
_GO_AHEAD_RE: Final = re.compile(
    r"\b(?:go ahead|go for it|generate(?: it)?|that'?s all|thats all|just make it|make it now|"
    r"make it already|nothing else|surprise me|compose it|create it|start composing|"
    r"that'?s enough|let'?s hear it)\b",
    re.I,
)
_WHITESPACE: Final = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip(" ,.;:-")


def extract_wound(message: str) -> str | None:
    """The hurt behind the feeling: "because …", "since my … died", "after I lost …"."""
    for pattern in _WOUND_RES:
        match = pattern.search(message)
        if match:
            wound = _clean(match.group("w"))
            if len(wound) >= 3:
                return wound
    return None


def extract_desire(message: str) -> str | None:
    """What they long for: "I want/wish/need/long to …", "I just want …"."""
    for pattern in _DESIRE_RES:
        match = pattern.search(message)
        if match:
            desire = _clean(match.group("d"))
            if len(desire) >= 2 and not _REQUEST_WORDS.search(desire):
                return desire
    return None


def extract_bpm(message: str) -> float | None:
    """An explicit tempo ("90 bpm") or a hint from words ("slow", "fast")."""
    match = _BPM_RE.search(message)
    if match:
        bpm = float(match.group(1))
        return bpm if 40.0 <= bpm <= 240.0 else None
    for pattern, bpm in _TEMPO_WORDS:
        if pattern.search(message):
            return bpm
    return None


def extract_key(message: str) -> str | None:
    """A key such as "D minor", "F#", "Bb dorian"."""
    for pattern in _KEY_RES:
        match = pattern.search(message)
        if match is None:
            continue
        tonic = match.group("t").upper()
        accidental = _ACCIDENTALS.get((match.group("a") or "").strip().lower(), "")
        mode_word = (match.group("m") or "").lower() or (match.group("mm") or "").lower()
        mode = _MODE_WORDS.get(mode_word, "")
        return f"{tonic}{accidental} {mode}".strip()
    return None


def extract_genre(message: str) -> str | None:
    """A genre from ``schemas.intent.GENRES``, matched by name or near synonym."""
    match = _GENRE_RE.search(message)
    if match is None:
        return None
    genre = _GENRE_SYNONYMS[match.group(1).lower()]
    return genre if genre in GENRES else None


def extract_time_signature(message: str) -> str | None:
    """ "in 6/8", "3/4", or a word such as "waltz"."""
    match = _TIME_SIG_RE.search(message)
    if match:
        return match.group(1)
    for pattern, signature in _TIME_SIG_WORDS:
        if pattern.search(message):
            return signature
    return None


def extract_progression(message: str) -> str | None:
    """Roman numerals ("i-VI-III-VII") or chord symbols ("Am F C G")."""
    for pattern in _PROGRESSION_RES:
        match = pattern.search(message)
        if match:
            progression = _clean(match.group(1))
            if len(progression) <= 64:
                return progression
    return None


def _quarters_per_bar(time_signature: str | None) -> float:
    if not time_signature:
        return 4.0
    top, bottom = time_signature.split("/")
    return int(top) * 4.0 / int(bottom)


def extract_length_bars(
    message: str, *, bpm: float | None = None, time_signature: str | None = None
) -> int | None:
    """ "32 bars", or a duration ("about 2 minutes") converted to bars at ``bpm``."""
    match = _BARS_RE.search(message)
    if match:
        bars = int(match.group(1))
        return bars if 1 <= bars <= 256 else None
    duration = _DURATION_RE.search(message)
    if duration is None:
        return None
    raw = duration.group("n").lower()
    amount = _NUMBER_WORDS[raw] if raw in _NUMBER_WORDS else float(raw)
    if duration.group("half") or duration.group("half2"):
        amount += 0.5
    seconds = amount * (60.0 if duration.group("u").lower().startswith("min") else 1.0)
    beats = seconds * (bpm or DEFAULT_BPM) / 60.0
    bars = round(beats / _quarters_per_bar(time_signature))
    return max(1, min(256, bars)) if seconds > 0 else None


def wants_to_go_ahead(message: str) -> bool:
    """The user asked to stop refining and generate ("go ahead", "just make it")."""
    return _GO_AHEAD_RE.search(message) is not None


# --- state ----------------------------------------------------------------------------


def _bounded(text: str) -> str:
    """Keep accumulated text within the intent's limit, dropping the oldest words."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    tail = text[-MAX_TEXT_CHARS:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < 200 else tail


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Everything known about one interrogation session; JSON-able via ``to_dict``."""

    session_id: str
    turn: int = 0
    emotional_intent: str = ""
    core_wound: str | None = None
    core_desire: str | None = None
    technical: dict[str, Any] = field(default_factory=dict)
    asked: tuple[str, ...] = ()
    """Questions already asked, as "topic#n" (topic, phrasing index)."""
    affect: dict[str, Any] | None = None
    go_ahead: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "turn": self.turn,
            "emotional_intent": self.emotional_intent,
            "core_wound": self.core_wound,
            "core_desire": self.core_desire,
            "technical": dict(self.technical),
            "asked": list(self.asked),
            "affect": dict(self.affect) if self.affect is not None else None,
            "go_ahead": self.go_ahead,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationState:
        """Rebuild from ``to_dict`` output; unknown keys are ignored, missing ones defaulted."""
        technical = data.get("technical") or {}
        affect = data.get("affect")
        return cls(
            session_id=str(data.get("session_id", "")),
            turn=int(data.get("turn", 0)),
            emotional_intent=str(data.get("emotional_intent") or ""),
            core_wound=data.get("core_wound"),
            core_desire=data.get("core_desire"),
            technical={k: v for k, v in dict(technical).items() if k in TECHNICAL_KEYS},
            asked=tuple(str(item) for item in data.get("asked", ())),
            affect=dict(affect) if isinstance(affect, Mapping) else None,
            go_ahead=bool(data.get("go_ahead", False)),
        )

    def intent(self) -> dict[str, Any]:
        """The intent so far, in the shape of ``schemas.intent.Intent``."""
        return {
            "emotional_intent": self.emotional_intent,
            "core_wound": self.core_wound,
            "core_desire": self.core_desire,
            "technical": {k: v for k, v in self.technical.items() if v is not None},
        }


@dataclass(frozen=True, slots=True)
class InterrogationReply:
    """One answer of the dialogue: what was understood, and what to ask next."""

    session_id: str
    turn: int
    extracted: dict[str, Any]
    intent: dict[str, Any]
    affect: dict[str, Any] | None
    ready: bool
    question: str | None
    suggestions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "turn": self.turn,
            "extracted": dict(self.extracted),
            "intent": dict(self.intent),
            "affect": dict(self.affect) if self.affect is not None else None,
            "ready": self.ready,
            "question": self.question,
            "suggestions": list(self.suggestions),
        }


# --- the dialogue ---------------------------------------------------------------------


def _last_topic(asked: tuple[str, ...]) -> str | None:
    return asked[-1].split("#", 1)[0] if asked else None


def _known(state: ConversationState, topic: str, emotion_known: bool) -> bool:
    if topic == "feeling":
        return emotion_known
    if topic == "wound":
        return state.core_wound is not None
    if topic == "desire":
        return state.core_desire is not None
    if topic == "genre":
        return state.technical.get("genre") is not None
    return state.technical.get("bpm") is not None


def _next_question(
    state: ConversationState, emotion_known: bool, language: str
) -> tuple[str, str] | None:
    """(asked-marker, question) for the most useful missing topic never asked this way."""
    for topic in TOPICS:
        if _known(state, topic, emotion_known):
            continue
        used = sum(1 for marker in state.asked if marker.split("#", 1)[0] == topic)
        phrasings = _dialogue(language)["questions"][topic]
        if used < len(phrasings):
            return f"{topic}#{used}", phrasings[used]
        if topic == "feeling":
            return None  # every phrasing tried and still no feeling: stop insisting
    return None


def _clarifying_question(
    state: ConversationState, affect: Affect, language: str
) -> tuple[str, list[str]] | None:
    """One concrete question when a feeling was read but the reading is unsure, asked once
    and not after "go ahead": which of the two likeliest feelings is it?"""
    if affect.primary == "neutral" or not affect.unsure or state.go_ahead:
        return None
    if any(marker.startswith("clarify#") for marker in state.asked):
        return None
    first = _feeling_name(affect.primary, language)
    other = affect.secondary or _OPPOSITE.get(PRESETS[affect.primary].family, "calm")
    second = _feeling_name(other, language)
    return _dialogue(language)["clarify"].format(first=first, second=second), [first, second]


def _extract(message: str, state: ConversationState) -> dict[str, Any]:
    """What ``message`` says: the feeling, the wound, the desire, technical wishes, and
    whether to go ahead."""
    go_ahead = wants_to_go_ahead(message)
    technical = _technical_found(message, state)
    substantive = len(message.split()) >= 2 and not go_ahead and not technical
    wound, desire = _wound_and_desire(message, _last_topic(state.asked), substantive=substantive)
    found: dict[str, Any] = {}
    reading = analyse_text(message)
    if reading.primary != "neutral":
        found["emotion"] = reading.primary
        found["emotional_text"] = _clean(message)
    if wound:
        found["core_wound"] = wound[:MAX_TEXT_CHARS]
    if desire:
        found["core_desire"] = desire[:MAX_TEXT_CHARS]
    found.update(technical)
    if go_ahead:
        found["go_ahead"] = True
    return found


def _technical_found(message: str, state: ConversationState) -> dict[str, Any]:
    """The technical wishes in ``message``; a tempo hinted by a word ("slow") does not
    replace one already known."""
    technical: dict[str, Any] = {}
    signature = extract_time_signature(message)
    if signature:
        technical["time_signature"] = signature
    bpm = extract_bpm(message)
    if bpm is not None and (_BPM_RE.search(message) or "bpm" not in state.technical):
        technical["bpm"] = bpm
    for key, extractor in (
        ("key", extract_key),
        ("genre", extract_genre),
        ("progression", extract_progression),
    ):
        value = extractor(message)
        if value is not None:
            technical[key] = value
    bars = _length_found(message, state, technical)
    if bars is not None:
        technical["length_bars"] = bars
    return technical


def _length_found(
    message: str, state: ConversationState, technical: Mapping[str, Any]
) -> int | None:
    """A length in bars; a duration counts at the tempo and meter known so far (without a
    tempo, at the tempo of the feeling read so far)."""
    tempo = technical.get("bpm") or state.technical.get("bpm")
    if tempo is None and state.affect and state.affect.get("primary") in PRESETS:
        tempo = PRESETS[state.affect["primary"]].tempo_suggested
    return extract_length_bars(
        message,
        bpm=tempo,
        time_signature=technical.get("time_signature") or state.technical.get("time_signature"),
    )


def _wound_and_desire(
    message: str, last_topic: str | None, *, substantive: bool
) -> tuple[str | None, str | None]:
    """The hurt and the longing in ``message``."""
    wound = extract_wound(message)
    desire = extract_desire(message)
    # A plain answer to "what happened?" is the wound even without "because".
    if wound is None and last_topic == "wound" and substantive and desire is None:
        wound = _clean(message)
    if desire is None and last_topic == "desire" and substantive and wound is None:
        desire = _clean(message)
    return wound, desire


def advance(
    state: ConversationState | None, message: str, *, session_id: str
) -> tuple[ConversationState, InterrogationReply]:
    """One turn: read ``message``, update the state, and say what to ask next (if anything)."""
    if state is None:
        state = ConversationState(session_id=session_id)
    message = (message or "")[:MAX_TEXT_CHARS]
    found = _extract(message, state)
    state = _with_found(state, found, session_id)
    affect = analyse_text(state.emotional_intent, wound=state.core_wound, desire=state.core_desire)
    emotion_known = affect.primary != "neutral"
    state = _with(state, affect=affect.to_dict())

    ready = emotion_known and _enough_to_compose(state)
    question: str | None = None
    suggestions: list[str] = []
    # Asked in the language of everything said so far (a bare "hola" included).
    said_so_far = (state.emotional_intent, state.core_wound, state.core_desire, message)
    language = detect(" ".join(part for part in said_so_far if part))
    clarify = _clarifying_question(state, affect, language)
    if clarify is not None:
        ready = False
        question, suggestions = clarify
        state = _with(state, asked=(*state.asked, "clarify#0"))
    elif not ready:
        again = not found and state.turn > 1
        following = _follow_up(state, emotion_known, language, again=again)
        if following is None:
            ready = True  # nothing left worth asking: go with what we have
        else:
            marker, question, suggestions = following
            state = _with(state, asked=(*state.asked, marker))
    if ready and not state.emotional_intent:
        state = _with_fallback_intent(state)
    return state, _reply(state, found, ready, question, suggestions)


def _with_found(
    state: ConversationState, found: Mapping[str, Any], session_id: str
) -> ConversationState:
    """``state`` one turn on, with what this turn's message said added."""
    emotional_intent = state.emotional_intent
    if "emotional_text" in found:
        # Keep turns apart as sentences: read as one run-on, a negation in one turn
        # could reach into the next.
        separator = " " if not emotional_intent or emotional_intent[-1] in ".!?…" else ". "
        joined = f"{emotional_intent}{separator}{found['emotional_text']}".strip()
        emotional_intent = _bounded(joined)
    technical = dict(state.technical)
    technical.update({k: found[k] for k in TECHNICAL_KEYS if k in found})
    return ConversationState(
        session_id=state.session_id or session_id,
        turn=state.turn + 1,
        emotional_intent=emotional_intent,
        core_wound=found.get("core_wound", state.core_wound),
        core_desire=found.get("core_desire", state.core_desire),
        technical=technical,
        asked=state.asked,
        affect=state.affect,
        go_ahead=state.go_ahead or bool(found.get("go_ahead")),
    )


def _enough_to_compose(state: ConversationState) -> bool:
    """Whether, the feeling known, there is enough to compose without asking more."""
    return (
        state.core_wound is not None
        or state.core_desire is not None
        or state.turn >= READY_AFTER_TURNS
        or state.go_ahead
    )


def _follow_up(
    state: ConversationState, emotion_known: bool, language: str, *, again: bool
) -> tuple[str, str, list[str]] | None:
    """(asked-marker, question, suggested answers) of the next question, worded as asked
    ``again`` when the last answer said nothing usable; None when nothing is left to ask."""
    said = _dialogue(language)
    following = _next_question(state, emotion_known, language)
    if following is None:
        return None
    marker, question = following
    topic = marker.split("#", 1)[0]
    if again:
        question = said["again"].format(question=question)
    return marker, question, list(said["suggestions"][topic])


def _with_fallback_intent(state: ConversationState) -> ConversationState:
    # Intent needs some text; fall back to what we do know. The words must read as no
    # feeling to both readers ("no particular feeling" reads as melancholy to the
    # trained one: a bag of words does not hear the "no").
    fallback = state.core_wound or state.core_desire or "a neutral piece"
    return _with(state, emotional_intent=_bounded(fallback))


def _reply(
    state: ConversationState,
    found: Mapping[str, Any],
    ready: bool,
    question: str | None,
    suggestions: list[str],
) -> InterrogationReply:
    return InterrogationReply(
        session_id=state.session_id,
        turn=state.turn,
        extracted={k: v for k, v in found.items() if k != "emotional_text"}
        | ({"emotional_intent": found["emotional_text"]} if "emotional_text" in found else {}),
        intent=state.intent(),
        affect=dict(state.affect) if state.affect is not None else None,
        ready=ready,
        question=question,
        suggestions=suggestions,
    )


def _with(state: ConversationState, **changes: Any) -> ConversationState:
    data = state.to_dict()
    data.update(changes)
    if "asked" in changes:
        data["asked"] = list(changes["asked"])
    return ConversationState.from_dict(data)
