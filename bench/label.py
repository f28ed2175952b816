"""python bench/label.py [--seconds 60] [--layers 6 9] [--k 100] [--rounds 3] [--threads N]

Audio seconds labelled per wall second (and per CPU second) of `units.label_corpus` against
the plain loop reference implementations use: one utterance at a time through the processor
and the whole model with `output_hidden_states=True`, layer L picked. Same encoder, same audio
files (tone-speech utterances of 2-8 s), same layer, same k-means, same torch thread count
(one process). Two encoders of HuBERT-base size (12 layers, hidden 768, random init from a
config, nothing downloaded):

- base: HuBERT-base's own layout, group norm in the first conv layer and no attention mask.
- stable: the layout of HuBERT-large (layer-norm conv stack, pre-norm layers, trained with an
  attention mask).
For both, ours runs the conv stack on each wave alone (for base, padding would change the
group-norm statistics) and the layers up to L as length-bucketed batches with a frame mask.

The arithmetic bound printed beside each ratio is the reference's multiply-adds over ours
(conv stack + L layers vs conv stack + all 12, positional conv counted as free): the speed-up
that running only the needed layers can give when both sides compute equally well.

Layer 6 is textlesslib's standard layer for HuBERT-base; 9 is also reported. The reference
computes every layer whatever L is, so one timed reference run serves all layers. Rounds
alternate which side runs first; the best round of each side is reported (the machine may be
shared), with the per-round ratios (same round, back to back) and their median. "identical"
is the share of utterances whose unit strings equal the reference's exactly. With CUDA, also
prints the real-time factor of a HuBERT-large-size encoder to layer 22 (fp32 and bf16).
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from units.audio import load_audio
from units.corpus.labelling import LabelConfig, label_corpus
from units.encoding import dedup, ids_to_text
from units.extractor import UnitExtractor
from units.features.ssl_featurizer import SSLFeaturizer
from units.kmeans.quantizer import KMeansQuantizer
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
VARIANTS = {
    "base": dict(BASE, stable_layer_norm=False),
    "stable": dict(BASE, stable_layer_norm=True),
}
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


def macs(config: dict, samples: int, layers: int) -> float:
    """Multiply-adds of the conv stack plus `layers` transformer layers for one wave (the
    positional conv left out: ours does it by FFT for a small share of its direct cost)."""
    total, length, channels = 0.0, samples, 1
    for kernel, stride, dim in zip(
        (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2), config["conv_dim"]
    ):
        length = (length - kernel) // stride + 1
        total += length * dim * channels * kernel
        channels = dim
    hidden, inner = config["hidden"], config["intermediate_size"]
    per_layer = length * (4 * hidden * hidden + 2 * hidden * inner) + 2 * length * length * hidden
    return total + length * channels * hidden + layers * per_layer


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


class Clock:
    """Wall and process CPU seconds (all threads) of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def reference_loop(
    manifest: Path, model_dir: Path, quantizers: dict[int, KMeansQuantizer]
) -> tuple[dict[int, list[str]], float]:
    """One utterance at a time through the processor and the full model, every layer computed;
    returns ({layer: unit texts}, audio seconds)."""
    from transformers import AutoFeatureExtractor, HubertModel

    processor = AutoFeatureExtractor.from_pretrained(model_dir)
    model = HubertModel.from_pretrained(model_dir).eval()
    texts: dict[int, list[str]] = {layer: [] for layer in quantizers}
    audio_s = 0.0
    with torch.inference_mode():
        for line in manifest.read_text().splitlines():
            record = json.loads(line)
            wave = load_audio(str(manifest.parent / record["audio"]))
            inputs = processor(wave, sampling_rate=16000, return_tensors="pt")
            hidden = model(inputs.input_values, output_hidden_states=True).hidden_states
            for layer, quantizer in quantizers.items():
                ids, _ = dedup(quantizer.assign(hidden[layer][0]))
                texts[layer].append(ids_to_text(ids))
            audio_s += len(wave) / 16000
    return texts, audio_s


def ours(manifest: Path, extractor: UnitExtractor, out: Path) -> list[str]:
    label_corpus(manifest, extractor, out, config=LabelConfig(progress=False))
    with gzip.open(out / "units-00000-of-00001.jsonl.gz", "rt") as handle:
        return [json.loads(line)["units"] for line in handle]


