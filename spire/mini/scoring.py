"""Stage 5 of the miniature: score every model on the test split (unseen sentences and speakers)
and on the unseen-accent split `test_accents` when the corpus has one.

Adapted models run end to end from the test audio (`SpireModel` + `spire.evaluation.evaluator`): ASR
WER/CER and the share of transcripts over 1.5x their reference's words (insertions), speech
translation en->de and en->fr BLEU/chrF, text translation BLEU/chrF; on `test_accents`, ASR and
speech translation (text translation does not hear the accent). The text-only base model is
scored on text translation of the main test split with the same prompt and metrics.
Every run's `EvalReport` (decoding settings, signatures, examples) lands in `eval/<model>/`, and in
`eval/test_accents/<model>/` for the accent split.

>>> scores = stage_eval(config, corpus, base, {"it": it})               # doctest: +SKIP
>>> scores.models["it"]["asr"]["wer"], scores.splits["test_accents"]["it"]["asr"]["wer"]  # doctest: +SKIP
(4.2, 6.3)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from spire.mini.base_lm import MT_DIRECTIONS, translate_with_base
from spire.mini.config import DemoConfig
from spire.mini.corpus import ACCENT_SPLIT
from spire.mini.results import BaseModelResult, CorpusResult, EvalResult, TrainedModel
from spire.mini.stages import mark_done, model_fingerprint, relative, stage_done
from units.files import write_text

__all__ = ["SPEECH_TASKS", "TASKS", "stage_eval"]

logger = logging.getLogger(__name__)

#: (key, task, target language) of every score of an adapted model.
TASKS = (("asr", "asr", "en"), ("st_de", "st", "de"), ("st_fr", "st", "fr"),
         ("mt_de", "mt", "de"), ("mt_fr", "mt", "fr"))
#: The tasks that read the audio: what the unseen-accent split is scored on.
SPEECH_TASKS = TASKS[:3]
#: Transcripts with more words than this times their reference's count as long (`long_output_rate`).
LONG_OUTPUT_RATIO = 1.5


def _scores(report: Any) -> dict[str, float]:
    return {score.name: round(score.value, 2) for score in report.scores}


def _language_match(hyps: list[str], rows: list[dict[str, Any]]) -> dict[str, float]:
    """chrF of the outputs against the references of each language: the output language shows
    as the highest one (a check that holds once the tasks are learned, before the content is)."""
    from spire.evaluation.metrics import chrf

    return {lang: round(chrf(hyps, [r[field] for r in rows]).value, 2)
            for lang, field in (("en", "text"), ("de", "de"), ("fr", "fr"))}


def _mismatched(key: str, hyps: list[str], refs: list[str], language: str) -> dict[str, float]:
    """The score against the references of other utterances (each paired with the one half the
    split away): the level of a model that ignores the audio. A model that uses the units scores
    clearly better against its own references than against these."""
    from spire.evaluation.metrics import bleu, wer
    from spire.prompts import resolve_language

    shifted = [refs[(i + len(refs) // 2) % len(refs)] for i in range(len(refs))]
    if key == "asr":
        return {"wer_mismatched": round(wer(hyps, shifted).value, 2)}
    if key.startswith("st_"):
        return {"bleu_mismatched": round(bleu(hyps, shifted, language=resolve_language(language)).value, 2)}
    return {}


def _long_outputs(key: str, hyps: list[str], refs: list[str]) -> dict[str, float]:
    """ASR only: percent of transcripts over LONG_OUTPUT_RATIO times their reference's words."""
    from spire.evaluation.metrics import long_output_rate

    if key != "asr":
        return {}
    return {"long_output_rate": round(long_output_rate(hyps, refs, ratio=LONG_OUTPUT_RATIO).value, 2)}


def _eval_adapted(model: Any, manifest: Path, out: Path, config: DemoConfig,
                  tasks: tuple[tuple[str, str, str], ...] = TASKS) -> dict[str, Any]:
    from spire.data.sources import read_records
    from spire.evaluation.evaluator import evaluate, read_eval_data

    rows = list(read_records(manifest))
    results: dict[str, Any] = {}
    for key, task, language in tasks:
        start = time.perf_counter()
        examples = read_eval_data(manifest, task=task, language=language if task != "asr" else "German")
        report = evaluate(model, examples, task=task, language=language if task != "asr" else "German",
                          batch_size=config.eval_batch_size, max_new_tokens=config.max_new_tokens,
                          data_info={"path": str(manifest)}, num_examples_shown=len(examples))
        report.save(out, stem=key)
        hyps = [example["hypothesis"] for example in report.examples]
        refs = [example["reference"] for example in report.examples]
        results[key] = {**_scores(report), **_long_outputs(key, hyps, refs), **_mismatched(key, hyps, refs, language),
                        "chrf_by_language": _language_match(hyps, rows),
                        "examples": report.examples[:2], "wall_s": round(time.perf_counter() - start, 1)}
        shown = ", ".join(f"{name} {value:.1f}" for name, value in _scores(report).items())
        logger.info(f"    {key}: {shown}")
    return results


