"""python bench/lowbit.py --model demo_out/it/model [--quick] [--threads 2] [--layers 2]

The adapted model on a CPU: transformers fp32 (today's path) against the model exported with
`spire export` to CTranslate2 at 32 bits (the engine alone) and at 8 bits (int8), side by side
in one table, for two models:

* mini: the miniature's model (`--model`, a `spire demo` output such as demo_out/it/model),
  prompted with the units of its test split; with its test manifest (`--test-manifest`,
  default MODEL/../../corpus/test.jsonl) also WER and speech-translation BLEU (en->de, en->fr)
  of each variant, end to end through `SpireModel` + `spire.evaluation`.
* big: a random-weight Llama with TowerBase's widths (hidden 4096, intermediate 11008, 32 heads,
  vocabulary 37056 with 5000 unit tokens) and `--layers` layers (2: 0.71B parameters),
  prompted with the same unit sequences (or units of synthetic speech without `--model`).

Each variant runs in its own process (so peak RSS is its own): generation tokens/s (new tokens
over the wall time of batched generation, prompt processing included), seconds per utterance,
the speed-up over transformers by wall time and by CPU time (steadier on a machine shared with
other work), peak RSS of the process, size of the weight files, and how many answers equal
fp32's. A 4-bit
row says why there is none: CTranslate2 has no 4-bit CPU kernels, and llama.cpp (GGUF q4_0)
needs a long source build (see docs/export.md). `--quick` uses 8 prompts and 16 new tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VARIANTS = (("transformers", "float32"), ("ct2", "float32"), ("ct2", "int8"))
TOWER = {"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32,
         "vocab_size": 37056, "num_units": 5000}
QUALITY = (("wer", "asr", "en"), ("bleu_de", "st", "de"), ("bleu_fr", "st", "fr"))


# ------------------------------------------------------------------ child process: one variant


def worker(spec: dict) -> dict:
    """Generate the prompts with one variant (and score the test split when asked)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.inference.engines import load_engine
    from spire.inference.generation import DecodingSettings, generate_transformers

    torch.set_num_threads(spec["threads"])
    folder = spec["dir"]
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if spec["engine"] == "transformers":
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        def generate(prompts, settings):
            return generate_transformers(model, tokenizer, prompts, settings)
    else:
        engine = load_engine(folder, threads=spec["threads"])
        def generate(prompts, settings):
            return engine.generate(tokenizer, prompts, settings)
    prompts = json.loads(Path(spec["prompts"]).read_text())
    generate(prompts[:1], DecodingSettings(max_new_tokens=2))  # warm-up: first-call allocations
    settings = DecodingSettings(batch_size=spec["batch_size"], max_new_tokens=spec["max_new_tokens"])
    start, cpu = time.perf_counter(), time.process_time()
    outputs = generate(prompts, settings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    out = {"wall_s": wall, "cpu_s": cpu, "tokens": sum(map(len, outputs)), "utterances": len(prompts),
           "rss_mib": peak_rss_mib(), "outputs": outputs}
    if spec.get("manifest"):
        out["quality"] = _quality(spec)
    return out


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not `ru_maxrss`: Linux carries that over an exec from
    the parent, so a child started by a parent holding gigabytes would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _quality(spec: dict) -> dict:
    from spire.evaluation.evaluator import evaluate, read_eval_data
    from spire.inference.model import SpireModel

    model = SpireModel.from_pretrained(spec["dir"], device="cpu")
    scores = {}
    for key, task, language in QUALITY:
        examples = read_eval_data(spec["manifest"], task=task, language=language if task == "st" else "de",
                                  limit=spec.get("limit"))
        report = evaluate(model, examples, task=task, language=language if task == "st" else "de",
                          batch_size=spec["batch_size"], max_new_tokens=spec["quality_max_new_tokens"])
        scores[key] = next(s.value for s in report.scores if s.name in ("wer", "bleu"))
        scores[f"{key}_s_per_utt"] = report.timing["seconds"] / len(examples)
    return scores


def run_worker(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"worker {spec['engine']} {spec['dir']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ building the inputs


def unit_prompts(model_dir: Path | None, manifest: Path | None, count: int) -> list[str]:
    """ASR chat prompts from the units of real test utterances (or of synthetic speech)."""
    from spire import prompts
    from units import UnitExtractor, load_audio

    if model_dir is not None and manifest is not None and manifest.is_file():
        from spire.evaluation.evaluator import read_eval_data

        extractor = UnitExtractor.from_pretrained(model_dir / "extractor")
        examples = read_eval_data(manifest, task="asr", limit=count)
        waves = [load_audio(e.input, 16000) for e in examples]
    else:
        from units.testing import tone_speech

        extractor = _random_extractor(TOWER["num_units"])
        waves = [tone_speech(3.0 + (i % 6), seed=i) for i in range(count)]
    units = extractor.extract_waves(waves)
    return [prompts.chat([("user", prompts.asr_prompt(u.text))], add_generation_prompt=True) for u in units]


def _random_extractor(k: int):
    """MFCC + k random centroids: a stand-in extractor for the random model's folder."""
    import numpy as np

    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    featurizer = MfccFeaturizer()
    centroids = np.random.default_rng(0).normal(size=(k, featurizer.dim)).astype(np.float32)
    quantizer = KMeansQuantizer(centroids, {"provenance": featurizer.provenance()})
    return UnitExtractor(featurizer, quantizer)


def build_big(out: Path, layers: int) -> Path:
    """A random-weight Llama with TowerBase widths, `layers` layers and 5000 unit tokens."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from spire.testing import tiny_extended_llama

    folder = out / "model"
    if (folder / "extractor" / "extractor.json").is_file():  # built before, kept in --work-dir
        return folder
    small = tiny_extended_llama(out / "tokenizer", num_units=TOWER["num_units"])
    tokenizer = AutoTokenizer.from_pretrained(small)
    spire_meta = json.loads((small / "config.json").read_text())["spire"]
    config = LlamaConfig(
        vocab_size=TOWER["vocab_size"], hidden_size=TOWER["hidden_size"],
        intermediate_size=TOWER["intermediate_size"], num_hidden_layers=layers,
        num_attention_heads=TOWER["num_attention_heads"], num_key_value_heads=TOWER["num_attention_heads"],
        max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config.spire = spire_meta
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _random_extractor(TOWER["num_units"]).save_pretrained(folder / "extractor")
    return folder


def _weights_mib(folder: Path) -> float:
    files = list(folder.glob("*.safetensors")) or list((folder / "ct2").glob("model.bin"))
    return sum(f.stat().st_size for f in files) / 2**20


# ------------------------------------------------------------------ the table


def measure(name: str, model_dir: Path, prompts_file: Path, args, work: Path, manifest: Path | None) -> list[dict]:
    from spire.export import export_model

    rows = []
    for engine, quant in VARIANTS:
        folder = model_dir
        if engine == "ct2":
            folder = work / f"{name}-{quant}"
            if not (folder / "spire_export.json").is_file():  # kept in --work-dir
                print(f"  export {name} -> ct2 {quant}", file=sys.stderr, flush=True)
                export_model(model_dir, folder, quant=quant, overwrite=True)
        spec = {"engine": engine, "dir": str(folder), "prompts": str(prompts_file),
                "threads": args.threads, "batch_size": args.batch_size,
                "max_new_tokens": args.max_new_tokens, "quality_max_new_tokens": args.quality_max_new_tokens,
                "manifest": str(manifest) if manifest else None, "limit": args.limit}
        print(f"  run {name} {engine} {quant}", file=sys.stderr, flush=True)
        result = run_worker(spec)
        rows.append({"model": name, "variant": f"{'transformers' if engine == 'transformers' else 'ctranslate2'} {quant}",
                     "size_mib": _weights_mib(Path(folder)), **result})
    reference = rows[0]
    for row in rows:
        row["tok_s"] = row["tokens"] / row["wall_s"]
        row["speedup"] = row["tok_s"] / reference["tokens"] * reference["wall_s"]
        row["cpu_speedup"] = row["tokens"] / row["cpu_s"] / reference["tokens"] * reference["cpu_s"]
        row["same"] = sum(a == b for a, b in zip(row["outputs"], reference["outputs"]))
    rows.append({"model": name, "variant": "4-bit", "note": "n/a: CTranslate2 has no 4-bit CPU weights; "
                 "llama.cpp q4_0 needs a long source build (docs/export.md)"})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'model':<6}{'variant':<21}{'weights MiB':>12}{'peak RSS MiB':>13}{'tok/s':>7}{'s/utt':>8}"
          f"{'x wall':>8}{'x CPU':>7}{'=fp32':>7}{'WER':>7}{'BLEU de':>8}{'BLEU fr':>8}{'ASR s/utt':>10}")
    for row in rows:
        if "note" in row:
            print(f"{row['model']:<6}{row['variant']:<21}  {row['note']}")
            continue
        q = row.get("quality") or {}
        scores = "".join(f"{q[k]:>{w}.{d}f}" if k in q else f"{'-':>{w}}"
                         for k, w, d in (("wer", 7, 1), ("bleu_de", 8, 1), ("bleu_fr", 8, 1), ("wer_s_per_utt", 10, 3)))
        same = f"{row['same']}/{row['utterances']}"
        print(f"{row['model']:<6}{row['variant']:<21}{row['size_mib']:>12.1f}{row['rss_mib']:>13.0f}"
              f"{row['tok_s']:>7.1f}{row['wall_s'] / row['utterances']:>8.3f}{row['speedup']:>7.2f}x"
              f"{row['cpu_speedup']:>6.2f}x{same:>7}{scores}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the miniature's model folder (demo_out/it/model)")
    parser.add_argument("--test-manifest", type=Path, help="default: MODEL/../../corpus/test.jsonl")
    parser.add_argument("--quick", action="store_true", help="8 prompts, 16 new tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=2, help="layers of the big random model")
    parser.add_argument("--prompts", type=int, default=32, help="utterances timed per variant")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--quality-max-new-tokens", type=int, default=48, help="the demo's setting")
    parser.add_argument("--limit", type=int, help="score only the first N test utterances")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--work-dir", type=Path, help="keep the built models and exports here "
                        "(reused by the next run; default: a temporary folder)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.quick:
        args.prompts, args.max_new_tokens = 8, 16
    manifest = args.test_manifest or (args.model.parent.parent / "corpus" / "test.jsonl" if args.model else None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lowbit-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prompts_file = work / "prompts.json"
        prompts_file.write_text(json.dumps(unit_prompts(args.model, manifest, args.prompts)))
        if args.model:
            quality = manifest if manifest and manifest.is_file() else None
            rows += measure("mini", args.model, prompts_file, args, work, quality)
        if not args.skip_big:
            print(f"  build the big random model ({args.layers} layers)", file=sys.stderr, flush=True)
            big = build_big(work / "big", args.layers)
            rows += measure("big", big, prompts_file, argparse.Namespace(**{**vars(args), "limit": None}), work, None)
    load = os.getloadavg()[0]
    print(f"{args.prompts} prompts (ASR, units of {'the test split' if args.model else 'synthetic speech'}), "
          f"batch {args.batch_size}, greedy, max {args.max_new_tokens} new tokens, {args.threads} threads; "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print_table(rows)
    if not args.skip_big:
        print("big: random weights give near-tied logits, so any rounding changes a greedy answer "
              "(=fp32); answers agree only for a trained model (mini, and the tests)")


if __name__ == "__main__":
    main()
