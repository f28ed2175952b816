"""python bench/scale.py [--work runs/scale] [--llm-layers 1] [--keep]

The SPIRE recipe at the paper's shapes, end to end on CPU, through the public `spire` CLI:
HuBERT-large (random weights; saved, reloaded) cut at layer 22 labels 60+ s of synthesized
speech in 2-30 s utterances (`spire units sample-features`, `label`: batched == one by one),
`spire units fit-kmeans` fits k=5000 on 100k x 1024 frames, `spire extend` adds 5000 units to a
Llama with TowerBase-7B's vocabulary (a 32,000-piece SentencePiece model trained here) and
widths, `spire build-data` packs CPT (2048) and IT (4096) rows, `spire train` runs CPT then IT
under `accelerate launch --config_file configs/accelerate/fsdp.yaml` with 2 processes (one CPT
run is killed mid-way and resumed: it must equal the uninterrupted one), FSDP2 is exercised as
that YAML asks on CPU (`bench/scale_fsdp.py`), and the final folder must load as a plain
LlamaForCausalLM and transcribe with `SpireModel.from_pretrained`.

Every setting comes from configs/units/spire_units.yaml, configs/data/spire_{cpt,it}.yaml and
configs/train/spire_{base_cpt,full_it}.yaml; the check overrides only paths and sizes (steps,
batch, precision of the replicas), and refuses to override a key those files lack. It prints a
table (stage, shapes, peak RSS, seconds, projection to the paper's sizes) and exits 1 when any
invariant fails. Steps that need Python live in bench/scale_speech.py and bench/scale_llm.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import yaml
from scale_report import Row, machine, projections, render
from scale_run import Measured, available_gb, read_result, run_measured

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CONFIGS = ROOT / "configs"
UNITS_YAML = CONFIGS / "units/spire_units.yaml"
# What the CPU run changes in the paper's training configs: sizes and where things are.
# model.dtype: a DDP replica of the 4096-wide model with AdamW in fp32 needs ~12 GB per process
# (two do not fit in 24 GiB); bf16 weights and moments halve it (see bench/README.md).
TRAIN_ON_CPU = {"use_cpu": "true", "model.dtype": "bfloat16", "micro_batch": 1, "grad_accum": 1,
                "max_steps": 2, "logging_steps": 1, "data.num_workers": 0}


class Ctx:
    """The run's folder, environment, rows of the table and failed invariants."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.work = args, args.work.resolve()
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.facts: dict[str, dict] = {}
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                    "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}

    def run(self, name: str, argv: list[str], *, shapes: str, env: dict | None = None,
            kill_when=None, result: bool = False, must_pass: bool = True) -> Measured:
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(map(str, argv))[:220]}", flush=True)
        measured = run_measured([str(a) for a in argv], log=self.work / "logs" / f"{name}.log",
                                env=env or self.env, cwd=ROOT, timeout_s=self.args.stage_timeout,
                                kill_when=kill_when)
        facts, ok = {}, measured.returncode == 0 or (kill_when is not None and measured.killed and not measured.timed_out)
        if not ok:
            self.failures.append(f"{name}: exit code {measured.returncode} (see {measured.log}):\n{measured.tail(12)}")
        elif result:
            parsed = read_result(measured)
            facts = parsed["facts"]
            self.failures += [f"{name}: {f}" for f in parsed["failures"]]
            ok = not parsed["failures"]
        self.facts[name] = facts
        self.rows.append(Row(name, shapes, measured.peak_gb, measured.seconds, ok))
        print(f"    {'ok' if ok else 'FAILED'} in {measured.seconds:.0f} s, peak {measured.peak_gb:.2f} GB", flush=True)
        if must_pass and not ok:
            raise StageFailed(name)
        return measured


class StageFailed(Exception):
    """A stage whose output later stages need did not finish."""


def _flags(section: dict) -> list[str]:
    out: list[str] = []
    for key, value in section.items():
        if value is True or value is False:
            out.append(f"--{key}" if value else f"--no-{key}")
        else:
            out += [f"--{key}", str(value)]
    return out


