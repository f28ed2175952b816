"""`report.md` and `report.json` of the miniature: what each stage did, the scores, the targets.

>>> targets({"models": {"base": {"mt_de": {"bleu": 50.0}, "mt_fr": {"bleu": 40.0}},
...                     "it": {"asr": {"wer": 8.0}, "st_de": {"bleu": 31.0}, "st_fr": {"bleu": 35.0},
...                            "mt_de": {"bleu": 49.0}, "mt_fr": {"bleu": 39.0}},
...                     "it_only": {"asr": {"wer": 12.0}}}})[0]["measured"]
'8.0%'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spire.mini.config import DemoConfig
from spire.mini.results import DemoResults, TrainedModel
from spire.mini.split_report import accent_targets, split_section
from units.files import write_text

__all__ = ["MODEL_NAMES", "TARGET_REASONS", "score_table", "targets", "usage_lines", "write_report"]

#: Row titles of the score table.
MODEL_NAMES = {"base": "base LLM (text only)", "it_only": "IT only (no CPT)", "it": "CPT + IT (SpireFull)",
               "rl": "CPT + IT + RL (GRPO)"}


def _get(models: dict[str, Any], model: str, key: str, metric: str) -> float | None:
    return models.get(model, {}).get(key, {}).get(metric)


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.1f}{unit}"


def score_table(scores: dict[str, Any]) -> list[str]:
    """The Markdown score table: one row per model, one column per task."""
    models = scores["models"]
    lines = ["| model | ASR WER ↓ | ST en→de BLEU / chrF | ST en→fr BLEU / chrF | MT en→de BLEU / chrF "
             "| MT en→fr BLEU / chrF |", "|---|---|---|---|---|---|"]
    for model in ("base", "it_only", "it", "rl"):
        if model not in models:
            continue
        cells = [_fmt(_get(models, model, "asr", "wer"), "%")]
        for key in ("st_de", "st_fr", "mt_de", "mt_fr"):
            b, c = _get(models, model, key, "bleu"), _get(models, model, key, "chrf")
            cells.append("–" if b is None else f"{b:.1f} / {_fmt(c)}")
        lines.append(f"| {MODEL_NAMES[model]} | " + " | ".join(cells) + " |")
    return lines


def blind_levels(scores: dict[str, Any]) -> list[str]:
    """One line per adapted model: its scores against other utterances' references, i.e. what
    ignoring the audio would score; the gap to the table shows how much the units are used."""
    lines = []
    for model in ("it_only", "it", "rl"):
        wer = _get(scores["models"], model, "asr", "wer_mismatched")
        if wer is None:
            continue
        bleus = " / ".join(_fmt(_get(scores["models"], model, f"st_{lang}", "bleu_mismatched")) for lang in ("de", "fr"))
        lines.append(f"- {MODEL_NAMES[model]} against other utterances' references (the level of a model "
                     f"that ignores the audio): WER {_fmt(wer, '%')}, ST BLEU en→de / en→fr {bleus}")
    return [""] + lines if lines else []


#: One line per target: what it asks of the model, in words.
TARGET_REASONS = {
    "asr": "the transcripts are right: at most 1 word in 20 substituted, dropped or added",
    "st": "translations of the speech share most words and phrases with the reference "
          "translation (BLEU 40 reads as high quality)",
    "base": "the text-only base really translates (the \"Tower\" of the miniature), so keeping its "
            "translation quality is a real test",
    "mt": "learning speech did not cost the LLM its text translation (SPIRE's claim that the "
          "base model's skills are kept)",
    "ablation": "the paper's ablation: continued pretraining on units is what teaches the model "
                "to read them; instruction tuning alone does not",
}


def targets(scores: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with what was measured, whether it holds, and why it matters."""
    m = scores["models"]
    out = []
    wer = _get(m, "it", "asr", "wer")
    out.append({"target": "ASR WER <= 5% (CPT + IT)", "measured": _fmt(wer, "%"),
                "met": wer is not None and wer <= 5, "why": TARGET_REASONS["asr"]})
    for lang in ("de", "fr"):
        value = _get(m, "it", f"st_{lang}", "bleu")
        out.append({"target": f"ST en→{lang} BLEU >= 40", "measured": _fmt(value),
                    "met": value is not None and value >= 40, "why": TARGET_REASONS["st"]})
    for lang in ("de", "fr"):
        value = _get(m, "base", f"mt_{lang}", "bleu")
        out.append({"target": f"base MT en→{lang} BLEU >= 60", "measured": _fmt(value),
                    "met": value is not None and value >= 60, "why": TARGET_REASONS["base"]})
    for lang in ("de", "fr"):
        base, adapted = _get(m, "base", f"mt_{lang}", "bleu"), _get(m, "it", f"mt_{lang}", "bleu")
        ratio = adapted / base if base and adapted is not None else None
        out.append({"target": f"MT en→{lang} BLEU >= 95% of the base's", "measured":
                    "–" if ratio is None else f"{adapted:.1f} vs {base:.1f} ({ratio:.0%})",
                    "met": ratio is not None and ratio >= 0.95, "why": TARGET_REASONS["mt"]})
    only = _get(m, "it_only", "asr", "wer")
    out.append({"target": "CPT + IT better than IT only on WER",
                "measured": f"{_fmt(wer, '%')} vs {_fmt(only, '%')}",
                "met": None if only is None else (wer is not None and wer < only),
                "why": TARGET_REASONS["ablation"]})
    for lang in ("de", "fr"):
        adapted, alone = _get(m, "it", f"st_{lang}", "bleu"), _get(m, "it_only", f"st_{lang}", "bleu")
        out.append({"target": f"CPT + IT better than IT only on ST en→{lang} BLEU",
                    "measured": f"{_fmt(adapted)} vs {_fmt(alone)}",
                    "met": None if alone is None else (adapted is not None and adapted > alone),
                    "why": TARGET_REASONS["ablation"]})
    return out


