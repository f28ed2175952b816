"""The synthetic parallel speech corpus: English speech with English, German and French text.

    spire mini corpus --out data/mini --train 4000 --dev 200 --test 200 --seed 0

`plan_corpus` draws the sentences and speaker settings of every split from a seed; `build_corpus`
synthesizes them with espeak-ng and writes

    out_dir/dataset/          a datasets.DatasetDict (train, dev, test[, test_accents]) saved with save_to_disk
    out_dir/{split}.jsonl     manifests: id, audio (FLAC path relative to the manifest), text, de, fr, …
    out_dir/audio/{split}/    one 16 kHz FLAC file per utterance
    out_dir/corpus.json       the settings and the held-out word combinations

Splits: every sentence occurs once in the whole corpus (so no test sentence is in train); train
and dev contain none of a seeded set of held-out (adjective, noun) and (verb, object) pairs,
and part of the test set (`novel_combination` True) contains at least one of them; the test
split uses voices, rates and pitches that train and dev never use. The same seed gives
byte-identical files.

The optional second test split `test_accents` (`n_test_accents`) is spoken with English accents
that no other split uses (`ACCENT_VOICES`), at the main test split's rates and pitches, so that
accent is what differs from it. Its sentences and speakers come from a random stream of its own,
drawn after the other splits: asking for it leaves train, dev and test byte for byte the same.

    >>> from spire.mini.corpus import plan_corpus
    >>> plan = plan_corpus(n_train=4, n_dev=1, n_test=2, seed=0)
    >>> [len(plan[split]) for split in ("train", "dev", "test")]
    [4, 1, 2]
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spire.errors import DataError
from spire.mini.grammar import realize
from spire.mini.grammar_sampler import combinations, held_out_combinations, sample_sentence
from spire.mini.tts import SAMPLE_RATE

SPLITS = ("train", "dev", "test")
#: The second test split: English accents never heard in train, dev or test.
ACCENT_SPLIT = "test_accents"
# Speaker settings: test values never occur in train or dev.
TRAIN_VOICES = ("en-us", "en-us+m1", "en-us+m2", "en-us+m3", "en-us+f1", "en-us+f2", "en+m3", "en+f3",
                "en-gb-x-rp", "en-gb-x-rp+f2")
# Unseen variants of the training accents (unseen voices, not unseen accents): MFCC units carry
# accent, and an accent never heard in training is a different task from an unseen speaker.
TEST_VOICES = ("en-us+m4", "en+f4", "en-gb-x-rp+m6", "en-us+f4")
# espeak-ng's English accents that no other split uses (Scottish, Caribbean, Lancaster, West
# Midlands), each with a male and a female variant that training never uses. Chosen once, before
# any score on them (docs/miniature.md, "Unseen accents"); en-us-nyc (espeak-ng status "testing")
# is left out.
ACCENT_VOICES = ("en-gb-scotland+m4", "en-gb-scotland+f4", "en-029+m4", "en-029+f4",
                 "en-gb-x-gbclan+m4", "en-gb-x-gbclan+f4", "en-gb-x-gbcwmd+m4", "en-gb-x-gbcwmd+f4")
TRAIN_RATES = (150, 160, 170, 180, 190, 200)
TEST_RATES = (145, 175, 195)
TRAIN_PITCHES = (35, 40, 45, 50, 55, 60)
TEST_PITCHES = (38, 52, 63)
_MAX_DRAWS_PER_ITEM = 10_000
# Utterances per worker process. Part of the corpus definition: espeak-ng carries phase state
# from one utterance to the next, so an utterance's samples depend on its place in its shard.
SHARD_SIZE = 32


@dataclass(frozen=True)
class Utterance:
    """One planned utterance: its texts, speaker settings and whether it holds a held-out pair."""

    id: str
    text: str
    de: str
    fr: str
    voice: str
    rate: int
    pitch: int
    novel_combination: bool


def plan_corpus(n_train: int, n_dev: int, n_test: int, seed: int, *, novel_fraction: float = 0.5,
                held_out_fraction: float = 0.1, n_test_accents: int = 0) -> dict[str, list[Utterance]]:
    """Sentences and speaker settings of each split, deterministic from `seed` (no audio yet).

    The first `novel_fraction` of the test items (of each test split) contain a held-out word
    combination; the rest of the corpus contains none. `plan[ACCENT_SPLIT]` holds
    `n_test_accents` items (none by default).

    >>> plan = plan_corpus(n_train=3, n_dev=0, n_test=2, seed=1)
    >>> [u.novel_combination for u in plan["test"]]
    [True, False]
    """
    for name, value in (("n_train", n_train), ("n_dev", n_dev), ("n_test", n_test),
                        ("n_test_accents", n_test_accents)):
        if not isinstance(value, int) or value < 0:
            raise DataError(f"{name} must be a non-negative integer, but is {value!r}; fix: pass e.g. 200")
    if not 0.0 <= novel_fraction <= 1.0:
        raise DataError(f"novel_fraction must be in [0, 1], but is {novel_fraction}; fix: pass e.g. 0.5")
    rng = random.Random(seed)
    held_out = held_out_combinations(seed, held_out_fraction)
    seen: set[str] = set()
    n_novel = round(novel_fraction * n_test)
    plan: dict[str, list[Utterance]] = {}
    for split, count in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        voices, rates, pitches = ((TEST_VOICES, TEST_RATES, TEST_PITCHES) if split == "test"
                                  else (TRAIN_VOICES, TRAIN_RATES, TRAIN_PITCHES))
        items = []
        for index in range(count):
            novel = split == "test" and index < n_novel
            translation = _draw_unique(rng, held_out, seen, novel)
            items.append(Utterance(
                id=f"{split}-{index:06d}", text=translation.en, de=translation.de, fr=translation.fr,
                voice=rng.choice(voices), rate=rng.choice(rates), pitch=rng.choice(pitches),
                novel_combination=novel,
            ))
        plan[split] = items
    plan[ACCENT_SPLIT] = _plan_accents(n_test_accents, seed, held_out, seen, novel_fraction)
    return plan


def _plan_accents(count: int, seed: int, held_out: frozenset, seen: set[str],
                  novel_fraction: float) -> list[Utterance]:
    """The accent split, from its own random stream: the other splits' draws stay as they were.
    Its sentences occur nowhere else in the corpus (`seen` holds the other splits' sentences)."""
    rng = random.Random(f"{seed}/{ACCENT_SPLIT}")
    n_novel = round(novel_fraction * count)
    items = []
    for index in range(count):
        translation = _draw_unique(rng, held_out, seen, index < n_novel)
        items.append(Utterance(
            id=f"{ACCENT_SPLIT}-{index:06d}", text=translation.en, de=translation.de, fr=translation.fr,
            voice=rng.choice(ACCENT_VOICES), rate=rng.choice(TEST_RATES), pitch=rng.choice(TEST_PITCHES),
            novel_combination=index < n_novel,
        ))
    return items


def _draw_unique(rng: random.Random, held_out: frozenset, seen: set[str], novel: bool):
    for _ in range(_MAX_DRAWS_PER_ITEM):
        sentence = sample_sentence(rng)
        if bool(combinations(sentence) & held_out) != novel:
            continue
        translation = realize(sentence)
        if translation.en not in seen:
            seen.add(translation.en)
            return translation
    raise DataError(f"the grammar must yield enough distinct sentences, but {len(seen)} were drawn and no new "
                    f"one came in {_MAX_DRAWS_PER_ITEM} tries; fix: ask for fewer utterances")


def _encode_flac(wave) -> tuple[bytes, int]:
    import numpy as np
    import soundfile

    pcm = np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue(), len(pcm)


def synthesize_shard(items: Sequence[tuple[str, str, int, int]]) -> list[tuple[bytes, int]]:
    """Speak (text, voice, rate, pitch) items in order; FLAC bytes and sample counts.

    Runs in a fresh worker process per shard: espeak-ng keeps phase state between utterances,
    so a shard's audio is reproducible only when its process starts clean.
    """
    from spire.mini.tts import synthesize

    return [_encode_flac(synthesize(text, voice=voice, rate=rate, pitch=pitch))
            for text, voice, rate, pitch in items]


def _shards(plan: dict[str, list[Utterance]], shard_size: int) -> list[list[Utterance]]:
    # The accent split gets shards of its own after the others': the others' shards, and so
    # their audio, are the same with or without it.
    groups = [[u for split in SPLITS for u in plan[split]], plan.get(ACCENT_SPLIT, [])]
    return [group[i:i + shard_size] for group in groups for i in range(0, len(group), shard_size)]


def _synthesize_all(plan: dict[str, list[Utterance]], *, num_workers: int,
                    progress: bool) -> Iterator[tuple[Utterance, bytes, int]]:
    from tqdm.auto import tqdm

    shards = _shards(plan, SHARD_SIZE)
    context = multiprocessing.get_context("forkserver")
    # The fork server is a fresh interpreter, so every worker forked from it starts with clean
    # espeak-ng state; preloading keeps each fork cheap.
    context.set_forkserver_preload(["spire.mini.corpus", "spire.mini.tts", "numpy", "soundfile", "soxr"])
    total = sum(len(shard) for shard in shards)
    audio_s = 0.0
    with context.Pool(num_workers, maxtasksperchild=1) as pool, \
            tqdm(total=total, unit="utt", disable=not progress, desc="synthesizing") as bar:
        jobs = [[(u.text, u.voice, u.rate, u.pitch) for u in shard] for shard in shards]
        for shard, results in zip(shards, pool.imap(synthesize_shard, jobs)):
            for utterance, (flac, n_samples) in zip(shard, results):
                audio_s += n_samples / SAMPLE_RATE
                yield utterance, flac, n_samples
            bar.update(len(shard))
            bar.set_postfix(audio_h=f"{audio_s / 3600:.2f}")


def build_corpus(out_dir: str | os.PathLike[str], n_train: int, n_dev: int, n_test: int, seed: int, *,
                 num_workers: int | None = None, progress: bool = False,
                 novel_fraction: float = 0.5, held_out_fraction: float = 0.1, n_test_accents: int = 0) -> Any:
    """Synthesize the corpus into `out_dir` and return its `datasets.DatasetDict`.

    With `n_test_accents` > 0 the corpus also holds the split `test_accents` (`ACCENT_VOICES`);
    without it, the files are those of a corpus built before that split existed.

    `num_workers` processes (default: up to 2 CPU cores) synthesize fixed shards of `SHARD_SIZE`
    utterances, each shard in a fresh process; the output does not depend on `num_workers`.

    >>> corpus = build_corpus("/tmp/mini", n_train=8, n_dev=2, n_test=2, seed=0)  # doctest: +SKIP
    >>> corpus["test"].column_names  # doctest: +SKIP
    ['id', 'audio', 'text', 'de', 'fr', 'voice', 'rate', 'pitch', 'duration_s', 'novel_combination']
    """
    import datasets

    workers = num_workers if num_workers is not None else max(1, min(2, os.cpu_count() or 1))
    if workers < 1:
        raise DataError(f"num_workers must be at least 1, but is {workers}; fix: pass 1 or more")
    out = Path(out_dir)
    plan = plan_corpus(n_train, n_dev, n_test, seed, novel_fraction=novel_fraction,
                       held_out_fraction=held_out_fraction, n_test_accents=n_test_accents)
    splits = SPLITS + ((ACCENT_SPLIT,) if n_test_accents else ())
    columns: dict[str, dict[str, list]] = {split: {key: [] for key in _FEATURE_NAMES} for split in splits}
    manifests = {split: [] for split in splits}
    for split in splits:
        (out / "audio" / split).mkdir(parents=True, exist_ok=True)
    for utterance, flac, n_samples in _synthesize_all(plan, num_workers=workers, progress=progress):
        split = utterance.id.split("-")[0]
        relative = f"audio/{split}/{utterance.id}.flac"
        (out / relative).write_bytes(flac)
        row = asdict(utterance)
        row["duration_s"] = n_samples / SAMPLE_RATE
        for key in _FEATURE_NAMES:
            columns[split][key].append({"bytes": flac, "path": f"{utterance.id}.flac"} if key == "audio"
                                       else row[key])
        manifests[split].append({"id": utterance.id, "audio": relative, "text": row["text"], "de": row["de"],
                                 "fr": row["fr"], "duration_s": row["duration_s"], "voice": row["voice"],
                                 "rate": row["rate"], "pitch": row["pitch"],
                                 "novel_combination": row["novel_combination"]})
    for split in splits:
        lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in manifests[split])
        (out / f"{split}.jsonl").write_text(lines, encoding="utf-8")
    corpus = datasets.DatasetDict({split: _dataset(datasets, columns[split], f"{seed}-{split}") for split in splits})
    corpus.save_to_disk(str(out / "dataset"))
    settings = {
        "seed": seed, "n_train": n_train, "n_dev": n_dev, "n_test": n_test, "sample_rate": SAMPLE_RATE,
        "novel_fraction": novel_fraction, "held_out_fraction": held_out_fraction,
        "held_out_combinations": [list(c) for c in sorted(held_out_combinations(seed, held_out_fraction))],
        "speakers": {"train": {"voices": TRAIN_VOICES, "rates": TRAIN_RATES, "pitches": TRAIN_PITCHES},
                     "test": {"voices": TEST_VOICES, "rates": TEST_RATES, "pitches": TEST_PITCHES}},
    }
    if n_test_accents:
        settings["n_test_accents"] = n_test_accents
        settings["speakers"][ACCENT_SPLIT] = {"voices": ACCENT_VOICES, "rates": TEST_RATES, "pitches": TEST_PITCHES}
    (out / "corpus.json").write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return corpus