def _eval_base(model_dir: str, manifest: Path, config: DemoConfig) -> dict[str, Any]:
    from spire.data.sources import read_records
    from spire.evaluation.metrics import bleu, chrf
    from spire.prompts import resolve_language

    rows = list(read_records(manifest))
    results: dict[str, Any] = {}
    for src, tgt in MT_DIRECTIONS:
        start = time.perf_counter()
        hyps = translate_with_base(model_dir, [r["text"] for r in rows], src=src, tgt=tgt,
                                   batch_size=config.eval_batch_size, max_new_tokens=config.max_new_tokens)
        refs = [r[tgt] for r in rows]
        results[f"mt_{tgt}"] = {
            "bleu": round(bleu(hyps, refs, language=resolve_language(tgt)).value, 2),
            "chrf": round(chrf(hyps, refs).value, 2),
            "chrf_by_language": _language_match(hyps, rows),
            "examples": [{"hypothesis": h, "reference": r} for h, r in zip(hyps[:2], refs[:2])],
            "wall_s": round(time.perf_counter() - start, 1),
        }
        logger.info(f"    mt_{tgt}: bleu {results[f'mt_{tgt}']['bleu']:.1f}, chrf {results[f'mt_{tgt}']['chrf']:.1f}")
    return results


def stage_eval(config: DemoConfig, corpus: CorpusResult, base: BaseModelResult,
               adapted: dict[str, TrainedModel]) -> EvalResult:
    """Score the base model (text MT) and each adapted model (ASR, ST, MT) on the test split, and
    each adapted model (ASR, ST) on the unseen-accent split when the corpus has one."""
    from spire.inference.model import SpireModel

    folder = Path(config.out_dir) / "eval"
    manifest = corpus.manifest("test")
    settings = {"base": [relative(config, base.model), model_fingerprint(base.model)],
                "adapted": {name: [relative(config, m.model), model_fingerprint(m.model)]
                            for name, m in adapted.items()},
                "test": corpus.utterances["test"], ACCENT_SPLIT: corpus.accent_utterances,
                "max_new_tokens": config.max_new_tokens}
    start = time.perf_counter()
    if not stage_done(folder, settings):
        models: dict[str, Any] = {}
        accents: dict[str, Any] = {}
        logger.info("  base (text only): text translation")
        models["base"] = _eval_base(str(base.model), manifest, config)
        for name, trained in adapted.items():
            model = SpireModel.from_pretrained(str(trained.model), device="cpu")
            logger.info(f"  {name}: ASR, speech translation, text translation")
            models[name] = _eval_adapted(model, manifest, folder / name, config)
            if corpus.accent_utterances:
                logger.info(f"  {name}: ASR, speech translation on {ACCENT_SPLIT} (unseen accents)")
                accents[name] = _eval_adapted(model, corpus.manifest(ACCENT_SPLIT), folder / ACCENT_SPLIT / name,
                                              config, SPEECH_TASKS)
        decoding = {"num_beams": 1, "do_sample": False, "max_new_tokens": config.max_new_tokens,
                    "batch_size": config.eval_batch_size}
        splits = {ACCENT_SPLIT: accents} if accents else {}
        write_text(folder / "scores.json", json.dumps({"models": models, "decoding": decoding, "splits": splits},
                                                      indent=2, ensure_ascii=False))
        (folder / "build_s.json").write_text(json.dumps(time.perf_counter() - start))
        mark_done(folder, settings)
    scores = json.loads((folder / "scores.json").read_text())
    build = folder / "build_s.json"
    wall_s = json.loads(build.read_text()) if build.is_file() else time.perf_counter() - start
    return EvalResult(folder=folder, models=scores["models"], decoding=scores["decoding"], wall_s=wall_s,
                      splits=scores.get("splits", {}))