def _overrides(config: Path, values: dict, ctx: Ctx) -> list[str]:
    """`key=value` for `spire train`/`build-data`, each key checked to exist in `config`."""
    from spire.config import load_yaml

    raw = load_yaml(config)
    for key in values:
        node = raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) and part in node else KeyError
        if node is KeyError:
            ctx.failures.append(f"{config.name}: the scale check may override only keys the paper's "
                                f"config has, but {key} is not in it")
    return [f"{key}={value}" for key, value in values.items()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(script: list[str]) -> list[str]:
    accelerate = Path(sys.executable).parent / "accelerate"
    launcher = [str(accelerate)] if accelerate.exists() else [sys.executable, "-m", "accelerate.commands.launch"]
    return [*launcher, "launch", "--config_file", str(CONFIGS / "accelerate/fsdp.yaml"),
            "--num_processes", "2", "--main_process_port", str(_free_port()), *script]


def _wait_for_memory(ctx: Ctx, need_gb: float, what: str) -> None:
    deadline = time.time() + ctx.args.memory_wait
    while available_gb() < need_gb and time.time() < deadline:
        print(f"    waiting for {need_gb:.1f} GB free for {what} ({available_gb():.1f} GB now)", flush=True)
        time.sleep(20)
    if available_gb() < need_gb:
        ctx.failures.append(f"{what}: needs ~{need_gb:.1f} GB free, but the machine has {available_gb():.1f} GB")
        raise StageFailed(what)


def speech_stages(ctx: Ctx, units: dict) -> None:
    py, w, spire = sys.executable, ctx.work, [sys.executable, "-m", "spire.cli"]
    ctx.run("encoder", [py, BENCH / "scale_speech.py", "encoder", "--work", w],
            shapes="HuBERT-large 24 x 1024 (random), save + from_pretrained", result=True)
    ctx.run("corpus", [py, BENCH / "scale_speech.py", "corpus", "--work", w, "--seconds", ctx.args.seconds],
            shapes="espeak-ng, sentences joined into 2-30 s", result=True)
    corpus = ctx.facts["corpus"]
    ctx.rows[-1].shapes = (f"{corpus['utterances']} utterances {corpus['shortest_s']}-{corpus['longest_s']} s, "
                           f"{corpus['seconds']} s in all")
    manifest, hubert = w / "corpus/corpus.jsonl", w / "hubert-large"
    ctx.run("sample-features", [*spire, "units", "sample-features", "--manifest", manifest, "--featurizer", hubert,
                                "--out", w / "feats_real.npy", *_flags(units["sample-features"])],
            shapes=f"layer {units['sample-features']['layer']}: {corpus['seconds']} s -> frames x 1024")
    ctx.run("frames", [py, BENCH / "scale_speech.py", "frames", "--work", w, "--frames", ctx.args.frames],
            shapes=f"{ctx.args.frames} x 1024 (real frames + jittered copies)", result=True)
    fit = {**units["fit-kmeans"], "niter": ctx.args.kmeans_niter, "init": ctx.args.kmeans_init}
    ctx.run("fit-kmeans", [*spire, "units", "fit-kmeans", "--features", w / "feats_kmeans.npy", "--out", w / "kmeans",
                           *_flags(fit)],
            shapes=f"k={fit['k']} on {ctx.args.frames} x 1024, {fit['init']} seeding, {fit['niter']} Lloyd iterations (faiss CPU)")
    ctx.run("make-extractor", [*spire, "units", "make-extractor", "--featurizer", hubert, "--kmeans", w / "kmeans",
                               "--out", w / "extractor", *_flags(units["make-extractor"])],
            shapes="HuBERT-large layer 22 + k-means 5000 + dedup")
    label = [*spire, "units", "label", "--manifest", manifest, "--extractor", w / "extractor"]
    ctx.run("label-batched", [*label, "--out", w / "units_batched", *_flags(units["label"])],
            shapes=f"{corpus['seconds']} s, batches of {units['label']['batch-seconds']} s audio")
    ctx.run("label-one-by-one", [*label, "--out", w / "units_single", *_flags({**units["label"], "batch-seconds": 1})],
            shapes="the same utterances, one per model call")
    ctx.run("batched == one-by-one", [py, BENCH / "scale_speech.py", "compare-labels", "--work", w],
            shapes="unit strings per utterance", result=True, must_pass=False)


def llm_stages(ctx: Ctx, units: dict) -> None:
    py, w, spire, layers = sys.executable, ctx.work, [sys.executable, "-m", "spire.cli"], ctx.args.llm_layers
    ctx.run("tokenizer", [py, BENCH / "scale_llm.py", "tokenizer", "--work", w],
            shapes="SentencePiece BPE, 32000 pieces, byte fallback (Llama-2 settings)", result=True)
    ctx.run("base LLM", [py, BENCH / "scale_llm.py", "base", "--work", w, "--layers", layers],
            shapes=f"Llama 32000 x 4096, MLP 11008, 32 heads, {layers} layer(s)", result=True)
    ctx.run("extend", [*spire, "extend", "--model", w / "base", "--out", w / "extended", "--extractor", w / "extractor",
                       *_flags(units["extend"])], shapes="+5 specials +5000 units +2 chat -> 37056 rows")
    ctx.run("extend invariants", [py, BENCH / "scale_llm.py", "check-extend", "--work", w],
            shapes="units 1 token each, old ids + text tokens unchanged", result=True, must_pass=False)
    ctx.run("data sources", [py, BENCH / "scale_llm.py", "data-sources", "--work", w],
            shapes="labelled units x8, en-de pairs, English text", result=True)
    src = w / "data_sources"
    cpt_yaml, it_yaml = CONFIGS / "data/spire_cpt.yaml", CONFIGS / "data/spire_it.yaml"
    cpt = {"tokenizer": w / "extended", "speech": f"[{{path: {src / 'speech.jsonl'}}}]",
           "parallel": f"[{{path: {src / 'en_de.jsonl'}, source_lang: en, target_lang: de}}]",
           "monolingual": f"[{{path: {src / 'en_mono.txt'}}}]"}
    ctx.run("build-data cpt", [*spire, "build-data", "cpt", "--config", cpt_yaml, "--out", w / "data/cpt",
                               *_overrides(cpt_yaml, cpt, ctx)], shapes="packed rows of 2048")
    it = {"tokenizer": w / "extended", "speech": f"[{{path: {src / 'speech.jsonl'}}}]", "st_languages": "[de, fr]",
          "parallel": cpt["parallel"]}
    ctx.run("build-data it", [*spire, "build-data", "it", "--config", it_yaml, "--out", w / "data/it",
                              *_overrides(it_yaml, it, ctx)], shapes="ChatML, packed rows of 4096")
    ctx.run("data invariants", [py, BENCH / "scale_llm.py", "check-data", "--work", w],
            shapes="packed, CPT all tokens / IT answers only", result=True, must_pass=False)
    training_stages(ctx)


def _train(ctx: Ctx, config: Path, model: Path, data: Path, out: Path, save_steps: int) -> list[str]:
    values = {"model.path": model, "data.train": data, "output_dir": out, **TRAIN_ON_CPU, "save_steps": save_steps}
    return _launch(["-m", "spire.cli", "train", "--config", str(config), *_overrides(config, values, ctx)])


def training_stages(ctx: Ctx) -> None:
    from scale_projection import LlamaShape, replica_memory_gb

    w, layers = ctx.work, ctx.args.llm_layers
    env = {**ctx.env, "OMP_NUM_THREADS": "1"}  # one core per process
    shape = LlamaShape.tower_7b(layers=layers)
    cpt_yaml, it_yaml = CONFIGS / "train/spire_base_cpt.yaml", CONFIGS / "train/spire_full_it.yaml"
    need = 2 * replica_memory_gb(shape, micro_batch=1, seq_len=4096, weight_bytes=2) + 2.0
    _wait_for_memory(ctx, need, "training")
    ctx.run("CPT", _train(ctx, cpt_yaml, w / "extended", w / "data/cpt", w / "runs/cpt", 1), env=env,
            shapes="2 processes (DDP: see FSDP below), seq 2048 packed, 2 steps, bf16")
    killed_at: list[float] = []
    marker = w / "runs/cpt_resumed/checkpoint-1"

    def mid_step_two() -> bool:
        """True `kill_after` seconds after checkpoint-1 is complete, i.e. during step 2."""
        if not ((marker / "spire-complete.json").is_file() or (marker / "trainer_state.json").is_file()):
            return False
        if not killed_at:
            killed_at.append(time.time())
        return time.time() - killed_at[0] > ctx.args.kill_after

    def resumable() -> list[str]:
        return _train(ctx, cpt_yaml, w / "extended", w / "data/cpt", w / "runs/cpt_resumed", 1)
    ctx.run("CPT killed", resumable(), env=env, kill_when=mid_step_two,
            shapes="the same run, every process SIGKILLed during step 2")
    log = w / "runs/cpt_resumed/train_log.jsonl"
    logged = [json.loads(x).get("step") for x in log.read_text().splitlines() if x.strip()] if log.is_file() else []
    if not killed_at or (w / "runs/cpt_resumed/checkpoint-2").exists() or logged != [1]:
        ctx.failures.append(f"CPT killed: the run must die during step 2 (after checkpoint-1, before step 2 "
                            f"is logged), but it logged steps {logged}")
    ctx.run("CPT resumed", resumable(), env=env, shapes="the same command again (resume: auto)")
    ctx.run("resumed == uninterrupted", [sys.executable, BENCH / "scale_llm.py", "compare-runs", "--work", w,
                                         "--a", w / "runs/cpt", "--b", w / "runs/cpt_resumed", "--at-step", "2"],
            shapes="losses, weights, AdamW moments at step 2", result=True, must_pass=False)
    ctx.run("IT", _train(ctx, it_yaml, w / "runs/cpt", w / "data/it", w / "runs/it", 0), env=env,
            shapes="2 processes, seq 4096 packed, 2 steps, bf16, from the CPT model")
    if not ctx.args.skip_fsdp:
        ctx.run("FSDP2 (fsdp.yaml)", _launch([str(BENCH / "scale_fsdp.py"), "--model", str(w / "extended"),
                                              "--data", str(w / "data/it")]), env=env, result=True, must_pass=False,
                shapes="FULL_SHARD over 2 ranks, fp32 master + bf16, seq 4096, 1 AdamW step")
    ctx.run("final model", [sys.executable, BENCH / "scale_llm.py", "final", "--work", w, "--model", w / "runs/it",
                            "--clip", w / "corpus/utt000.wav"],
            shapes="SpireModel.from_pretrained + transcribe; plain LlamaForCausalLM", result=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs/scale", help="scratch folder (emptied first)")
    parser.add_argument("--seconds", type=float, default=62.0, help="speech to synthesize and label")
    parser.add_argument("--frames", type=int, default=100_000, help="frames for k-means")
    parser.add_argument("--kmeans-niter", type=int, default=5, help="Lloyd iterations (the YAML says 25)")
    parser.add_argument("--kmeans-init", choices=("kmeans++", "random"), default="random",
                        help="seeding (the YAML's kmeans++ costs ~15 CPU-min at k=5000: bench/README.md)")
    parser.add_argument("--llm-layers", type=int, default=1, help="decoder layers of the 4096-wide Llama")
    parser.add_argument("--kill-after", type=float, default=15.0, help="seconds after checkpoint-1 to kill")
    parser.add_argument("--skip-fsdp", action="store_true", help="skip the FSDP2 step")
    parser.add_argument("--stage-timeout", type=float, default=3600.0)
    parser.add_argument("--memory-wait", type=float, default=600.0, help="seconds to wait for free memory")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (~22 GB); logs are kept anyway")
    args = parser.parse_args()
    ctx = Ctx(args)
    shutil.rmtree(ctx.work, ignore_errors=True)
    (ctx.work / "logs").mkdir(parents=True)
    start, load_before = time.time(), os.getloadavg()[0]
    units = yaml.safe_load(UNITS_YAML.read_text())
    try:
        speech_stages(ctx, units)
        llm_stages(ctx, units)
    except StageFailed as stopped:
        ctx.failures.append(f"stopped after {stopped}: later stages need its output")
    minutes = (time.time() - start) / 60
    about = machine(load_before, os.getloadavg()[0], minutes)
    report = render(ctx.rows, projections(ctx.facts, ctx.rows, args), about, ctx.failures)
    print("\n" + report)
    (ctx.work.parent / "scale_report.md").write_text(report)
    rows = [vars(row) for row in ctx.rows]
    (ctx.work.parent / "scale_facts.json").write_text(json.dumps({"facts": ctx.facts, "rows": rows}, indent=1, default=str))
    if not args.keep:  # the logs stay, beside the report
        shutil.rmtree(ctx.work.parent / "scale_logs", ignore_errors=True)
        shutil.move(ctx.work / "logs", ctx.work.parent / "scale_logs")
        shutil.rmtree(ctx.work, ignore_errors=True)
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
