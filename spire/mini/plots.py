"""Plots of the miniature's report: loss curves, cluster usage, scores (matplotlib, optional).

`loss.png` has one panel per training stage (their step counts differ fivefold), with the dev
loss where a stage had a dev set. `scores.png` has one panel per metric, so that a WER of 200%
does not flatten the BLEU bars, and each says which way is better; a score that was not
measured is written "n/a", never drawn as 0. Without matplotlib the report says so instead:

>>> make_plots(results, "demo_out/plots")                  # doctest: +SKIP
{'files': {'loss curves': 'plots/loss.png', ...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spire.mini.results import DemoResults, UnitsResult

__all__ = ["SCORE_PANELS", "make_plots"]

_STAGES = (("base", "base LLM (text)"), ("cpt", "CPT"), ("it", "IT after CPT"), ("it_only", "IT only"))
_MODELS = ("base", "it_only", "it")
_TASKS = (("asr", "ASR"), ("st_de", "ST en→de"), ("st_fr", "ST en→fr"), ("mt_de", "MT en→de"), ("mt_fr", "MT en→fr"))
#: (metric, title, tasks it applies to): one panel each.
SCORE_PANELS = (
    ("wer", "ASR WER % (lower is better)", ("asr",)),
    ("bleu", "BLEU (higher is better)", ("st_de", "st_fr", "mt_de", "mt_fr")),
    ("chrf", "chrF (higher is better)", ("st_de", "st_fr", "mt_de", "mt_fr")),
)


def _loss(plt: Any, results: DemoResults, path: Path) -> None:
    trained = results.trained()
    stages = [(key, label) for key, label in _STAGES if key in trained and trained[key].curve]
    fig, axes = plt.subplots(1, max(len(stages), 1), figsize=(3.4 * max(len(stages), 1), 3.4), squeeze=False)
    for ax, (key, label) in zip(axes[0], stages):
        run = trained[key]
        ax.plot([c[0] for c in run.curve], [c[1] for c in run.curve], label="train")
        if run.dev_curve:
            ax.plot([c[0] for c in run.dev_curve], [c[1] for c in run.dev_curve], "o--", label="dev")
        else:
            ax.text(0.97, 0.95, "no dev set", transform=ax.transAxes, ha="right", va="top", fontsize=8,
                    color="gray")
        tokens = f"{run.tokens_seen / 1e6:.2f}M" if run.tokens_seen >= 1e5 else f"{run.tokens_seen / 1e3:.1f}k"
        ax.set(title=f"{label}\n{run.steps} steps, {tokens} tokens", xlabel="optimizer step")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=8, loc="lower left")
    axes[0][0].set_ylabel("loss")
    fig.suptitle("Loss per stage (each on its own step axis)", fontsize=10)
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


def _score_panel(ax: Any, scores: dict[str, dict[str, Any]], metric: str, title: str, tasks: tuple[str, ...]) -> None:
    from spire.mini.demo_report import MODEL_NAMES

    models = [m for m in _MODELS if m in scores]
    width = 0.8 / max(len(models), 1)
    names = dict(_TASKS)
    values = [[scores[m].get(task, {}).get(metric) for task in tasks] for m in models]
    top = max([v for row in values for v in row if v is not None] or [1.0])
    for index, (model, row) in enumerate(zip(models, values)):
        xs = [t + (index - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        shown = [(x, v) for x, v in zip(xs, row) if v is not None]
        bars = ax.bar([x for x, _ in shown], [v for _, v in shown], width=width, label=MODEL_NAMES[model],
                      color=f"C{_MODELS.index(model)}")
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        for x, v in zip(xs, row):
            if v is None:
                ax.text(x, top * 0.01, "n/a", ha="center", va="bottom", fontsize=7, color="dimgray")
    ax.set_xticks(range(len(tasks)), [names[t] for t in tasks], fontsize=8)
    ax.set_xlim(-0.5, len(tasks) - 0.5)  # room for every model's slot, "n/a" ones included
    ax.set_ylim(0, top * 1.15)
    ax.set_title(title, fontsize=9)


def _scores(plt: Any, scores: dict[str, dict[str, Any]], path: Path) -> None:
    widths = [len(tasks) + 1 for _, _, tasks in SCORE_PANELS]
    fig, axes = plt.subplots(1, len(SCORE_PANELS), figsize=(12, 4), gridspec_kw={"width_ratios": widths})
    for ax, (metric, title, tasks) in zip(axes, SCORE_PANELS):
        _score_panel(ax, scores, metric, title, tasks)
    handles, labels = axes[-1].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle("Test-split scores (n/a: not measured for that model)", fontsize=10)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.95), ncol=len(labels), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
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
