"""python bench/label.py [--seconds 60] [--layer 6] [--k 100]

Audio seconds labelled per wall second: `units.label_corpus` (encoder truncated at layer L,
length-bucketed batches, audio decoded on threads ahead of the model) against the plain loop
reference implementations use (one utterance at a time, every layer computed with
`output_hidden_states=True`, layer L picked). Same encoder (HuBERT-base size: 12 layers, hidden
768, random init from a config, nothing downloaded), same audio files (tone-speech utterances
of 2-8 s), same layer, same k-means. Prints both rates, their ratio (target >= 2x on CPU) and
the share of utterances whose units agree exactly. With CUDA, also prints the real-time factor
of a HuBERT-large-size encoder to layer 22 (bf16).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from units.audio import load_audio
from units.encoding import dedup, ids_to_text
from units.extractor import UnitExtractor
from units.kmeans import KMeansQuantizer
from units.labelling import LabelConfig, label_corpus
from units.ssl_featurizer import SSLFeaturizer
from units.testing import tiny_hubert, tone_speech

BASE = dict(
    num_layers=12,
    hidden=768,
    num_attention_heads=12,
    intermediate_size=3072,
    conv_dim=(512,) * 7,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
)
LARGE = dict(
    num_layers=24,
    hidden=1024,
    num_attention_heads=16,
    intermediate_size=4096,
    conv_dim=(512,) * 7,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
    stable_layer_norm=True,
)


def write_corpus(root: Path, total_seconds: float, seed: int = 0) -> Path:
    """Tone-speech wavs of 2-8 s adding up to `total_seconds`, and their JSONL manifest."""
    rng = np.random.default_rng(seed)
    lines, done, i = [], 0.0, 0
    while done < total_seconds:
        seconds = float(min(rng.uniform(2.0, 8.0), max(total_seconds - done, 2.0)))
        sf.write(root / f"u{i:04d}.wav", tone_speech(seconds, seed=i), 16000, subtype="PCM_16")
        lines.append(json.dumps({"id": f"u{i:04d}", "audio": f"u{i:04d}.wav"}) + "\n")
        done, i = done + seconds, i + 1
    (root / "corpus.jsonl").write_text("".join(lines))
    return root / "corpus.jsonl"


def reference_loop(
    manifest: Path, model_dir: Path, layer: int, quantizer: KMeansQuantizer
) -> tuple[list[str], float]:
    """One utterance at a time through the full model; returns (unit texts, audio seconds)."""
    from transformers import HubertModel

    model = HubertModel.from_pretrained(model_dir).eval()
    texts, audio_s = [], 0.0
    with torch.inference_mode():
        for line in manifest.read_text().splitlines():
            record = json.loads(line)
            wave = load_audio(str(manifest.parent / record["audio"]))
            hidden = model(torch.from_numpy(wave)[None], output_hidden_states=True).hidden_states[
                layer
            ][0]
            ids, _ = dedup(quantizer.assign(hidden))
            texts.append(ids_to_text(ids))
            audio_s += len(wave) / 16000
    return texts, audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio in the corpus")
    parser.add_argument("--layer", type=int, default=6, help="HuBERT-base layer (of 12)")
    parser.add_argument("--k", type=int, default=100, help="k-means clusters")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_label_"))
    manifest = write_corpus(work, args.seconds)
    model_dir = tiny_hubert(work / "hubert_base", **BASE)
    featurizer = SSLFeaturizer.from_pretrained(model_dir, layer=args.layer, device="cpu")
    frames = featurizer.featurize([tone_speech(20.0, seed=999)])[0].numpy()
    quantizer = KMeansQuantizer(
        frames[np.random.default_rng(0).choice(len(frames), args.k, replace=False)]
    )
    extractor = UnitExtractor(featurizer, quantizer)
    print(
        f"corpus: {args.seconds:.0f} s in {len(manifest.read_text().splitlines())} utterances; "
        f"HuBERT-base size (12 layers, 768), layer {args.layer}, k={args.k}; "
        f"torch threads {torch.get_num_threads()}"
    )

    start = time.perf_counter()
    reference, audio_s = reference_loop(manifest, model_dir, args.layer, quantizer)
    reference_rate = audio_s / (time.perf_counter() - start)

    start = time.perf_counter()
    summary = label_corpus(manifest, extractor, work / "out", config=LabelConfig(progress=False))
    ours_rate = audio_s / (time.perf_counter() - start)
    import gzip

    with gzip.open(work / "out" / "units-00000-of-00001.jsonl.gz", "rt") as handle:
        ours = [json.loads(line)["units"] for line in handle]
    agree = np.mean([a == b for a, b in zip(ours, reference)])
    print(f"reference loop (all layers, one by one): {reference_rate:.2f} audio s / wall s")
    print(f"label_corpus (layer {args.layer}, batched):        {ours_rate:.2f} audio s / wall s")
    print(
        f"ratio: {ours_rate / reference_rate:.2f}x (target >= 2x); identical units for "
        f"{agree:.1%} of {summary.ok} utterances"
    )
    if torch.cuda.is_available():
        large_rtf(work, manifest, audio_s)


def large_rtf(work: Path, manifest: Path, audio_s: float) -> None:
    """Real-time factor (wall / audio) of a HuBERT-large-size encoder to layer 22 on CUDA."""
    model_dir = tiny_hubert(work / "hubert_large", **LARGE)
    for dtype in ("float32", "bfloat16"):
        featurizer = SSLFeaturizer.from_pretrained(model_dir, layer=22, dtype=dtype, device="cuda")
        frames = featurizer.featurize([tone_speech(20.0, seed=999)])[0].float().cpu().numpy()
        quantizer = KMeansQuantizer(
            frames[np.random.default_rng(0).choice(len(frames), 500, replace=False)]
        )
        extractor = UnitExtractor(featurizer, quantizer)
        torch.cuda.synchronize()
        start = time.perf_counter()
        label_corpus(
            manifest, extractor, work / f"out_large_{dtype}", config=LabelConfig(progress=False)
        )
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
        print(
            f"CUDA HuBERT-large size to layer 22 ({dtype}): RTF {wall / audio_s:.4f} "
            f"({audio_s / wall:.0f} audio s / wall s)"
        )


if __name__ == "__main__":
    main()
