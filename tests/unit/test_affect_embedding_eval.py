"""The evaluation of a second, embedding-based reader of affect (bench/train_affect_model.py;
docs/languages.md, "A second reader: evaluated, not used").

The development data is checked always; the embedding only where the ``wordllama`` wheel is
installed by hand (it is not a kmidi dependency), otherwise those tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from affect_dev_data import CORPUS, dev_examples, fresh_rows  # noqa: E402

from kmidi.emotions import PRESETS  # noqa: E402

PACKAGE = "wordllama"
FAMILIES = {preset.family for preset in PRESETS.values()} | {"neutral"}
needs_wordllama = pytest.mark.skipif(
    importlib.util.find_spec("wordllama") is None,
    reason="wordllama is installed by hand for the evaluation only",
)


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


@needs_wordllama
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_the_embedding_reads_only_the_packaged_files_and_no_network(tmp_path: Path) -> None:
    # tokenizers and safetensors open files from Rust, out of sight of Python's audit
    # hooks: strace sees every file opened and every socket made while embedding.
    code = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import affect_embedding;"
        "v = affect_embedding.embed('we won the championship!');"
        "print(round(float((v * v).sum()), 4), 'wordllama' in sys.modules)"
    )
    trace = tmp_path / "trace"
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HTTPS_PROXY": "http://127.0.0.1:9"}
    strace = ["strace", "-f", "-qq", "-e", "trace=openat,socket,connect", "-o", str(trace)]
    out = subprocess.run(
        [*strace, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert out.strip() == "1.0 False"
    calls = trace.read_text(encoding="utf-8").splitlines()
    # An AF_UNIX socket to the name service cache is local; AF_INET(6) is the network.
    assert not [call for call in calls if "AF_INET" in call]
    package = f"/{PACKAGE}/"
    opened = {
        Path(call.split('"')[1]).name
        for call in calls
        if "openat(" in call and package in call and "= -1" not in call
    }
    assert {name for name in opened if not name.endswith((".py", ".pyc", ".so"))} == {
        "l2_supercat_256.safetensors",
        "l2_supercat_tokenizer_config.json",
    }


@needs_wordllama
def test_the_same_text_embeds_the_same_every_time() -> None:
    from affect_embedding import embed

    first = embed("Rain on the skylight, a blanket, the cat asleep on my feet.")
    again = embed("Rain on the skylight, a blanket, the cat asleep on my feet.")
    assert first.tobytes() == again.tobytes()
    assert not np.allclose(first, embed("The jury is filing back in."))


@needs_wordllama
def test_cross_validation_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    import train_affect_model as trainer

    examples = dev_examples()[::10]
    x = trainer.features([e.text for e in examples])
    lex = [trainer.lexicon_reading(e.text) for e in examples]
    trainer.cross_validate(examples, x, lex, folds=3)
    printed = capsys.readouterr().out
    print(printed)
    for name in trainer.RULES:
        line = next(line for line in printed.splitlines() if line.strip().startswith(name))
        right, total = line.split()[-3].split("/")
        assert int(total) == len(examples)
        assert 0 <= int(right) <= len(examples)


@needs_wordllama
def test_a_scene_with_no_lexicon_cue_is_read_to_its_family_by_the_model() -> None:
    import train_affect_model as trainer

    scene = "Rain on the skylight, a blanket, the cat asleep on my feet."
    assert trainer.lexicon_reading(scene).family == "neutral"
    examples = [e for e in dev_examples() if e.text != scene]
    labels = np.array([trainer.FAMILIES.index(e.family) for e in examples])
    weights = trainer.train(trainer.features([e.text for e in examples]), labels)
    families, _ = trainer.predict(weights, trainer.features([scene]))
    assert families == ["peace"]
