"""What each stage of the miniature hands to the next: small typed results.

A stage returns one of these; the paths of its outputs are properties of its folder, so nothing
passes paths through a file. Stages that train or build data also save their result as
`summary.json`, which a rerun with the same settings loads instead of recomputing.

>>> run = TrainingRun(stage="it", rows=10, replayed_rows=0, steps=2, train_loss=1.0, tokens_seen=80,
...                   tokens_per_s=40.0, curve=[[1, 2.0], [2, 1.0]], wall_s=2.0)
>>> TrainedModel(**vars(run), folder=Path("demo_out/it")).model
PosixPath('demo_out/it/model')
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from spire.data.output import BuildSummary
from spire.data.packing import PackStats

__all__ = [
    "BaseModelResult",
    "CorpusResult",
    "CptResult",
    "DemoResults",
    "EvalResult",
    "ExtendedResult",
    "ItDataResult",
    "TrainedModel",
    "TrainingRun",
    "UnitsResult",
    "VtlnWarps",
    "load_summary",
    "save_summary",
    "to_json",
]

R = TypeVar("R")
SUMMARY = "summary.json"


def to_json(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses as dicts, paths as strings.

    >>> to_json({"a": Path("x"), "b": PackStats(rows=1)})
    {'a': 'x', 'b': {'rows': 1, 'tokens': 0, 'padding': 0, 'documents': 0}}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return {key: value for key, value in data.items() if key in names}


def save_summary(result: Any, folder: Path) -> None:
    """Write `result` (without its folder, which the reader knows) to `folder/summary.json`."""
    from units.files import write_json

    data = to_json(result)
    data.pop("folder", None)
    write_json(folder / SUMMARY, data)


def load_summary(cls: type[R], folder: Path, **extra: Any) -> R:
    """The result that `save_summary` wrote in `folder`, as `cls` (fields it does not know are ignored)."""
    data = json.loads((folder / SUMMARY).read_text())
    kinds = {f.name: f.type for f in dataclasses.fields(cls)}
    if isinstance(data.get("data"), dict) and kinds.get("data") in _DATA_SUMMARIES:
        summary = _DATA_SUMMARIES[kinds["data"]]
        data["data"] = summary(**_known(summary, data["data"]))
    if any(f.name == "folder" for f in dataclasses.fields(cls)):
        extra["folder"] = folder
    return cls(**_known(cls, {**data, **extra}))


# Annotations are strings here (postponed evaluation): the types a `data` field may hold.
_DATA_SUMMARIES: dict[Any, type] = {"PackStats": PackStats, "BuildSummary": BuildSummary}


@dataclass(frozen=True, kw_only=True)
class CorpusResult:
    """Stage 1: the synthetic corpus (manifests `{split}.jsonl` in `folder`)."""

    folder: Path
    utterances: dict[str, int]
    audio_hours: dict[str, float]
    wall_s: float
    accent_utterances: int = 0
    """Utterances of the second test split (`test_accents.jsonl`, unseen accents). Not in
    `utterances`, which the training stages record in their settings: they never read it."""
    accent_audio_hours: float = 0.0

    def manifest(self, split: str) -> Path:
        """The JSONL manifest of `split` (train, dev, test or test_accents)."""
        return self.folder / f"{split}.jsonl"


@dataclass(frozen=True, kw_only=True)
class VtlnWarps:
    """The per-utterance frequency warps VTLN chose on its fitting utterances."""

    utterances: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True, kw_only=True)
class UnitsResult:
    """Stage 2: the unit extractor and the labelled splits."""

    folder: Path
    k: int
    clusters_used: int
    perplexity: float
    vtln: VtlnWarps | None
    dedup_ratio: float
    """Units kept after dedup / frames."""
    units_per_s: float
    cluster_counts: list[int]
    """How often each cluster occurs in the training split."""
    wall_s: float

    @property
    def extractor(self) -> Path:
        """The saved `UnitExtractor`."""
        return self.folder / "extractor"

    def labelled(self, split: str) -> Path:
        """The labeller's output folder of `split`."""
        return self.folder / split


@dataclass(frozen=True, kw_only=True)
class TrainingRun:
    """One training run (`spire.mini.training.train_stage`)."""

    stage: str
    rows: int
    """Training rows, replayed ones included."""
    replayed_rows: int
    steps: int
    train_loss: float
    tokens_seen: int
    tokens_per_s: float
    curve: list[list[float]]
    """[step, loss] pairs."""
    wall_s: float
    dev_curve: list[list[float]] = field(default_factory=list)
    """[step, dev loss] pairs (empty when the run had no dev set, as in the default demo)."""


@dataclass(frozen=True, kw_only=True)
class TrainedModel(TrainingRun):
    """A training stage's run and its folder (the model in `folder/model`)."""

    folder: Path
    stage_wall_s: float | None = None
    """Wall time of this call of the stage (near zero when it was reused)."""

    @property
    def model(self) -> Path:
        return self.folder / "model"


@dataclass(frozen=True, kw_only=True)
class BaseModelResult(TrainedModel):
    """Stage 3: the text-only base LM."""

    data: PackStats
    vocab_size: int
    parameters: int


@dataclass(frozen=True, kw_only=True)
class ExtendedResult:
    """The base LM with unit tokens (`folder/model`)."""

    folder: Path
    vocab_size: int
    embedding_rows: int
    first_unit_id: int
    special_ids: dict[str, int] = field(default_factory=dict)

    @property
    def model(self) -> Path:
        return self.folder / "model"


@dataclass(frozen=True, kw_only=True)
class CptResult(TrainedModel):
    """Continued pretraining: the run and the data it trained on (`folder/data`)."""

    data: BuildSummary

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"


@dataclass(frozen=True, kw_only=True)
class ItDataResult:
    """The IT dataset (`folder/data`), shared by IT after CPT and the ablation."""

    folder: Path
    data: BuildSummary

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"


@dataclass(frozen=True, kw_only=True)
class EvalResult:
    """Stage 5: scores per model and task (`models[model][task][metric]`, as in `eval/scores.json`)."""

    folder: Path
    models: dict[str, dict[str, Any]]
    decoding: dict[str, Any]
    wall_s: float
    splits: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Scores on further test splits, `splits["test_accents"][model][task][metric]` (adapted
    models, ASR and ST); `models` holds the main test split's."""


@dataclass(kw_only=True)
class DemoResults:
    """Everything a run produced; `report.json` is `to_json()` of it (plus the config)."""

    corpus: CorpusResult
    units: UnitsResult
    base: BaseModelResult | None = None
    extended: ExtendedResult | None = None
    cpt: CptResult | None = None
    it_data: ItDataResult | None = None
    it: TrainedModel | None = None
    it_only: TrainedModel | None = None
    rl: TrainedModel | None = None
    """The optional RL stage after IT (`spire.mini.rl.RlResult`); not in `trained()`, whose losses fall."""
    eval: EvalResult | None = None
    total_wall_s: float | None = None
    machine: dict[str, Any] | None = None
    """Torch threads, CPUs and load average (1/5/15 min) at the end of the run."""
    plots: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None
    """report.md, once written."""

    def trained(self) -> dict[str, TrainedModel]:
        """The training stages that ran, by name (base, cpt, it, it_only)."""
        stages = {"base": self.base, "cpt": self.cpt, "it": self.it, "it_only": self.it_only}
        return {name: stage for name, stage in stages.items() if stage is not None}

    def to_json(self) -> dict[str, Any]:
        """The results as JSON-ready data, stages that did not run left out."""
        return {key: value for key, value in to_json(self).items() if value is not None}
