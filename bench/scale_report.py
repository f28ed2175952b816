"""The scale check's table: one row per stage, with what it measured and what that means at the
paper's sizes (formulas in `scale_projection`), plus the machine it ran on.

>>> print(render([Row("corpus", "8 utterances", 0.3, 4.0, True)], {}, "machine", []).splitlines()[2])
| corpus | 8 utterances | 0.30 | 4 | ok |  |
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scale_projection import (
    ALL_HOURS,
    LlamaShape,
    fsdp_memory_gb,
    hubert_flops_per_second,
    token_budget,
    train_flops_per_token,
)

_DAY = 86400.0
_BUDGET_DAYS = 7.0  # a wall-clock budget for the whole CPT + IT on 4 GPUs (the paper gives none)


@dataclass
class Row:
    """One stage: what ran at which shapes, its peak memory (GB), wall seconds, invariants held."""

    stage: str
    shapes: str
    peak_gb: float
    seconds: float
    ok: bool


def machine(load_before: float, load_after: float, minutes: float) -> str:
    """CPU, cores, memory, library versions and the load on the machine while it ran."""
    import accelerate
    import torch
    import transformers

    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        total = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        total = float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, {total:.0f} GiB RAM, no GPU; torch {torch.__version__}, "
            f"transformers {transformers.__version__}, accelerate {accelerate.__version__}; "
            f"load average {load_before:.1f} at start, {load_after:.1f} at end (shared machine); "
            f"{minutes:.1f} min in all")


def _train_rate(run: Path) -> tuple[float, int] | None:
    """(non-padding tokens per second, tokens) of a finished `spire train` run, from its log."""
    log = run / "train_log.jsonl"
    if not log.is_file():
        return None
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    end = [x for x in lines if "train_runtime" in x]
    if not end or not end[-1].get("tokens_seen"):
        return None
    return end[-1]["tokens_seen"] / float(end[-1]["train_runtime"]), int(end[-1]["tokens_seen"])


def _label_rate(log: Path, seconds: float, audio_s: float) -> float:
    """Audio seconds per wall second the labeller reported (model loading excluded)."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    found = re.findall(r"([0-9.]+) audio s per wall s", text)
    return float(found[-1]) if found else audio_s / max(seconds, 1e-9)


def projections(facts: dict[str, dict], rows: list[Row], args: Any) -> dict[str, str]:
    """Stage -> what its measurement means at the paper's sizes."""
    from scale_speech import HUBERT_LARGE
    from transformers import HubertConfig

    out: dict[str, str] = {}
    seconds = {row.stage: row.seconds for row in rows}
    work = args.work.resolve()
    audio = facts.get("corpus", {}).get("seconds", 0.0)
    gflops = hubert_flops_per_second(HubertConfig(**HUBERT_LARGE), 22) / 1e9
    if "encoder" in facts and facts["encoder"]:
        out["encoder"] = f"the released model's shapes: {facts['encoder']['params'] / 1e6:.0f}M params"
    for stage in ("sample-features", "label-batched", "label-one-by-one"):
        if stage in seconds and audio:
            rate = _label_rate(work / "logs" / f"{stage}.log", seconds[stage], audio)
            days = ALL_HOURS * 3600 / rate / _DAY
            out[stage] = (f"{rate:.2f} audio s/s ({gflops * rate:.0f} GFLOP/s); the paper's 42.5K h: "
                          f"{days:,.0f} days here; on one H100 at 40% of bf16 peak: "
                          f"{ALL_HOURS * 3600 * gflops / (0.4 * 989e3) / 3600:.1f} h")
    if "fit-kmeans" in seconds:
        report, saved = work / "kmeans/fit_report.json", work / "kmeans/kmeans.json"
        used = json.loads(report.read_text()).get("clusters_used") if report.is_file() else None
        fit = json.loads(saved.read_text()).get("training", {}) if saved.is_file() else {}
        lloyd = fit.get("seconds", seconds["fit-kmeans"]) - fit.get("init_seconds", 0.0)
        per_iter = lloyd / max(args.kmeans_niter, 1)
        out["fit-kmeans"] = (f"seeding {fit.get('init_seconds', 0):.0f} s, {per_iter:.0f} s per Lloyd iteration, "
                             f"{used} clusters used; 25 iterations on 1M frames: "
                             f"~{per_iter * 25 * 1e6 / args.frames / 3600:.1f} h here (linear in frames x "
                             "iterations); faiss-GPU: bench/gpu.py")
    base = facts.get("base LLM", {})
    if base and "extend" in seconds:
        ratio = 6.74e9 / base["params"]
        peak = next(r.peak_gb for r in rows if r.stage == "extend")
        out["extend"] = f"TowerBase-7B: ~{peak * ratio:.0f} GB RAM at the same bytes per parameter (fp32)"
    budget = token_budget()
    tower = LlamaShape.tower_7b()
    for stage, run, seq in (("CPT", "runs/cpt", 2048), ("IT", "runs/it", 4096)):
        rate = _train_rate(work / run) if (work / run).is_dir() else None
        if stage not in seconds or rate is None:
            continue
        memory = fsdp_memory_gb(tower, gpus=4, micro_batch=12, seq_len=seq)
        need = budget["total"] / (_BUDGET_DAYS * _DAY) / 4
        mfu = need * train_flops_per_token(tower, seq) / 1e12
        out[stage] = (f"{rate[0]:.1f} tokens/s (2 processes, {rate[1]} tokens); 7B FSDP 4 GPUs x micro-batch 12: "
                      f"{memory['total']:.0f} GB/GPU (states {memory['states']:.0f}, activations "
                      f"{memory['activations']:.0f}, logits {memory['logits']:.0f}); the paper's "
                      f"{budget['total'] / 1e9:.1f}B tokens in {_BUDGET_DAYS:.0f} days: {need:,.0f} tokens/s per GPU "
                      f"= {mfu:.0f} TFLOP/s ({mfu / 3.12:.0f}% of an A100, {mfu / 9.89:.0f}% of an H100)")
    fsdp = facts.get("FSDP2 (fsdp.yaml)", {})
    if fsdp.get("ranks"):
        shape = LlamaShape.tower_7b(layers=args.llm_layers)
        model = fsdp_memory_gb(shape, gpus=2, micro_batch=1, seq_len=4096)["total"]
        peak = max(r["peak_gb"] for r in fsdp["ranks"])
        local = fsdp["ranks"][0]["local_params"] / fsdp["params"]
        out["FSDP2 (fsdp.yaml)"] = (f"each rank holds {local:.0%} of the weights; peak {peak:.1f} GB/rank vs "
                                    f"{model:.1f} GB by the formula used for 7B (+ the full model each rank "
                                    f"loads before sharding); accelerate on CPU: "
                                    f"{fsdp['accelerate_on_cpu']['distributed_type']}")
    final = facts.get("final model", {})
    if final:
        out["final model"] = f"loads in {final['load_s']} s; {final['num_units']} units -> {final['text']!r}"
    return out


def render(rows: list[Row], notes: dict[str, str], about: str, failures: list[str]) -> str:
    """The markdown table, the machine line and the failed invariants."""
    lines = ["| stage | shapes | peak RSS (GB) | seconds | invariants | projection to the paper's sizes |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.stage} | {row.shapes} | {row.peak_gb:.2f} | {row.seconds:.0f} | "
                     f"{'ok' if row.ok else 'FAILED'} | {notes.get(row.stage, '')} |")
    lines += ["", f"Machine: {about}", ""]
    lines += ["Failed invariants:", *[f"- {f}" for f in failures]] if failures else ["All invariants held."]
    return "\n".join(lines)
