"""The evaluation of a second, embedding-based reader of affect (bench/train_affect_model.py;
docs/languages.md, "A second reader: evaluated, not used").

Only what runs everywhere is tested here: the development data and that the evaluation
loads nothing at import. The embedding itself needs the ``wordllama`` wheel, which is not a
kmidi dependency (docs/languages.md says why); its checks (only the two packaged files
read, no socket, the same vector every time) were run by hand with it installed and are
recorded there, not kept as tests that would skip in every other run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from affect_dev_data import CORPUS, dev_examples, fresh_rows  # noqa: E402

from kmidi.emotions import PRESETS  # noqa: E402

FAMILIES = {preset.family for preset in PRESETS.values()} | {"neutral"}


def test_dev_examples_leave_out_every_holdout_split_of_the_corpus() -> None:
    held_out = {
        row["text"]
        for row in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
        if row.get("split") not in {None, "dev"}
    }
    texts = {example.text for example in dev_examples()}
    assert held_out
    assert not texts & held_out


def test_dev_examples_are_labelled_with_known_families_once_each() -> None:
    examples = dev_examples()
    assert {example.family for example in examples} <= FAMILIES
    assert len({example.text for example in examples}) == len(examples)
    assert all(e.preset is None or e.preset in PRESETS or e.preset == "neutral" for e in examples)


def test_fresh_batches_are_varied_recorded_and_new() -> None:
    rows = fresh_rows(recorded_only=False)
    batches = Counter(row["batch"] for row in rows)
    assert all(count >= 60 for count in batches.values()), batches
    assert all(row.get("recorded") for row in rows)
    assert {str(row["kind"]) for row in rows} >= {"plain", "scene", "sarcasm", "long", "es", "de"}
    assert {str(row["family"]) for row in rows} <= FAMILIES
    # Each fresh text was new when written: no other source has it.
    others = {e.text for e in dev_examples() if not e.source.startswith("fresh")}
    assert not {str(row["text"]) for row in rows} & others


def test_the_embedding_is_not_loaded_at_import() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import affect_embedding;"
        "print(sorted(m for m in ('tokenizers', 'safetensors', 'wordllama') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
