"""python bench/gpu.py [--dry-run] [--audio-minutes 30] [--frames 200000] [--train-steps 12]

The recipe's heavy steps on one GPU, in one table (about 5 minutes on an H100, under 10 on
smaller cards; random weights at the real shapes, nothing is downloaded):

- labelling: HuBERT-large cut after layer 22, bf16, waves of 2-30 s batched by length
  (`SSLFeaturizer`, as `spire units label` runs it); real-time factor, and the arithmetic bound
  (the encoder's FLOPs per audio second over the GPU's dense bf16 peak) it is measured against;
- k-means: k=5000 on the same frames with faiss on the GPU and on the CPU (`KMeansQuantizer.fit`
  with faiss's random seeding: our k-means++ seeding runs on the CPU either way and takes
  minutes at k=5000, see bench/README.md, so it would only blur the engines' difference);
- CPT: a 1B-shaped Llama (TinyLlama widths, SPIRE's 37056-row vocabulary) trained with
  `spire.training.recipe.train` from configs/train/spire_base_cpt.yaml (bf16, packed rows of
  2048); non-padding tokens/s and model FLOPs utilisation (6N + 12·L·h·s per token);
- generation: greedy, batched, with the trained 1B model (`generate_transformers`); tokens/s.

`--dry-run` runs the same code on the CPU with tiny shapes (seconds; tested in the default test
run); its "peak" is this CPU's measured bf16 matmul rate, so its ratios are only plumbing.
`--peak-tflops` overrides the GPU's peak when its name is not in `scale_projection`; on a 24 GB
card pass `--micro-batch 2` (the 1B model trains with fp32 master weights and AdamW).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scale_projection import (
    LlamaShape,
    generate_flops_per_token,
    hubert_flops_per_second,
    peak_tflops,
    train_flops_per_token,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the GPU run and the dry run."""

    hubert: dict
    layer: int
    audio_s: float
    frames: int
    k: int
    niter: int
    llama: LlamaShape
    seq_len: int
    micro_batch: int
    steps: int
    prompts: int
    new_tokens: int


def gpu_sizes(args: argparse.Namespace) -> Sizes:
    from scale_speech import HUBERT_LARGE

    return Sizes(HUBERT_LARGE, 22, args.audio_minutes * 60, args.frames, 5000, 20,
                 LlamaShape.llama_1b(), 2048, args.micro_batch, args.train_steps, 64, 128)


def dry_sizes() -> Sizes:
    tiny = {"hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2,
            "intermediate_size": 64, "conv_dim": (32,) * 7, "feat_extract_norm": "layer",
            "do_stable_layer_norm": True, "num_conv_pos_embeddings": 16,
            "num_conv_pos_embedding_groups": 2}
    return Sizes(tiny, 3, 6.0, 2000, 16, 3, LlamaShape(512, 64, 128, 2, 4, 2), 128, 2, 2, 4, 8)


def cpu_peak_tflops() -> float:
    """This CPU's bf16 matmul rate, the dry run's stand-in for a GPU peak."""
    import torch

    a = torch.randn(512, 512, dtype=torch.bfloat16)
    a @ a
    start, n = time.perf_counter(), 20
    for _ in range(n):
        a @ a
    return 2 * 512**3 * n / (time.perf_counter() - start) / 1e12


