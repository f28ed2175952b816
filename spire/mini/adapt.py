"""Stage 4 of the miniature: extend the base LM with unit tokens, then CPT and IT (and IT alone).

    extended/        base + unit tokens + chat specials (`spire.vocab.extend.extend_model`)
    cpt/data, cpt/model            ASR pairs `Speech: …\\nEnglish: …` + parallel + monolingual text, packed whole
    it_data/                       ASR, ST to German and French, text MT (ChatML, loss on answers)
    it/model         CPT -> IT     (the miniature SpireFull; IT rows + `it_replay` x as many CPT rows)
    it_only/model    extended -> IT, no CPT (the paper's ablation)

Every trained model folder also holds a copy of the unit extractor (`extractor/`), so
`SpireModel.from_pretrained(folder)` works on it alone.

>>> extended = stage_extend(config, base, units)                       # doctest: +SKIP
>>> cpt = stage_cpt(config, corpus, units, extended)                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from spire.data.output import BuildSummary
from spire.mini.config import DemoConfig
from spire.mini.results import (
    BaseModelResult,
    CorpusResult,
    CptResult,
    ExtendedResult,
    ItDataResult,
    TrainedModel,
    UnitsResult,
    load_summary,
    save_summary,
)
from spire.mini.stages import fresh, mark_done, model_fingerprint, relative, stage_done, unit_rows

__all__ = ["stage_cpt", "stage_extend", "stage_it", "stage_it_data"]

logger = logging.getLogger(__name__)

# Whole documents: an ASR pair cut at a row end trains its transcript without its audio.
_CPT_PACKING = "pack"


def stage_extend(config: DemoConfig, base: BaseModelResult, units: UnitsResult) -> ExtendedResult:
    """Add `num_units` unit tokens and the chat specials to the base model (mean-initialised rows)."""
    from spire.vocab.extend import extend_model, read_extractor_provenance

    folder = Path(config.out_dir) / "extended"
    provenance = read_extractor_provenance(units.extractor)
    settings = {"base": relative(config, base.model), "base_weights": model_fingerprint(base.model),
                "num_units": units.k,
                "extractor": provenance, "seed": config.seed}
    if not stage_done(folder, settings):
        fresh(folder)
        result = extend_model(base.model, folder / "model", num_units=units.k, init="mean",
                              extractor_provenance=provenance, extractor_dir=units.extractor,
                              seed=config.seed)
        save_summary(ExtendedResult(folder=folder, vocab_size=result.vocab_size, embedding_rows=result.embedding_rows,
                                    first_unit_id=result.first_unit_id, special_ids=result.special_ids), folder)
        mark_done(folder, settings)
    return load_summary(ExtendedResult, folder)


def _parallel_sources(manifest: Path) -> list[Any]:
    from spire.data.sources import ParallelSource

    return [ParallelSource(path=str(manifest), source_lang="en", target_lang=lang, source_field="text")
            for lang in ("de", "fr")]


def stage_cpt(config: DemoConfig, corpus: CorpusResult, units: UnitsResult, extended: ExtendedResult) -> CptResult:
    """Continued pretraining: ASR pairs + parallel + monolingual text, packed (SpireBase)."""
    from spire.data.cpt import CptDataConfig, build_cpt
    from spire.data.sources import SpeechSource, TextSource
    from spire.mini.training import train_stage

    folder = Path(config.out_dir) / "cpt"
    settings = {"extended": relative(config, extended.model), "extended_weights": model_fingerprint(extended.model),
                "units": units.k, "epochs": config.cpt_epochs,
                "lr": config.cpt_lr, "optimizer": config.cpt_optimizer, "muon_lr": config.muon_lr,
                "seq_len": config.seq_len, "micro_batch": config.micro_batch,
                "unit_loss": config.cpt_unit_loss, "packing": _CPT_PACKING,
                "sources": "round_robin",  # a folder built when sources were chained is rebuilt
                "seed": config.seed, "corpus": corpus.utterances}
    if not stage_done(folder, settings):
        fresh(folder)
        manifest = str(corpus.manifest("train"))
        data_config = CptDataConfig(
            tokenizer=str(extended.model),
            speech=[SpeechSource(path=str(units.labelled("train")))],
            parallel=_parallel_sources(corpus.manifest("train")),
            monolingual=[TextSource(path=manifest, text_field=field) for field in ("text", "de", "fr")],
            seq_len=config.seq_len,
            long_documents=_CPT_PACKING,
            unit_loss=config.cpt_unit_loss,
        )
        data = build_cpt(data_config, folder / "data", progress=config.progress)
        logger.info(f"  CPT data: {data.kept} documents, {data.tokens} tokens {data.tokens_by_source}")
        run = train_stage("cpt", model_path=extended.model, data_dir=folder / "data", output_dir=folder / "model",
                          epochs=config.cpt_epochs, lr=config.cpt_lr, optimizer=config.cpt_optimizer, config=config)
        save_summary(CptResult(**vars(run), folder=folder, data=data), folder)
        mark_done(folder, settings)
    return load_summary(CptResult, folder)


def stage_it_data(config: DemoConfig, corpus: CorpusResult, units: UnitsResult,
                  extended: ExtendedResult) -> ItDataResult:
    """The IT dataset (shared by IT after CPT and the IT-only ablation)."""
    from spire.data.instructions import ItDataConfig, build_it
    from spire.data.sources import SpeechSource
    from units.files import json_line, write_lines

    folder = Path(config.out_dir) / "it_data"
    settings = {"extended": relative(config, extended.model), "extended_weights": model_fingerprint(extended.model),
                "units": units.k, "seq_len": config.seq_len,
                "utterances": config.it_utterances, "seed": config.seed, "corpus": corpus.utterances}
    if not stage_done(folder, settings):
        fresh(folder)
        # The labelled rows carry the manifest's text fields, so one file feeds speech and MT.
        rows = unit_rows(units.folder, "train")[: config.it_utterances]
        subset = folder / "train.jsonl"
        write_lines(subset, (json_line(row) for row in rows), compress=False)
        data_config = ItDataConfig(
            tokenizer=str(extended.model), speech=[SpeechSource(path=str(subset))], tasks=["asr", "st"],
            st_languages=["de", "fr"], parallel=_parallel_sources(subset), seq_len=config.seq_len,
            seed=config.seed,
        )
        save_summary(build_it(data_config, folder / "data", progress=config.progress), folder)
        mark_done(folder, settings)
    result = ItDataResult(folder=folder, data=load_summary(BuildSummary, folder))
    logger.info(f"  IT data: {result.data.kept} examples, {result.data.tokens} tokens {result.data.tokens_by_source}")
    return result


def stage_it(name: str, config: DemoConfig, start_model: CptResult | ExtendedResult, it_data: ItDataResult,
             units: UnitsResult, replay: CptResult | None = None) -> TrainedModel:
    """Instruction tuning of `start_model` (the CPT model, or the extended base for the ablation);
    with `replay` (the CPT stage), `config.it_replay` times as many of its rows as IT rows (at most
    all of them) are mixed in."""
    from spire.mini.training import train_stage

    folder = Path(config.out_dir) / name
    replay_data = replay.data_dir if replay is not None and config.it_replay > 0 else None
    # A small corpus may hold fewer CPT rows than asked for: replay them all, once.
    fraction = min(config.it_replay, replay.data.sequences / it_data.data.sequences) if replay_data else 0.0
    settings = {"start": relative(config, start_model.model), "start_weights": model_fingerprint(start_model.model),
                "data": relative(config, it_data.data_dir), "data_tokens": it_data.data.tokens,
                "epochs": config.it_epochs, "lr": config.it_lr, "optimizer": config.it_optimizer,
                "muon_lr": config.muon_lr, "micro_batch": config.micro_batch, "seed": config.seed,
                "replay": None if replay_data is None else [relative(config, replay_data), fraction]}
    started = time.perf_counter()
    if not stage_done(folder, settings):
        fresh(folder)
        run = train_stage("it", model_path=start_model.model, data_dir=it_data.data_dir, output_dir=folder / "model",
                          epochs=config.it_epochs, lr=config.it_lr, optimizer=config.it_optimizer, config=config,
                          replay=replay_data, replay_fraction=fraction)
        save_summary(TrainedModel(**vars(run), folder=folder), folder)
        mark_done(folder, settings)
    return load_summary(TrainedModel, folder, stage_wall_s=time.perf_counter() - started)
