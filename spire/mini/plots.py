"""Plots of the miniature's report: loss curves, cluster usage, scores (matplotlib, optional).

Without matplotlib the report says so instead of failing:

>>> make_plots(results, "demo_out/plots")                  # doctest: +SKIP
{'files': {'loss curves': 'plots/loss.png', ...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spire.mini.results import DemoResults, UnitsResult

__all__ = ["make_plots"]

_STAGES = (("base", "base LLM (text)"), ("cpt", "CPT"), ("it", "IT after CPT"), ("it_only", "IT only"))


def _loss(plt: Any, results: DemoResults, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    trained = results.trained()
    for key, label in _STAGES:
        curve = trained[key].curve if key in trained else []
        if curve:
            ax.plot([c[0] for c in curve], [c[1] for c in curve], label=label)
    ax.set(xlabel="optimizer step", ylabel="training loss", yscale="log", title="Loss per stage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _units(plt: Any, units: UnitsResult, path: Path) -> None:
    counts = sorted(units.cluster_counts, reverse=True)
    total = max(sum(counts), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(range(len(counts)), [100 * c / total for c in counts], width=1.0)
    ax.set(xlabel="cluster (by frequency)", ylabel="% of training units",
           title=f"Cluster usage: {units.clusters_used}/{units.k} used; "
                 f"dedup keeps {units.dedup_ratio:.0%} of frames")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scores(plt: Any, scores: dict[str, dict[str, Any]], path: Path) -> None:
    from spire.mini.demo_report import MODEL_NAMES

    columns = [("asr", "wer", "ASR WER"), ("st_de", "bleu", "ST de BLEU"), ("st_fr", "bleu", "ST fr BLEU"),
               ("mt_de", "bleu", "MT de BLEU"), ("mt_fr", "bleu", "MT fr BLEU")]
    models = [m for m in ("base", "it_only", "it") if m in scores]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(models), 1)
    for index, model in enumerate(models):
        values = [scores[model].get(key, {}).get(metric) for key, metric, _ in columns]
        xs = [c + index * width for c in range(len(columns))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width=width, label=MODEL_NAMES[model])
    ax.set_xticks([c + width * (len(models) - 1) / 2 for c in range(len(columns))], [c[2] for c in columns])
    ax.set(ylabel="score (%)", title="Test-split scores (WER: lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_plots(results: DemoResults, out_dir: str | Path) -> dict[str, Any]:
    """Write loss.png, units.png and scores.png into `out_dir`; paths are relative to its parent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {"files": {}, "note": "matplotlib is not installed (pip install 'spire-speech[dev]')"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    _loss(plt, results, out / "loss.png")
    files["loss curves"] = f"{out.name}/loss.png"
    _units(plt, results.units, out / "units.png")
    files["cluster usage"] = f"{out.name}/units.png"
    if results.eval is not None:
        _scores(plt, results.eval.models, out / "scores.png")
        files["scores"] = f"{out.name}/scores.png"
    return {"files": files}
