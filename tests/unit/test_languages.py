"""Spanish, German, French, Portuguese and Italian: the language is told and the feeling read.

The sentences below were written for this file (dev data, seen while tuning the lexicon);
the blind measurement is elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kmidi import language
from kmidi.affect import Affect, analyse_text
from kmidi.emotions import PRESETS

SENTENCES: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Hoy estoy muy triste y no sé por qué.", "sadness"),
        ("Mi abuela falleció el martes y todavía no me lo creo.", "sadness"),
        ("Me siento sola desde que te fuiste.", "sadness"),
        ("Tengo mucho miedo de perder el trabajo.", "fear"),
        ("Estoy nerviosa por el examen de mañana.", "fear"),
        ("¡Estoy harto de que nadie me escuche! Qué rabia.", "anger"),
        ("Echo de menos los veranos en el pueblo con mis primos.", "nostalgia"),
        ("Por fin en casa, tranquila, con una taza de té.", "peace"),
        ("¡Qué alegría! Hemos aprobado todos.", "joy"),
        ("Mi bebé se ha dormido en mis brazos, qué ternura.", "tenderness"),
        ("Te quiero con todo mi corazón.", "tenderness"),
        ("Ante el mar inmenso me sentí tan pequeña.", "awe"),
        ("Ya no siento nada, todo me da igual.", "detachment"),
    ],
    "de": [
        ("Ich bin heute so traurig.", "sadness"),
        ("Mein Opa ist letzte Woche gestorben.", "sadness"),
        ("Seit dem Umzug fühle ich mich so einsam.", "sadness"),
        ("Ich habe Angst vor der Operation.", "fear"),
        ("Ich mache mir große Sorgen wegen der Prüfung morgen.", "fear"),
        ("Ich bin so wütend auf meinen Chef!", "anger"),
        ("Ich gebe nicht auf, jetzt erst recht.", "anger"),
        ("Ich denke oft an meine Kindheit bei Oma auf dem Land.", "nostalgia"),
        ("Sonntagmorgen, alles ist ruhig und ich bin ganz entspannt.", "peace"),
        ("Ich freue mich riesig, wir bekommen ein Baby!", "joy"),
        ("Ich liebe dich mehr als alles andere.", "tenderness"),
        ("Der Sternenhimmel in den Bergen war atemberaubend.", "awe"),
        ("Ich fühle nichts mehr, alles ist mir egal.", "detachment"),
    ],
    "fr": [
        ("Je suis tellement triste ce soir.", "sadness"),
        ("Ma grand-mère est morte hier, j'ai le cœur brisé.", "sadness"),
        ("Je me sens seule dans cette grande ville.", "sadness"),
        ("J'ai peur du noir depuis que je suis petite.", "fear"),
        ("Je suis très stressé avant mon entretien d'embauche.", "fear"),
        ("Je suis furieux, il m'a encore menti !", "anger"),
        ("Je repense souvent à mon enfance, le bon vieux temps.", "nostalgia"),
        ("Je me sens calme et apaisée au bord du lac.", "peace"),
        ("Je suis si heureuse, j'ai eu le poste !", "joy"),
        ("J'espère que demain sera meilleur.", "joy"),
        ("Je t'aime, mon amour.", "tenderness"),
        ("Devant ces montagnes immenses, je suis resté bouche bée.", "awe"),
        ("Je me sens vide à l'intérieur, plus rien ne compte.", "detachment"),
    ],
    "pt": [
        ("Estou muito triste hoje.", "sadness"),
        ("Minha avó morreu ontem e eu não paro de chorar.", "sadness"),
        ("Me sinto tão sozinha nesta cidade.", "sadness"),
        ("Tenho medo de ficar sem emprego.", "fear"),
        ("Estou ansiosa com a entrevista de amanhã.", "fear"),
        ("Estou com muita raiva do meu irmão.", "anger"),
        ("Que saudade da minha infância na casa da minha avó.", "nostalgia"),
        ("Domingo de manhã, tudo calmo, estou em paz.", "peace"),
        ("Estou tão feliz, passei no vestibular!", "joy"),
        ("Tenho esperança de que tudo vai dar certo.", "joy"),
        ("Meu bebê adormeceu nos meus braços, que ternura.", "tenderness"),
        ("O céu estrelado no deserto me deixou sem palavras.", "awe"),
        ("Não sinto nada, tanto faz.", "detachment"),
    ],
    "it": [
        ("Oggi sono molto triste.", "sadness"),
        ("Mio nonno è morto la settimana scorsa.", "sadness"),
        ("Mi sento sola da quando si è trasferita.", "sadness"),
        ("Ho paura di perdere il lavoro.", "fear"),
        ("Sono in ansia per l'esame di domani.", "fear"),
        ("Sono arrabbiatissimo con mio fratello, che rabbia!", "anger"),
        ("Mi mancano le estati dai nonni, che nostalgia.", "nostalgia"),
        ("Che pace, sono sdraiata sul divano e tutto è tranquillo.", "peace"),
        ("Sono felicissima, ci sposiamo!", "joy"),
        ("Ti voglio bene, amore mio.", "tenderness"),
        ("Guardando la Via Lattea mi sono sentito così piccolo.", "awe"),
        ("Non provo niente, mi sento vuota dentro.", "detachment"),
        ("Abbiamo vinto il campionato, siamo campioni!", "joy"),
    ],
}
CASES = [(lang, text, family) for lang, rows in SENTENCES.items() for text, family in rows]

SHORT: dict[str, list[str]] = {
    "es": ["estoy triste", "tengo miedo", "te quiero", "estoy sola", "me da igual", "qué rabia"],
    "de": ["ich bin traurig", "ich habe Angst", "ich liebe dich", "so schön", "alles gut"],
    "fr": ["je suis triste", "j'ai peur", "je t'aime", "quelle joie", "j'en ai marre"],
    "pt": ["estou triste", "que saudade", "tenho medo", "te amo", "tanto faz"],
    "it": ["sono triste", "ho paura", "ti amo", "che bello", "sto male", "che rabbia"],
}


def _family(affect: Affect) -> str:
    return PRESETS[affect.primary].family


@pytest.mark.parametrize(("lang", "text", "family"), CASES)
def test_everyday_sentences_read_to_their_family_in_their_language(
    lang: str, text: str, family: str
) -> None:
    affect = analyse_text(text)
    assert affect.language == lang, (text, affect.language)
    assert _family(affect) == family, (text, affect.primary, affect.evidence)


def test_accuracy_per_language_is_reported() -> None:
    right: Counter[str] = Counter()
    told: Counter[str] = Counter()
    for lang, text, family in CASES:
        affect = analyse_text(text)
        right[lang] += _family(affect) == family
        told[lang] += affect.language == lang
    lines = [f"{'language':>9} {'n':>3} {'family':>7} {'language':>9}"]
    for lang, rows in SENTENCES.items():
        n = len(rows)
        lines.append(f"{lang:>9} {n:>3} {right[lang] / n:>7.0%} {told[lang] / n:>9.0%}")
    print("\n" + "\n".join(lines))
    assert all(len(rows) >= 8 for rows in SENTENCES.values())
    assert all(right[lang] >= 0.9 * len(rows) for lang, rows in SENTENCES.items())


@pytest.mark.parametrize(("lang", "text"), [(k, t) for k, texts in SHORT.items() for t in texts])
def test_two_or_three_words_are_enough_to_tell_the_language(lang: str, text: str) -> None:
    assert language.detect(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        "no estoy triste",
        "Je ne suis pas triste.",
        "Ich bin nicht traurig.",
        "Não estou triste.",
        "Non sono triste.",
    ],
)
def test_a_denied_sadness_is_not_sadness(text: str) -> None:
    affect = analyse_text(text)
    assert _family(affect) != "sadness", (text, affect.primary)
    assert affect.evidence[0].startswith("not ")


def test_intensifiers_and_dampeners_work_in_spanish() -> None:
    plain = analyse_text("estoy triste").intensity
    assert analyse_text("estoy muy triste").intensity > plain
    assert analyse_text("estoy un poco triste").intensity < plain


def test_inflected_forms_meet() -> None:
    for text in ("estoy contento", "estamos contentas", "je suis heureuse", "sono felici"):
        assert _family(analyse_text(text)) == "joy", text
    assert analyse_text("ich bin traurig").primary == analyse_text("traurige Tage").primary


def test_text_typed_without_accents_still_reads() -> None:
    affect = analyse_text("estoy muy ansiosa por el examen de manana")
    assert affect.language == "es"
    assert affect.primary == "anxiety"
    assert analyse_text("estou de coracao partido").primary == "grief"


def test_evidence_keeps_the_accents_as_written() -> None:
    assert "Qué rabia" in analyse_text("¡Qué rabia!").evidence


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("I feel so triste today but whatever", None),
        ("I am so sad today", "sadness"),
        ("My rage is boiling", None),
        ("I dare you to stop me", None),
        ("It is a sin to be this happy", None),
        ("Come here and hug me", None),
        ("I feel fine", None),
        ("The pain will not stop", None),
        ("a short piano piece please", None),
    ],
)
def test_english_and_mixed_text_still_reads_english(text: str, family: str | None) -> None:
    affect = analyse_text(text)
    assert affect.language == "en", text
    if family is not None:
        assert _family(affect) == family


def test_the_english_corpus_is_told_english() -> None:
    corpus = Path(__file__).parent / "data" / "affect_corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line]
    dev = [str(row["text"]) for row in rows if row.get("split", "dev") == "dev"]
    assert len(dev) >= 300
    assert [text for text in dev if language.detect(text) != "en"] == []


def test_the_language_round_trips_through_the_affect_dict() -> None:
    affect = analyse_text("Tengo miedo")
    data = affect.to_dict()
    assert data["language"] == "es"
    assert Affect.from_dict(data) == affect
    del data["language"]
    assert Affect.from_dict(data).language == "en"


def test_a_neutral_text_reports_its_language() -> None:
    affect = analyse_text("Mañana voy a la oficina en tren.")
    assert affect.primary == "neutral"
    assert affect.language == "es"


def test_inflection_groups_are_written_out() -> None:
    assert language.expand_forms("content(o|a|os|as)") == [
        "contento",
        "contenta",
        "contentos",
        "contentas",
    ]
    assert language.expand_forms("triste(|s)") == ["triste", "tristes"]
    assert language.expand_forms("sol(o|a) y (muy|tan) triste") == [
        "solo y muy triste",
        "solo y tan triste",
        "sola y muy triste",
        "sola y tan triste",
    ]


def test_the_language_model_is_not_loaded_by_import_or_by_english_text() -> None:
    code = (
        "import sys; import kmidi.affect as a; a.analyse_text('I am so sad today');"
        "print('py3langid' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