def extractor_for(model_dir: Path, layer: int, k: int) -> UnitExtractor:
    featurizer = SSLFeaturizer.from_pretrained(model_dir, layer=layer, device="cpu")
    frames = featurizer.featurize([tone_speech(20.0, seed=999)])[0].numpy()
    quantizer = KMeansQuantizer(
        frames[np.random.default_rng(0).choice(len(frames), k, replace=False)]
    )
    return UnitExtractor(featurizer, quantizer)


def bench_variant(
    name: str, work: Path, manifest: Path, layers: list[int], k: int, rounds: int
) -> None:
    model_dir = tiny_hubert(work / name, **VARIANTS[name])
    extractors = {layer: extractor_for(model_dir, layer, k) for layer in layers}
    quantizers = {layer: e.quantizer for layer, e in extractors.items()}
    ref_clocks: list[Clock] = []
    our_clocks: dict[int, list[Clock]] = {layer: [] for layer in layers}
    identical: dict[int, float] = {}
    for round_index in range(rounds):
        steps = ["ref", *layers]
        for step in steps if round_index % 2 == 0 else steps[::-1]:
            with Clock() as clock:
                if step == "ref":
                    reference, audio_s = reference_loop(manifest, model_dir, quantizers)
                else:
                    texts = ours(
                        manifest, extractors[step], work / f"out_{name}_{step}_{round_index}"
                    )
            if step == "ref":
                ref_clocks.append(clock)
            else:
                our_clocks[step].append(clock)
                identical[step] = texts  # compared once the reference texts exist
    ref_wall = min(c.wall for c in ref_clocks)
    ref_cpu = min(c.cpu for c in ref_clocks)
    print(
        f"\n[{name}] reference loop (all 12 layers, one by one): "
        f"{audio_s / ref_wall:.2f} audio s / wall s, {audio_s / ref_cpu:.2f} audio s / CPU s"
    )
    lengths = [
        len(load_audio(str(manifest.parent / json.loads(line)["audio"])))
        for line in manifest.read_text().splitlines()
    ]
    for layer in layers:
        full = sum(macs(VARIANTS[name], n, VARIANTS[name]["num_layers"]) for n in lengths)
        bound = full / sum(macs(VARIANTS[name], n, layer) for n in lengths)
        wall = min(c.wall for c in our_clocks[layer])
        cpu = min(c.cpu for c in our_clocks[layer])
        ratios = [r.wall / o.wall for r, o in zip(ref_clocks, our_clocks[layer])]
        per_round = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        agree = np.mean([a == b for a, b in zip(identical[layer], reference[layer])])
        print(
            f"[{name}] label_corpus layer {layer:2d}: {audio_s / wall:.2f} audio s / wall s, "
            f"{audio_s / cpu:.2f} audio s / CPU s; ratio {ref_wall / wall:.2f}x wall "
            f"(rounds: {per_round}; median {np.median(ratios):.2f}), {ref_cpu / cpu:.2f}x CPU "
            f"(target >= 2x; arithmetic bound of truncation {bound:.2f}x); "
            f"identical units for {agree:.1%} of {len(reference[layer])} utterances"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio in the corpus")
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 9], help="layers (of 12)")
    parser.add_argument("--k", type=int, default=100, help="k-means clusters")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads (both sides)"
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_label_"))
    manifest = write_corpus(work, args.seconds)
    print(
        f"corpus: {args.seconds:.0f} s in {len(manifest.read_text().splitlines())} utterances; "
        f"HuBERT-base size (12 layers, 768), layers {args.layers}, k={args.k}; "
        f"torch threads {torch.get_num_threads()} (both sides); {args.rounds} rounds"
    )
    for name in args.variants:
        bench_variant(name, work, manifest, args.layers, args.k, args.rounds)
    if torch.cuda.is_available():
        large_rtf(work, manifest)


def large_rtf(work: Path, manifest: Path) -> None:
    """Real-time factor (wall / audio) of a HuBERT-large-size encoder to layer 22 on CUDA."""
    model_dir = tiny_hubert(work / "hubert_large", **LARGE)
    audio_s = sum(
        len(load_audio(str(manifest.parent / json.loads(line)["audio"]))) / 16000
        for line in manifest.read_text().splitlines()
    )
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
