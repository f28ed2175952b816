"""`report.md` and `report.json` of the miniature: what each stage did, the scores, the targets.

>>> targets({"models": {"base": {"mt_de": {"bleu": 50.0}, "mt_fr": {"bleu": 40.0}},
...                     "it": {"asr": {"wer": 8.0}, "st_de": {"bleu": 31.0}, "st_fr": {"bleu": 35.0},
...                            "mt_de": {"bleu": 49.0}, "mt_fr": {"bleu": 39.0}},
...                     "it_only": {"asr": {"wer": 12.0}}}})[0]
{'target': 'ASR WER <= 10% (CPT + IT)', 'measured': '8.0%', 'met': True}
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spire.mini.config import DemoConfig

__all__ = ["MODEL_NAMES", "score_table", "targets", "write_report"]

#: Row titles of the score table.
MODEL_NAMES = {"base": "base LLM (text only)", "it_only": "IT only (no CPT)", "it": "CPT + IT (SpireFull)"}


def _get(models: dict[str, Any], model: str, key: str, metric: str) -> float | None:
    return models.get(model, {}).get(key, {}).get(metric)


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.1f}{unit}"


def score_table(scores: dict[str, Any]) -> list[str]:
    """The Markdown score table: one row per model, one column per task."""
    models = scores["models"]
    lines = ["| model | ASR WER ↓ | ST en→de BLEU / chrF | ST en→fr BLEU / chrF | MT en→de BLEU / chrF "
             "| MT en→fr BLEU / chrF |", "|---|---|---|---|---|---|"]
    for model in ("base", "it_only", "it"):
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
    for model in ("it_only", "it"):
        wer = _get(scores["models"], model, "asr", "wer_mismatched")
        if wer is None:
            continue
        bleus = " / ".join(_fmt(_get(scores["models"], model, f"st_{lang}", "bleu_mismatched")) for lang in ("de", "fr"))
        lines.append(f"- {MODEL_NAMES[model]} against other utterances' references (the level of a model "
                     f"that ignores the audio): WER {_fmt(wer, '%')}, ST BLEU en→de / en→fr {bleus}")
    return [""] + lines if lines else []


def targets(scores: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with what was measured and whether it holds."""
    m = scores["models"]
    out = []
    wer = _get(m, "it", "asr", "wer")
    out.append({"target": "ASR WER <= 10% (CPT + IT)", "measured": _fmt(wer, "%"),
                "met": wer is not None and wer <= 10})
    for lang in ("de", "fr"):
        value = _get(m, "it", f"st_{lang}", "bleu")
        out.append({"target": f"ST en→{lang} BLEU >= 30", "measured": _fmt(value),
                    "met": value is not None and value >= 30})
    for lang in ("de", "fr"):
        base, adapted = _get(m, "base", f"mt_{lang}", "bleu"), _get(m, "it", f"mt_{lang}", "bleu")
        ratio = adapted / base if base and adapted is not None else None
        out.append({"target": f"MT en→{lang} BLEU >= 95% of the base's", "measured":
                    "–" if ratio is None else f"{adapted:.1f} vs {base:.1f} ({ratio:.0%})",
                    "met": ratio is not None and ratio >= 0.95})
    only = _get(m, "it_only", "asr", "wer")
    out.append({"target": "CPT + IT better than IT only on WER",
                "measured": f"{_fmt(wer, '%')} vs {_fmt(only, '%')}",
                "met": None if only is None else (wer is not None and wer < only)})
    return out


def _training_row(name: str, info: dict[str, Any]) -> str:
    return (f"| {name} | {info['steps']} steps, {info['tokens_seen'] / 1e6:.2f}M tokens at "
            f"{info['tokens_per_s']:.0f} tokens/s; final loss {info['curve'][-1][1] if info['curve'] else float('nan'):.3f} "
            f"| {info['wall_s']:.0f} |")


def write_report(config: DemoConfig, results: dict[str, Any]) -> Path:
    """Write report.json (everything) and report.md (tables and plots); return the .md path."""
    out = Path(config.out_dir)
    (out / "report.json").write_text(json.dumps({"config": asdict(config), **results}, indent=2,
                                                ensure_ascii=False, default=str))
    lines = ["# spire miniature", "", "| stage | result | wall s |", "|---|---|---|"]
    corpus, units = results["corpus"], results["units"]
    counts = "/".join(str(corpus["utterances"].get(split, 0)) for split in ("train", "dev", "test"))
    lines.append(f"| corpus | {counts} train/dev/test utterances, {sum(corpus['audio_hours'].values()):.2f} h "
                 f"of speech | {corpus['wall_s']:.0f} |")
    vtln = units.get("vtln")
    warps = (f" + VTLN (warps {vtln['min']:.2f}-{vtln['max']:.2f}, mean {vtln['mean']:.3f}, fit on "
             f"{vtln['utterances']} utterances)" if vtln else "")
    lines.append(f"| units | MFCC{warps} k-means k={units['k']}: {units['clusters_used']} clusters used, perplexity "
                 f"{units['perplexity']:.1f}; dedup keeps {units['dedup_ratio']:.0%} of frames "
                 f"({units['units_per_s']:.0f} units/s) | {units['wall_s']:.0f} |")
    if "base" in results:
        base = results["base"]
        lines.append(_training_row(f"base LLM ({base['parameters'] / 1e6:.1f}M params, vocab {base['vocab_size']})",
                                   base))
    optimizers = {"cpt": config.cpt_optimizer, "it": config.it_optimizer, "it_only": config.it_optimizer}
    for key, name in (("cpt", "CPT"), ("it", "IT after CPT"), ("it_only", "IT only (ablation)")):
        if key in results:
            notes = ["Muon"] if optimizers[key] == "muon" else []
            if results[key].get("replayed_rows"):
                notes.append(f"+ {results[key]['replayed_rows']} CPT rows replayed")
            label = f"{name} ({', '.join(notes)})" if notes else name
            lines.append(_training_row(label, results[key]))
    if "eval" in results:
        scores = results["eval"]
        lines.append(f"| evaluation | {corpus['utterances']['test']} test utterances, greedy | "
                     f"{scores['wall_s']:.0f} |")
        lines += ["", f"## Scores (test split: unseen sentences and speakers; greedy, "
                  f"max {scores['decoding']['max_new_tokens']} new tokens)", ""] + score_table(scores)
        lines += blind_levels(scores)
        lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
        verdict = {True: "yes", False: "no", None: "n/a (ablation off)"}
        lines += [f"| {t['target']} | {t['measured']} | {verdict[t['met']]} |" for t in targets(scores)]
    if results.get("total_wall_s") is not None:
        lines += ["", f"Wall time of this run: {results['total_wall_s'] / 60:.1f} min (a reused stage shows the "
                  "time it took when it was built)."]
    plots = results.get("plots", {})
    if plots.get("files"):
        lines += ["", "## Plots", ""] + [f"![{name}]({path})" for name, path in plots["files"].items()]
    elif plots.get("note"):
        lines += ["", f"_Plots skipped: {plots['note']}_"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "report.md"
