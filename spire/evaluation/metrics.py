"""Corpus-level scores: WER/CER (jiwer, after Whisper's normalizer), BLEU/chrF (sacreBLEU), COMET.

Every function takes hypotheses and references as parallel lists and returns a `Score` that
carries, besides the value, what it takes to reproduce it: the sacreBLEU signature, the
normalizer used, or the COMET model. Values are percentages (WER 12.5 means 12.5 %).

>>> wer(["the cat sit on mat"], ["the cat sat on the mat"]).value  # 1 sub + 1 del over 6 words
33.33...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spire.errors import DataError, SpireError
from spire.evaluation.normalizer import normalize_all


class MetricUnavailableError(SpireError):
    """A metric whose optional package or model is missing (COMET)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Score:
    """One corpus-level score and how it was computed.

    >>> Score(name="wer", value=5.0, signature="whisper-english-normalizer|jiwer").as_dict()["value"]
    5.0
    """

    name: str
    """Metric name: "wer", "cer", "bleu", "chrf" or "comet"."""
    value: float
    """The score in percent (COMET: the system score × 100)."""
    signature: str
    """What fixes the computation: sacreBLEU signature, normalizer, or COMET model."""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Counts behind the value (errors, reference length, …)."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# sacreBLEU's default 13a tokenizer splits on spaces, which scripts without them defeat.
_BLEU_TOKENIZERS = {"chinese": "zh", "japanese": "char", "korean": "char", "thai": "char"}