def usage_lines(results: DemoResults, out_dir: str | Path) -> list[str]:
    """How to use the trained model: its folder, a `spire transcribe` line and a `SpireModel`
    snippet on a test clip of the run (paths as the run wrote them, so they work as printed
    from where `spire demo` ran), and the per-model evaluation pages."""
    if results.it is None:
        return []
    model = results.it.model.as_posix()
    clip = _first_test_clip(results)
    lines = ["", "## Use the model", "",
             f"The CPT + IT model is `{model}` (weights, tokenizer with its chat template, and the "
             f"unit extractor in `{model}/extractor`). Transcribe a test clip (or any wav/flac/mp3 "
             "of your own, at any sample rate) and translate it:", "", "```bash",
             f"spire transcribe --model {model} {clip}",
             f"spire translate --model {model} --to German {clip}", "```", "", "```python",
             "from spire import SpireModel",
             f'model = SpireModel.from_pretrained("{model}")',
             f'print(model.transcribe("{clip}").text)', "```"]
    if results.eval is not None:
        folder = Path(os.path.relpath(results.eval.folder, out_dir)).as_posix()
        pages = [f"[{name}/{key}]({folder}/{name}/{key}.md)"
                 for name, scores in results.eval.models.items() if name != "base"
                 for key in scores]
        if pages:
            lines += ["", "Every hypothesis beside its reference, per model and task: " + ", ".join(pages) + "."]
    return lines


def _first_test_clip(results: DemoResults) -> str:
    manifest = results.corpus.manifest("test")
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
        if first.get("audio"):
            return (results.corpus.folder / first["audio"]).as_posix()
    return "clip.wav"


def _machine(results: DemoResults) -> str:
    """", on 2 torch threads and 2 CPUs; load average ..." (empty when unknown)."""
    machine = results.machine or {}
    if not machine:
        return ""
    text = f", on {machine.get('threads')} torch threads and {machine.get('cpus')} CPUs"
    load = machine.get("load_average")
    if load:
        text += f"; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
        if machine.get("cpus") and load[2] > machine["cpus"]:
            text += ", more than the CPUs: other jobs shared the machine and slowed every stage"
    return text


def _training_row(name: str, run: TrainedModel) -> str:
    return (f"| {name} | {run.steps} steps, {run.tokens_seen / 1e6:.2f}M tokens at "
            f"{run.tokens_per_s:.0f} tokens/s; final loss {run.curve[-1][1] if run.curve else float('nan'):.3f} "
            f"| {run.wall_s:.0f} |")