def _waves(total_s: float, shortest: float, longest: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    waves, left = [], total_s
    while left > 0:
        seconds = min(left, rng.uniform(shortest, longest))
        waves.append(rng.standard_normal(max(int(seconds * 16000), 16000), dtype=np.float32) * 0.1)
        left -= seconds
    return waves


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def labelling(sizes: Sizes, device: str, peak: float, work: Path) -> tuple[list[str], np.ndarray]:
    """One row, and the frames it made (the k-means rows fit on them)."""
    import torch
    from transformers import HubertConfig, HubertModel

    from units.features.ssl_featurizer import SSLFeaturizer

    torch.manual_seed(0)
    config = HubertConfig(**sizes.hubert)
    HubertModel(config).save_pretrained(work / "hubert")
    featurizer = SSLFeaturizer.from_pretrained(work / "hubert", layer=sizes.layer, dtype="bfloat16", device=device)
    waves = _waves(sizes.audio_s, 2.0, 30.0 if device == "cuda" else 3.0)
    featurizer.featurize(waves[:2])  # warm-up (kernels, allocator)
    _sync(device)
    start = time.perf_counter()
    frames = featurizer.featurize(waves)
    _sync(device)
    seconds = time.perf_counter() - start
    audio = sum(len(w) for w in waves) / 16000
    bound = hubert_flops_per_second(config, sizes.layer) * audio / (peak * 1e12)
    row = [f"label: HuBERT {config.num_hidden_layers}x{config.hidden_size} to layer {sizes.layer}, bf16",
             f"{len(waves)} waves, {audio / 60:.1f} min of audio, length-sorted batches",
             f"RTF {seconds / audio:.5f} ({audio / seconds:,.0f}x real time)",
             f"{bound / seconds:.0%} of the bf16 arithmetic bound (RTF {bound / audio:.6f})"]
    return row, torch.cat([f.float().cpu() for f in frames]).numpy()


def kmeans(sizes: Sizes, device: str, real: np.ndarray) -> list[list[str]]:
    import faiss

    from units.kmeans.quantizer import KMeansQuantizer

    rng = np.random.default_rng(0)
    frames = real[rng.integers(len(real), size=sizes.frames)]
    frames = frames + rng.standard_normal(frames.shape, dtype=np.float32) * frames.std(0) * 0.5
    shape = f"k={sizes.k}, {sizes.frames} x {frames.shape[1]} frames, {sizes.niter} Lloyd iterations"
    timings, rows = {}, []
    engines = [("GPU", True), ("CPU", False)] if device == "cuda" else [("GPU (dry run: CPU)", False), ("CPU", False)]
    for name, gpu in engines:
        if gpu and faiss.get_num_gpus() == 0:
            rows.append([f"k-means faiss-{name}", shape, "faiss sees no GPU", "pip install faiss-gpu-cu12"])
            continue
        start = time.perf_counter()
        quantizer = KMeansQuantizer.fit(frames, sizes.k, niter=sizes.niter, seed=0, gpu=gpu, init="random")
        timings[name] = time.perf_counter() - start
        inertia = quantizer.inertia(frames) / len(frames)
        rows.append([f"k-means faiss-{name}", shape, f"{timings[name]:.1f} s", f"inertia/frame {inertia:.4g}"])
    if len(timings) == 2:
        first, second = timings.values()
        rows[0][3] += f"; {second / first:.1f}x the CPU's speed"
    return rows


def _packed_rows(count: int, seq_len: int, vocab: int, seed: int = 0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    for _ in range(count):
        ids, positions = [], []
        while len(ids) < seq_len:
            length = min(int(rng.integers(seq_len // 8, seq_len // 2)), seq_len - len(ids))
            ids += rng.integers(3, vocab, size=length).tolist()
            positions += list(range(length))
        columns["input_ids"].append(ids)
        columns["labels"].append(ids)
        columns["position_ids"].append(positions)
    return columns


def training(sizes: Sizes, device: str, peak: float, work: Path) -> tuple[list[str], Path]:
    import torch
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM

    from spire.config import resolve_config
    from spire.training.recipe import TrainConfig, train

    s = sizes.llama
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=s.vocab, hidden_size=s.hidden, intermediate_size=s.intermediate,
                         num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.kv_heads,
                         max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    with torch.device(device):
        LlamaForCausalLM(config).save_pretrained(work / "llama")
    rows = sizes.steps * sizes.micro_batch
    Dataset.from_dict(_packed_rows(rows, sizes.seq_len, s.vocab)).save_to_disk(str(work / "cpt"))
    cfg = resolve_config(TrainConfig, ROOT / "configs/train/spire_base_cpt.yaml", [
        f"model.path={work / 'llama'}", f"data.train={work / 'cpt'}", f"output_dir={work / 'run'}",
        f"data.seq_len={sizes.seq_len}", f"micro_batch={sizes.micro_batch}", "grad_accum=1",
        f"max_steps={sizes.steps}", "logging_steps=1", "save_steps=0", "data.num_workers=0",
        f"use_cpu={'true' if device == 'cpu' else 'false'}"])
    result = train(cfg)
    rates = [x["tokens_per_s"] for x in result.log_history if "tokens_per_s" in x]
    rate = statistics.median(rates[2:] or rates)  # the first steps pay for warm-up
    flops = rate * train_flops_per_token(s, sizes.seq_len)
    row = [f"CPT: Llama {s.layers}x{s.hidden} ({s.params() / 1e9:.2f}B), bf16, packed",
           f"rows of {sizes.seq_len}, micro-batch {sizes.micro_batch}, {sizes.steps} steps",
           f"{rate:,.0f} tokens/s", f"MFU {flops / (peak * 1e12):.0%}"]
    return row, work / "run"


def generation(sizes: Sizes, device: str, peak: float, model_dir: Path, work: Path) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.inference.generation import DecodingSettings, generate_transformers
    from spire.testing import sample_sentences, tiny_llama

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llama(work / "tok", num_layers=1)))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.bfloat16).to(device).eval()
    prompts = [" ".join(sample_sentences(6, seed=i)) for i in range(sizes.prompts)]
    batch = min(32, sizes.prompts)
    settings = DecodingSettings(batch_size=batch, max_new_tokens=sizes.new_tokens)
    generate_transformers(model, tokenizer, prompts[:batch], DecodingSettings(batch_size=batch, max_new_tokens=2))
    _sync(device)
    start = time.perf_counter()
    out = generate_transformers(model, tokenizer, prompts, settings)
    _sync(device)
    seconds = time.perf_counter() - start
    tokens = sum(len(ids) for ids in out)
    flops = tokens / seconds * generate_flops_per_token(sizes.llama, 200)
    return [f"generate: the same {sizes.llama.params() / 1e9:.2f}B model, greedy",
            f"{len(prompts)} prompts, batches of {batch}, {sizes.new_tokens} new tokens",
            f"{tokens / seconds:,.0f} tokens/s", f"{flops / (peak * 1e12):.1%} of bf16 peak (memory-bound)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU")
    parser.add_argument("--audio-minutes", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--train-steps", type=int, default=12)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak")
    args = parser.parse_args(argv)
    import torch

    if args.dry_run:
        device, name, sizes, peak = "cpu", "CPU (dry run)", dry_sizes(), cpu_peak_tflops()
    elif not torch.cuda.is_available():
        print("error: no CUDA GPU here; run with --dry-run to check the code paths on the CPU", file=sys.stderr)
        return 2
    else:
        device, name, sizes = "cuda", torch.cuda.get_device_name(), gpu_sizes(args)
        peak = args.peak_tflops or peak_tflops(name)
        if peak is None:
            print(f"error: the bf16 peak of {name!r} is unknown; pass --peak-tflops", file=sys.stderr)
            return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        row, frames = labelling(sizes, device, peak, work)
        rows = [row, *kmeans(sizes, device, frames)]
        row, model_dir = training(sizes, device, peak, work)
        rows.append(row)
        rows.append(generation(sizes, device, peak, model_dir, work))
    print(f"\n{name}, bf16 peak {peak:.1f} TFLOP/s; {time.perf_counter() - start:.0f} s in all\n")
    print("| measurement | shapes | result | against the bound |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