_FEATURE_NAMES = ("id", "audio", "text", "de", "fr", "voice", "rate", "pitch", "duration_s", "novel_combination")


def _dataset(datasets: Any, columns: dict[str, list], name: str) -> Any:
    import hashlib

    import pyarrow as pa

    features = _features(datasets)
    # Built from Arrow directly: `Dataset.from_dict` would re-encode audio through torchcodec,
    # which is not needed to store FLAC bytes that are already encoded.
    table = pa.Table.from_pydict(columns, schema=features.arrow_schema)
    digest = hashlib.sha256(name.encode())
    for key in ("id", "text"):
        digest.update("\n".join(columns[key]).encode())
    # A content fingerprint (instead of a random one) keeps the saved state.json reproducible.
    return datasets.Dataset(datasets.table.InMemoryTable(table), info=datasets.DatasetInfo(features=features),
                            fingerprint=digest.hexdigest()[:16])


def _features(datasets: Any) -> Any:
    string = datasets.Value("string")
    return datasets.Features({
        "id": string, "audio": datasets.Audio(sampling_rate=SAMPLE_RATE, decode=False), "text": string,
        "de": string, "fr": string, "voice": string, "rate": datasets.Value("int32"),
        "pitch": datasets.Value("int32"), "duration_s": datasets.Value("float64"),
        "novel_combination": datasets.Value("bool"),
    })
