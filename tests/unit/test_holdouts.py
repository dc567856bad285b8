"""Blind holdouts: sentences written and labelled by someone who had not read the
analyser, measured, never tuned on. The tables print counts per category and language
only, so the rows stay unread by whoever tunes the analyser.

holdout4 (103 rows: plain, scenes, sarcasm, five other languages, long texts, musical
words, unsure ones). First pass (commit b7765c2, before any multilingual vocabulary):
49 of 103 (48 %): plain English 16/18, musical 17/20, unsure 5/6 flagged, scenes 7/14,
long 2/5, sarcasm 1/9, other languages 1/31. Second pass, after the multilingual lexicon
(written by someone who never opened the file): 78 of 103 (76 %), other languages 30/31.

holdout5 (90 rows, written 2026-11-29; see data/BLIND_PROVENANCE.md). First pass
(commit 16696a5, before any work on sarcasm or scenes): 50 of 90 (56 %): plain 13/15,
scenes 13/20, sarcasm 2/20, other languages 10/15, long 2/5, musical 8/10, unsure 2/5.
Second pass, after the sarcasm reader (kmidi/sarcasm.py, written from its own development
sentences in tests/unit/test_sarcasm.py): 55 of 90 (61 %), sarcasm 7/20, nothing else
moved; holdout4 went to 81 of 103 (79 %), its sarcasm 1/9 -> 4/9.
Third pass, after scene cues written from 20 development scenes (tests/unit/test_scenes.py):
56 of 90 (62 %), scenes unchanged at 13/20, sarcasm 8/20; holdout4 83 of 103 (81 %), its
scenes 7/14 -> 9/14.
Fourth pass, after the generalisation round (measured once before it, at 954ec72: unchanged
from the third pass): long texts read sentence by sentence from 160 characters and three
sentences, each sentence saturating, turns ("But…", "Then…") and asides ("Anyway, …") in six
languages, contexts kept to their sentence (a death and a homecoming reach a few further);
sarcasm in three tiers (certain, praise over trouble, enthusiasm over a chore) with
regular-expression forms; confidence tied to the amount of evidence; about 600 English scene
cues written by theme, and about 730 idioms and scenes and 115 word beginnings across the
five other languages. All written from about 300 development texts in three batches
(tests/unit/test_languages.py, test_scenes.py, test_sarcasm.py, test_long_texts.py,
test_unsure.py), each written before the changes it drove; on the family of their languages,
scenes, sarcasm and long texts the first passes were 77/140 (55 %), 31/64 (48 %) and 17/35
(49 %) on the code as it stood. Then 59 of 90 (66 %): plain 13/15, scenes 14/20, sarcasm
9/20, other languages 10/15, long 3/5, musical 8/10, unsure 2/5; holdout4 85 of 103 (83 %):
long 2/5 -> 4/5, scenes 9/14 -> 10/14, sarcasm 4/9 -> 3/9, the rest unchanged. The gain is
about what the later first passes predicted: hand-written vocabulary carries to about half
of fresh phrasing.

holdout6 (105 rows, written 2026-11-29 by a helper who never opened the project, committed
before its first run; see data/BLIND_PROVENANCE.md). First pass (commit a8f40c2, after
this session's work on long texts, sarcasm, scenes and languages): 69 of 105 (66 %):
plain 12/18, scenes 13/20, sarcasm 9/17, other languages 17/26 (de 2/5, es 4/7, fr 4/5,
it 3/5, pt 4/5), long 2/6, musical 10/11, unsure 6/7. The same 66 % as holdout5 after
its tuning-free passes: the vocabulary written this session generalised as far as the
dev texts' first passes predicted, no further.

holdout7 (119 rows, written 2026-11-29 by a helper who never opened the project, committed
before its first run; see data/BLIND_PROVENANCE.md). First pass (commit 0baa055, the sixth
session's analyser): 77 of 119 (65 %): plain 18/23, scenes 11/22, sarcasm 7/20, other
languages 19/26 (de 3/5, es 4/8 with the long and musical rows, fr 5/5, it 4/5, pt 4/5),
long 3/6, musical 12/14, unsure 7/8.

Seventh session, after the second generalisation round (about 30 commits to kmidi/affect.py,
sarcasm.py and the lexicons, written from about 450 development sentences in batches, each
batch written before the changes it drove; bench/affect_fresh*.jsonl, affect_probes.jsonl;
the last fresh batch went 34/62 -> 36/62 on it), measured once at 310440d: holdout4 85 -> 88
of 103 (85 %), holdout5 59 -> 60 of 90 (67 %), holdout6 69 -> 73 of 105 (70 %: plain 14/18,
scenes 12/20, sarcasm 9/17, other languages 20/26, long 2/6, musical 10/11, unsure 6/7),
holdout7 77 -> 81 of 119 (68 %: plain 18/23, scenes 11/22, sarcasm 9/20, other languages
21/26, long 3/6, musical 12/14, unsure 7/8). A few points each, as the fresh batches
predicted: hand-written vocabulary levels off near 60-70 % of fresh writing.

holdout8 (136 rows, written 2026-11-29 by a helper who never opened the project, committed
before its first run; see data/BLIND_PROVENANCE.md). First pass on the analyser of the
seventh session (the lexicon alone, commit 91c4e50): 103 of 136 (76 %): plain 24/29, scenes
16/23, sarcasm 8/21, other languages 29/32, long 6/6, musical 14/16, unsure 6/9.

Eighth session, after the trained reader (kmidi/affect_model.py, fitted on 5,870 sentences
that other helpers wrote from a brief without the project; docs/languages.md), measured
once at 7c69ce6: holdout4 88 -> 96 of 103 (93 %: plain 18/18, scenes 12/14, sarcasm 6/9,
other languages 31/31, long 5/5, musical 19/20, unsure 5/6), holdout5 60 -> 71 of 90 (79 %:
plain 13/15, scenes 18/20, sarcasm 14/20, other languages 14/15, long 3/5, musical 8/10,
unsure 1/5), holdout6 73 -> 86 of 105 (82 %: plain 16/18, scenes 15/20, sarcasm 13/17, other
languages 23/26, long 3/6, musical 10/11, unsure 6/7), holdout7 81 -> 97 of 119 (82 %: plain
21/23, scenes 16/22, sarcasm 12/20, other languages 25/26, long 3/6, musical 13/14, unsure
7/8), holdout8 103 -> 115 of 136 (85 %: plain 27/29, scenes 21/23, sarcasm 10/21, other
languages 31/32, long 6/6, musical 14/16, unsure 6/9). All five: 405 -> 465 of 553 (73 ->
84 %).

holdout9 (153 rows, written 2026-11-29 from the holdout8 brief by a helper who never opened
the project, committed before its first run). First pass on the shipped analyser (94d95fe,
the reader as above): 134 of 153 (88 %); the lexicon alone 117 (76 %).

Then the reader was refitted with 1,900 more training sentences (7,770), decided on
cross-validation before any blind measurement (on the first 5,870 training sentences both
readers 4,001 -> 4,093), and praise judged sincere now stands for the lexicon. Measured once
at d1dcaa9: holdout4 94 of 103 (91 %), holdout5 71 of 90 (79 %), holdout6 83 of 105 (79 %),
holdout7 97 of 119 (82 %), holdout8 112 of 136 (82 %), holdout9 135 of 153 (88 %): 592 of
706 (84 %), against 599 with the first fit (a difference of 7 rows, within the noise) and
522 with the lexicon alone. By category, lexicon -> both: plain 110 -> 126 of 133, scenes
79 -> 106 of 125, sarcasm 57 -> 63 of 110, other languages 141 -> 156 of 169, long 24 -> 26
of 34, musical 78 -> 81 of 89, unsure 33 -> 34 of 46.

holdout10 (156 rows, written 2026-11-29 from the holdout9 brief by a helper who never opened
the project, committed before its first run), written so that the rules holding the
reader back could be decided on a split not yet seen. The ninth session decided on
cross-validation and the development tests first: the reader refitted on 10,535 training
sentences (six new files, 2,765 rows: sarcasm, situations, subtle English, other
languages' plain feelings, sarcasm and scenes, what people type into the studio), and
`READER_SURE` 0.4 -> 0.35; looser rules read more of the training sentences but failed
development tests. First pass of holdout10 on the shipped analyser (the eighth session's
reader, beccfaf): 128 of 156 (82 %); the lexicon alone 113 (72 %). Then the refit, measured
once: holdout4 94 of 103 (91 %), holdout5 69 of 90 (77 %), holdout6 85 of 105 (81 %),
holdout7 99 of 119 (83 %), holdout8 111 of 136 (82 %), holdout9 136 of 153 (89 %), holdout10
127 of 156 (81 %): 721 of 862 (84 %) against 720 before. A third more sentences from the
same kind of writer moved nothing blind.
By category, before -> after: sarcasm 75 -> 78 of 134, scenes 131 -> 134 of 155, unsure
43 -> 39 of 58, other languages 186 -> 185 of 202, plain, long and musical unchanged.

holdout11 (167 rows, 36 sarcastic, written 2026-11-29 from the holdout10 brief by a helper
who never opened the project, committed before its first run), to measure the next change
once. First pass on the shipped analyser (the ninth refit, e0d5cfb): 142 of 167 (85 %); the
lexicon alone 128 (77 %). The change, decided on cross-validation (7,199 -> 7,309 of 10,535;
sarcasm 750 -> 830 of 1,623) and the development tests: a firm pleasant reading gives way
to the reader when it gives an unpleasant family 0.4 or more (``PRAISE_OVERRULED``).
Measured once: holdout11 141 of 167 (84 %); all eight 863 -> 864 of 1,029; sarcasm 104 ->
105 of 170. The cross-validation gain did not carry to blind writing.

holdout12 (184 rows, written 2026-11-29 from a brief written anew from holdout11's, by a
helper who never opened the project, committed before its first run). First pass on the
ninth session's analyser (c860632 with this session's refactors, behaviour unchanged): 137
of 184 (74 %); the lexicon alone 114 (62 %). Then the arbiter (kmidi/affect_arbiter.py: a
logistic regression over both readers' family scores and what the lexicon saw, fitted on
the reader's out-of-fold readings), decided on cross-validation (training sentences 7,312
-> 7,973 of 10,535), measured once in its first form: 152 of 184 (83 %); sarcasm 23 -> 31
of 38, plain 33 -> 35, language 33 -> 34, unsure 5 -> 7. holdout4-11 with it: 864 -> 920 of
1,029 (89.4 %).

holdout13 (189 rows, written from the holdout12 brief with denials, emoji and very short
texts among the plain rows and six sincere rows among the sarcastic ones, committed before
its first run), to measure the arbiter's final form once: refitted with 659 more training
sentences (denials, praise meant sincerely and not, tears, emoji, explicit feelings over
situations, relief), and texts of five words or fewer keeping the lexicon's feeling. First
pass on the ninth session's analyser: 139 of 189 (74 %); the lexicon alone 116 (61 %). With
the arbiter, once: 158 of 189 (84 %): sarcasm 19 -> 26 of 36, scenes 21 -> 26, plain 36 ->
39, language 34 -> 36, long 5 -> 6, unsure 5 -> 6, musical 19 of 19 both. The other nine
splits with it: holdout4 96, holdout5 75, holdout6 93, holdout7 108, holdout8 119, holdout9
141, holdout10 140, holdout11 150, holdout12 152: 1,074 of 1,213 (88.5 %); with holdout13,
1,232 of 1,402 (87.9 %). Two independent labellers, given the texts of holdouts 4-11 alone,
agreed with their writers on 96 % of the families (docs/languages.md, "How far people
agree"): the goal is within reach of a reader, not of this one yet.

holdout14 (189 rows, written from the holdout13 brief, committed before its first run), to
measure the arbiter a third time with nothing decided on it. First pass on the shipped
analyser (a143f2c): 157 of 189 (83 %): sarcasm 31 of 40, scenes 25 of 32, plain 40 of 42,
language 36 of 40, long 6 of 6, musical 15 of 17, unsure 4 of 12; the lexicon alone 124
(66 %); the ninth session's analyser, for comparison, 143 (76 %, sarcasm 20 of 40).

Then the reader's features were weighted by their inverse document frequency instead of
equally (rare n-grams count more), decided on cross-validation (the arbiter's training
sentences 8,442 -> 8,675 of 11,194) and measured once: holdout14 157 -> 161 of 189 (85 %:
sarcasm 31 -> 33, scenes 25 -> 26, language 36 -> 37); holdouts 4-13 1,232 -> 1,245 of
1,402 (88.8 %): holdout4 96, holdout5 74, holdout6 94, holdout7 107, holdout8 122, holdout9
142, holdout10 143, holdout11 151, holdout12 157, holdout13 159. holdout7 falls to a row
under the goal (107 of 119), holdouts 10 and 11 rise to it.

holdout15 (197 rows, from the same brief, committed before its first run), to measure the
eleventh session's change: 5,909 more training sentences from thirteen writers (17,103 in
all), decided on cross-validation (the older training sentences, on the same folds, 8,682 ->
9,068 of 11,194 with the arbiter). First pass on the tenth session's analyser: 167 of 197
(85 %): sarcasm 28 of 41, scenes 26 of 32, plain 42 of 44, language 37 of 40, long 6 of 6,
musical 18 of 18, unsure 10 of 16. With the new sentences, once: 167 (85 %) again (plain
43, scenes 27, language 36, unsure 9). The older eleven splits 1,406 -> 1,425 of 1,591
(89.6 %): holdout4 97, holdout5 77, holdout6 96, holdout7 111, holdout8 121, holdout9 142,
holdout10 141, holdout11 154, holdout12 155, holdout13 167, holdout14 164; holdouts 6 and 7
now meet the goal. More sentences moved the older splits, not the fresh one.

holdout16 (190 rows, from the holdout15 brief, committed before its first run), a second
fresh first pass, on the analyser shipped at the end of the eleventh session: 155 of 190
(82 %): sarcasm 25 of 38, scenes 28 of 32, plain 37 of 41, language 37 of 40, long 5 of 6,
musical 18 of 18, unsure 5 of 15; the lexicon alone 123, the tenth session's analyser 151.

The goal is 90 % on each. A split that meets it is asserted; on the others the accuracy
test is a strict xfail, so the marker cannot outlive the gap.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS

DATA = Path(__file__).parent / "data"
GOAL = 0.90
SPLITS = {
    "affect_holdout4": ("48 % first pass, 85 % with the lexicon, 94 % with the reader", 80),
    "affect_holdout5": ("56 % first pass, 67 % with the lexicon, 86 % with the reader", 90),
    "affect_holdout6": ("66 % first pass, 70 % with the lexicon, 91 % with the reader", 96),
    "affect_holdout7": ("65 % first pass, 68 % with the lexicon, 93 % with the reader", 110),
    "affect_holdout8": ("76 % first pass (the lexicon), 89.0 % with the reader", 120),
    "affect_holdout9": ("88 % first pass (with the reader), 93 % now", 140),
    "affect_holdout10": ("82 % first pass (with the reader), 90.4 % now", 150),
    "affect_holdout11": ("85 % first pass (with the reader), 92 % now", 160),
    "affect_holdout12": ("74 % first pass (with the reader), 84 % now", 180),
    "affect_holdout13": ("74 % first pass (with the reader), 88 % now", 185),
    "affect_holdout14": ("83 % first pass (with the arbiter), 87 % now", 185),
    "affect_holdout15": ("85 % first pass (tenth session's analyser), 85 % now", 195),
    "affect_holdout16": ("82 % first pass (the eleventh session's analyser)", 190),
}
MEETS_GOAL = frozenset(
    {
        "affect_holdout4",
        "affect_holdout6",
        "affect_holdout7",
        "affect_holdout9",
        "affect_holdout10",
        "affect_holdout11",
    }
)


def _rows(split: str) -> list[dict[str, object]]:
    text = (DATA / f"{split}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("split", SPLITS)
def test_the_split_covers_what_it_claims(split: str) -> None:
    rows = _rows(split)
    assert len(rows) >= SPLITS[split][1]
    assert {r["language"] for r in rows} == {"en", "es", "de", "fr", "pt", "it"}
    assert {"plain", "scene", "sarcasm", "language", "long", "musical", "unsure"} <= {
        r["category"] for r in rows
    }
    families = {p.family for p in PRESETS.values()}
    assert all(r["family"] in families and r["preset"] in PRESETS for r in rows)


@pytest.mark.parametrize(
    "split",
    [
        pytest.param(
            split,
            marks=()
            if split in MEETS_GOAL
            else pytest.mark.xfail(
                strict=True, reason=f"blind {split} below the 90 % goal ({figures})"
            ),
        )
        for split, (figures, _) in SPLITS.items()
    ],
)
def test_family_accuracy(split: str) -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in _rows(split):
        reading = analyse_text(str(row["text"]))
        hit = PRESETS[reading.primary].family == row["family"]
        for group in (f"category {row['category']}", f"language {row['language']}", "all"):
            total[group] += 1
            right[group] += hit
    table = "\n".join(f"{g:<22} {right[g]:>3}/{total[g]:<3}" for g in sorted(total))
    print(f"\n{split} family accuracy:\n{table}")
    assert right["all"] / total["all"] >= GOAL, table