def write_report(config: DemoConfig, results: DemoResults) -> Path:
    """Write report.json (everything) and report.md (tables and plots); return the .md path."""
    out = Path(config.out_dir)
    write_text(out / "report.json", json.dumps({"config": asdict(config), **results.to_json()}, indent=2,
                                               ensure_ascii=False, default=str))
    lines = ["# spire miniature", "", "| stage | result | wall s |", "|---|---|---|"]
    corpus, units = results.corpus, results.units
    counts = "/".join(str(corpus.utterances.get(split, 0)) for split in ("train", "dev", "test"))
    accents = f" + {corpus.accent_utterances} unseen-accent test" if corpus.accent_utterances else ""
    hours = sum(corpus.audio_hours.values()) + corpus.accent_audio_hours
    lines.append(f"| corpus | {counts} train/dev/test{accents} utterances, {hours:.2f} h "
                 f"of speech | {corpus.wall_s:.0f} |")
    vtln = units.vtln
    warps = (f" + VTLN (warps {vtln.min:.2f}-{vtln.max:.2f}, mean {vtln.mean:.3f}, fit on "
             f"{vtln.utterances} utterances)" if vtln else "")
    lines.append(f"| units | MFCC{warps} k-means k={units.k}: {units.clusters_used} clusters used, perplexity "
                 f"{units.perplexity:.1f}; dedup keeps {units.dedup_ratio:.0%} of frames "
                 f"({units.units_per_s:.0f} units/s) | {units.wall_s:.0f} |")
    if results.base is not None:
        base = results.base
        muon = ", Muon" if config.base_optimizer == "muon" else ""
        lines.append(_training_row(f"base LLM ({base.parameters / 1e6:.1f}M params, vocab {base.vocab_size}{muon})", base))
    optimizers = {"cpt": config.cpt_optimizer, "it": config.it_optimizer, "it_only": config.it_optimizer}
    trained = results.trained()
    for key, name in (("cpt", "CPT"), ("it", "IT after CPT"), ("it_only", "IT only (ablation)")):
        if key in trained:
            notes = ["Muon"] if optimizers[key] == "muon" else []
            if trained[key].replayed_rows:
                notes.append(f"+ {trained[key].replayed_rows} CPT rows replayed")
            label = f"{name} ({', '.join(notes)})" if notes else name
            lines.append(_training_row(label, trained[key]))
    if results.rl is not None:
        from spire.mini.rl import rl_report_row

        lines.append(rl_report_row(results.rl))
    if results.eval is not None:
        scores = {"models": results.eval.models, "splits": results.eval.splits}
        lines.append(f"| evaluation | {corpus.utterances['test']} test{accents} utterances, greedy | "
                     f"{results.eval.wall_s:.0f} |")
        lines += ["", f"## Scores (test split: unseen sentences and speakers; greedy, "
                  f"max {results.eval.decoding['max_new_tokens']} new tokens)", ""] + score_table(scores)
        lines += blind_levels(scores)
        lines += split_section(scores, MODEL_NAMES, corpus.accent_utterances)
        lines += ["", "## Targets", "", "| target | measured | met | why it matters |", "|---|---|---|---|"]
        verdict = {True: "yes", False: "no", None: "n/a (ablation off)"}
        lines += [f"| {t['target']} | {t['measured']} | {verdict[t['met']]} | {t['why']} |" for t in targets(scores) + accent_targets(scores)]
    if results.total_wall_s is not None:
        lines += ["", f"Wall time of this run: {results.total_wall_s / 60:.1f} min (a reused stage shows the "
                  f"time it took when it was built){_machine(results)}."]
    plots = results.plots
    if plots.get("files"):
        lines += ["", "## Plots", ""] + [f"![{name}]({path})" for name, path in plots["files"].items()]
    elif plots.get("note"):
        lines += ["", f"_Plots skipped: {plots['note']}_"]
    lines += usage_lines(results, out)  # last: what to do next is what a reader sees at the end
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return out / "report.md"
