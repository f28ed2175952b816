"""Speech-side steps of the scale check that need Python rather than the `spire` CLI.

    python bench/scale_speech.py encoder --work runs/scale
    python bench/scale_speech.py corpus --work runs/scale --seconds 62
    python bench/scale_speech.py frames --work runs/scale --frames 100000
    python bench/scale_speech.py compare-labels --work runs/scale

Each step checks what it made and prints one `SCALE-RESULT {json}` line (facts and failed
invariants) that `bench/scale.py` reads; everything runs through the public API.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from scale_run import emit

# hubert-large-ll60k's layout: 24 pre-norm layers of 1024, layer-norm conv stack (trained with
# an attention mask), 128-wide positional conv in 16 groups. Weights are random.
HUBERT_LARGE = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "conv_dim": (512,) * 7,
    "conv_bias": True,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
}
VOICES = ("en-us", "en-us+m3", "en+f2", "en-us+m7", "en+f4")
# Utterance lengths asked for, in seconds (2-30 s, as in the ASR corpora the paper used).
TARGETS_S = (2.0, 30.0, 4.0, 12.0, 3.0, 8.0, 6.0, 20.0)


def encoder(work: Path) -> None:
    """HuBERT-large with random weights: config -> save_pretrained -> from_pretrained."""
    import torch
    from transformers import AutoModel, HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    path = work / "hubert-large"
    torch.manual_seed(0)
    model = HubertModel(HubertConfig(**HUBERT_LARGE)).eval()
    model.save_pretrained(path)
    # hubert-large-ll60k's processor: normalised waves, attention mask.
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(path)
    del model
    loaded = AutoModel.from_pretrained(path)
    params = sum(p.numel() for p in loaded.parameters())
    failures = []
    if type(loaded).__name__ != "HubertModel" or len(loaded.encoder.layers) != 24:
        failures.append(f"encoder must reload as a 24-layer HubertModel, but is {type(loaded).__name__}")
    if loaded.config.hidden_size != 1024:
        failures.append(f"encoder width must be 1024, but is {loaded.config.hidden_size}")
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    emit({"path": str(path), "params": params, "bytes": size}, failures)


def corpus(work: Path, seconds: float, seed: int = 0) -> None:
    """English utterances of 2-30 s, each several synthesized sentences, with de/fr text."""
    import soundfile as sf

    from spire.mini.grammar import realize
    from spire.mini.grammar_sampler import sample_sentence
    from spire.mini.tts import SAMPLE_RATE, synthesize

    rng = random.Random(seed)
    root = work / "corpus"
    root.mkdir(parents=True, exist_ok=True)
    gap = np.zeros(int(0.2 * SAMPLE_RATE), np.float32)
    rows, total, index = [], 0.0, 0
    while total < seconds:
        target = TARGETS_S[index % len(TARGETS_S)]
        voice, rate = rng.choice(VOICES), rng.randint(150, 190)
        waves, texts, length = [], [], 0
        while length < target * SAMPLE_RATE:
            sentence = realize(sample_sentence(rng))
            wave = synthesize(sentence.en, voice=voice, rate=rate)
            if length + len(gap) + len(wave) > 30 * SAMPLE_RATE:
                break
            waves += [gap, wave] if waves else [wave]
            texts.append(sentence)
            length = sum(len(w) for w in waves)
        audio = np.concatenate(waves)
        name = f"utt{index:03d}"
        sf.write(root / f"{name}.wav", audio, SAMPLE_RATE, subtype="PCM_16")
        rows.append({
            "id": name, "audio": f"{name}.wav", "text": " ".join(t.en for t in texts),
            "de": " ".join(t.de for t in texts), "fr": " ".join(t.fr for t in texts),
        })
        total += len(audio) / SAMPLE_RATE
        index += 1
    manifest = root / "corpus.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    durations = [sf.info(str(root / r["audio"])).duration for r in rows]
    failures = [
        f"utterance {r['id']} must last 2-30 s, but lasts {d:.2f} s"
        for r, d in zip(rows, durations) if not 2.0 <= d <= 30.0
    ]
    if sum(durations) < 60.0:
        failures.append(f"the corpus must hold 60+ s of speech, but holds {sum(durations):.1f} s")
    emit({"manifest": str(manifest), "utterances": len(rows), "seconds": round(sum(durations), 2),
          "shortest_s": round(min(durations), 2), "longest_s": round(max(durations), 2)}, failures)


def frames(work: Path, count: int, seed: int = 0) -> None:
    """The labelled corpus' layer-22 frames plus jittered copies of them, up to `count` frames.

    k-means at k=5000 needs far more frames than 60 s of speech gives (3000); copies of real
    frames with Gaussian noise (half each dimension's spread) keep the centroids where the real
    frames are, so the assignment of the labelled frames stays meaningful.
    """
    from units.corpus.sampling import load_sample, save_sample

    real, info = load_sample(work / "feats_real.npy")
    rng = np.random.default_rng(seed)
    spread = real.std(axis=0, keepdims=True) * 0.5
    chunks, left = [real], count - len(real)
    while left > 0:
        take = min(left, 20000)
        picked = real[rng.integers(len(real), size=take)]
        chunks.append(picked + rng.standard_normal(picked.shape, dtype=np.float32) * spread)
        left -= take
    features = np.concatenate(chunks).astype(np.float32, copy=False)
    info = {**info, "scale_check": {"real_frames": len(real), "jittered_frames": count - len(real)}}
    path = save_sample(work / "feats_kmeans.npy", features, info)
    failures = []
    if features.shape[0] < 100_000 or features.shape[1] != 1024:
        failures.append(f"k-means frames must be >= 100000 x 1024, but are {features.shape}")
    emit({"path": str(path), "shape": list(features.shape), "real_frames": len(real),
          "featurizer": info.get("featurizer", {}).get("layer")}, failures)


def compare_labels(work: Path) -> None:
    """Batched and one-by-one labelling must give the same units for every utterance."""
    from units.corpus import read_labelled

    batched = {row["id"]: row for row in read_labelled(work / "units_batched")}
    single = {row["id"]: row for row in read_labelled(work / "units_single")}
    failures = []
    if set(batched) != set(single) or not batched:
        failures.append(f"both runs must label the same utterances, but got {len(batched)} and {len(single)}")
    differ = sorted(i for i in set(batched) & set(single) if batched[i]["units"] != single[i]["units"])
    if differ:
        failures.append(f"batched and one-by-one units must be equal, but differ for {differ}")
    units = [u for row in batched.values() for u in row["units"]]
    frames_total = sum(int(row["n_frames"]) for row in batched.values())
    emit({"utterances": len(batched), "frames": frames_total, "units": len(units),
          "distinct_units": len(set(units)), "dedup_ratio": round(len(units) / max(frames_total, 1), 3),
          "differ": differ}, failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("encoder", "corpus", "frames", "compare-labels"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=62.0)
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.step == "encoder":
        encoder(args.work)
    elif args.step == "corpus":
        corpus(args.work, args.seconds)
    elif args.step == "frames":
        frames(args.work, args.frames)
    else:
        compare_labels(args.work)
    print(f"{args.step}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