def _check_parallel(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise DataError(
            f"hypotheses and references must be parallel lists, but there are {len(hypotheses)} "
            f"hypotheses and {len(references)} references; fix: score one output per reference"
        )
    if not references:
        raise DataError("references must not be empty, but are; fix: score at least one example")


def _error_rate(
    hypotheses: Sequence[str], references: Sequence[str], *, normalize: bool, unit: str
) -> Score:
    import jiwer

    _check_parallel(hypotheses, references)
    if normalize:
        hypotheses, references = normalize_all(hypotheses), normalize_all(references)
    process = jiwer.process_words if unit == "word" else jiwer.process_characters
    out = process(list(references), list(hypotheses))
    errors = out.substitutions + out.deletions + out.insertions
    ref_length = out.substitutions + out.deletions + out.hits
    # A corpus whose normalized references are all empty has no defined rate; report 0 only
    # when the hypotheses are empty too.
    value = 100.0 * errors / ref_length if ref_length else (0.0 if errors == 0 else float("inf"))
    name = "wer" if unit == "word" else "cer"
    normalizer = "whisper-english-normalizer" if normalize else "none"
    return Score(
        name=name,
        value=value,
        signature=f"normalizer:{normalizer}|jiwer|unit:{unit}",
        details={
            "substitutions": out.substitutions,
            "deletions": out.deletions,
            "insertions": out.insertions,
            "reference_length": ref_length,
        },
    )


def wer(hypotheses: Sequence[str], references: Sequence[str], *, normalize: bool = True) -> Score:
    """Word error rate in percent: (substitutions + deletions + insertions) / reference words.

    Computed over the whole corpus (not a mean of sentence rates), after Whisper's English
    normalizer unless `normalize=False`.

    >>> wer(["mister smith paid twenty dollars"], ["Mr. Smith paid $20."]).value
    0.0
    """
    return _error_rate(hypotheses, references, normalize=normalize, unit="word")


def cer(hypotheses: Sequence[str], references: Sequence[str], *, normalize: bool = True) -> Score:
    """Character error rate in percent (spaces count as characters), normalized like `wer`.

    >>> cer(["sitting"], ["kitten"], normalize=False).value  # 2 subs + 1 ins over 6 chars
    50.0
    """
    return _error_rate(hypotheses, references, normalize=normalize, unit="char")


def long_output_rate(
    hypotheses: Sequence[str], references: Sequence[str], *, ratio: float = 1.5, normalize: bool = True
) -> Score:
    """Percent of outputs with more than `ratio` times their reference's words: a measure of
    insertions and hallucinations (a model that keeps talking past the audio), which corpus WER
    averages away. Words are counted after Whisper's English normalizer, as in `wer`.

    >>> long_output_rate(["a b c d", "a b", "a b c"], ["a b", "a b", "a b"]).value  # 4 > 3 words
    33.33...
    """
    if not ratio > 0:
        raise DataError(f"ratio must be positive, but is {ratio}; fix: pass e.g. 1.5")
    _check_parallel(hypotheses, references)
    if normalize:
        hypotheses, references = normalize_all(hypotheses), normalize_all(references)
    long = sum(len(h.split()) > ratio * len(r.split()) for h, r in zip(hypotheses, references))
    normalizer = "whisper-english-normalizer" if normalize else "none"
    return Score(
        name="long_output_rate",
        value=100.0 * long / len(references),
        signature=f"normalizer:{normalizer}|words>{ratio:g}x reference",
        details={"long_outputs": long, "outputs": len(references), "ratio": ratio},
    )


def bleu(
    hypotheses: Sequence[str], references: Sequence[str], *, language: str | None = None
) -> Score:
    """Corpus BLEU (sacreBLEU defaults; tokenizer `zh` for Chinese, `char` for Japanese/Korean).

    >>> bleu(["the cat sat on the mat"], ["the cat sat on a mat"]).value  # (5/6·3/5·2/4·1/3)^¼
    53.72...
    """
    from sacrebleu.metrics import BLEU

    _check_parallel(hypotheses, references)
    tokenize = _BLEU_TOKENIZERS.get((language or "").lower())
    metric = BLEU(tokenize=tokenize) if tokenize else BLEU()
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return Score(
        name="bleu",
        value=float(result.score),
        signature=str(metric.get_signature()),
        details={
            "precisions": [float(p) for p in result.precisions],
            "brevity_penalty": float(result.bp),
            "hyp_len": int(result.sys_len),
            "ref_len": int(result.ref_len),
        },
    )


def chrf(hypotheses: Sequence[str], references: Sequence[str], *, word_order: int = 0) -> Score:
    """Corpus chrF (character 6-grams, β = 2); `word_order=2` gives chrF++.

    >>> chrf(["ab"], ["ac"]).value  # unigram F = 1/2, bigram F = 0; no longer n-grams
    25.0
    """
    from sacrebleu.metrics import CHRF

    _check_parallel(hypotheses, references)
    metric = CHRF(word_order=word_order)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return Score(name="chrf", value=float(result.score), signature=str(metric.get_signature()))


def _comet_checkpoint(model_path: str | Path) -> Path:
    path = Path(model_path)
    if path.is_dir():
        path = path / "checkpoints" / "model.ckpt"
    if not path.is_file():
        raise MetricUnavailableError(
            f"the COMET model must be a local checkpoint (model.ckpt or a folder holding "
            f"checkpoints/model.ckpt), but {path} does not exist; fix: download the model once "
            "(e.g. Unbabel/wmt22-comet-da) and pass its folder"
        )
    return path


def comet(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    model_path: str | Path | None,
    batch_size: int = 16,
    gpus: int = 0,
) -> Score:
    """COMET system score × 100, from a local checkpoint; needs `pip install unbabel-comet`.

    >>> comet(["Hallo"], ["Hello"], ["Hello"], model_path=None)
    Traceback (most recent call last):
    spire.evaluation.metrics.MetricUnavailableError: COMET needs a local model, but model_path is None; ...
    """
    _check_parallel(hypotheses, references)
    _check_parallel(sources, references)
    if model_path is None:
        raise MetricUnavailableError(
            "COMET needs a local model, but model_path is None; fix: pass model_path= "
            "(a downloaded COMET checkpoint folder)"
        )
    try:
        from comet import load_from_checkpoint
    except ImportError as error:
        raise MetricUnavailableError(
            "COMET needs the package unbabel-comet, but it is not installed; fix: "
            "pip install 'spire-speech[comet]'"
        ) from error
    checkpoint = _comet_checkpoint(model_path)
    model = load_from_checkpoint(str(checkpoint))
    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
    output = model.predict(data, batch_size=batch_size, gpus=gpus, progress_bar=False)
    return Score(
        name="comet",
        value=100.0 * float(output.system_score),
        signature=f"comet|model:{checkpoint}",
    )
