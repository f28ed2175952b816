"""`spire demo`: the miniature SPIRE recipe, offline on CPU, from nothing to a report.

    spire demo                        # the recipe in configs/mini/demo.yaml, about 20 minutes on 2 cores
    spire demo --quick                # configs/mini/quick.yaml on top, about 10 minutes; checks every stage
    spire demo --out DIR base_epochs=3 it_epochs=1     # key=value overrides, as in `spire train`

Stages, each a function of the config and the outputs of the ones before:
1. corpus: synthesize English speech with English, German and French text (espeak-ng).
2. units: MFCC features -> a frame sample -> k-means -> labelled train/dev/test manifests.
3. base LLM: a SentencePiece tokenizer and a tiny Llama trained on the text (the "Tower").
4. extend with unit tokens; CPT (ASR pairs + text); IT (ASR, ST en->de/fr, MT); IT without CPT;
   with `rl=true`, GRPO with verifiable rewards after IT (`spire.mini.rl`).
5. evaluate on the test split; write report.md, report.json and plots/.
Every stage writes into `out_dir/<stage>/`; a stage whose output exists with the same settings
is reused, so a rerun is cheap. The settings and what was measured on the way to them:
docs/miniature.md.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from spire.errors import SpireError
from spire.mini.config import DemoConfig
from spire.mini.results import DemoResults

__all__ = ["DemoConfig", "QUICK_LIMITS", "check_quick", "machine_load", "run_demo"]

logger = logging.getLogger(__name__)

#: What `--quick` checks, besides units, falling losses and answers in the requested language.
#: Grounding: the transcripts must be closer to their own references than to those of other
#: utterances (a model that ignores the audio scores the same on both). Speech-translation BLEU
#: is too close to its audio-blind level at that budget to assert; the report shows both.
#: The adapted model must also keep the base's text translation (SPIRE's claim): its MT chrF at
#: least `min_mt_kept` of the base's (chrF: BLEU of a small quick model moves by whole points).
QUICK_LIMITS = {"max_loss_ratio": 0.6, "min_language_ratio": 1.15, "min_wer_gap": 5.0, "min_mt_kept": 0.9}


def run_demo(config: DemoConfig) -> DemoResults:
    """Run every stage in order; return the results that the report (`results.report`) shows.
    Progress goes to the `spire.mini` loggers; `spire demo` prints the report at the end.

    >>> results = run_demo(DemoConfig.load(overrides={"out_dir": "/tmp/mini"}))  # doctest: +SKIP
    >>> results.eval.models["it"]["asr"]["wer"]                                 # doctest: +SKIP
    9.7
    """
    from spire.mini.adapt import stage_cpt, stage_extend, stage_it, stage_it_data
    from spire.mini.base_lm import stage_base_lm
    from spire.mini.demo_report import write_report
    from spire.mini.plots import make_plots
    from spire.mini.scoring import stage_eval
    from spire.mini.stages import stage_corpus, stage_units

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads is not None:
        import torch

        torch.set_num_threads(config.threads)
    if not config.progress:
        os.environ["TQDM_DISABLE"] = "1"  # the Trainer's and datasets' bars too
    started = time.perf_counter()

    def step(number: int, text: str) -> None:
        logger.info("[%d/8 %4.1f min] %s", number, (time.perf_counter() - started) / 60, text)

    step(1, f"corpus: {config.n_train}/{config.n_dev}/{config.n_test} utterances -> {out / 'corpus'}")
    corpus = stage_corpus(config)
    vtln = " + VTLN" if config.mfcc_vtln else ""
    step(2, f"units: MFCC{vtln} + k-means (k={config.num_units}) -> {out / 'units'}")
    results = DemoResults(corpus=corpus, units=stage_units(config, corpus))
    step(3, f"base LLM: text-only tiny Llama on en/de/fr + MT -> {out / 'base'}")
    results.base = stage_base_lm(config, corpus)
    step(4, f"extend with {results.units.k} unit tokens -> {out / 'extended'}")
    results.extended = stage_extend(config, results.base, results.units)
    step(5, f"CPT: ASR pairs + text -> {out / 'cpt'}")
    results.cpt = stage_cpt(config, corpus, results.units, results.extended)
    step(6, f"IT after CPT: ASR, ST en->de/fr, MT -> {out / 'it'}")
    results.it_data = stage_it_data(config, corpus, results.units, results.extended)
    results.it = stage_it("it", config, results.cpt, results.it_data, results.units, replay=results.cpt)
    if config.rl:
        from spire.mini.rl import stage_rl

        step(6, f"RL after IT: GRPO, rewards -WER / chrF, {config.rl_steps} steps -> {out / 'rl'}")
        results.rl = stage_rl(config, results.units, results.it)
    if config.ablation:
        step(7, f"IT only (ablation, no CPT) -> {out / 'it_only'}")
        results.it_only = stage_it("it_only", config, results.extended, results.it_data, results.units)
    else:
        step(7, "IT only (ablation): skipped (ablation=false)")
    step(8, f"evaluate on {config.n_test} test utterances -> {out / 'eval'}")
    adapted = {name: model for name, model in (("it", results.it), ("it_only", results.it_only), ("rl", results.rl))
               if model}
    results.eval = stage_eval(config, corpus, results.base, adapted)
    results.total_wall_s = time.perf_counter() - started
    results.machine = machine_load()
    results.plots = make_plots(results, out / "plots")
    results.report = write_report(config, results)
    return results


def machine_load() -> dict[str, object]:
    """What the wall time ran on: torch's CPU threads, the CPUs, and the load average (1, 5 and
    15 min) at the end of the run; other jobs on the machine slow every stage.

    >>> sorted(machine_load())
    ['cpus', 'load_average', 'threads']
    """
    import torch

    load = [round(value, 2) for value in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_average": load}


def check_quick(results: DemoResults, config: DemoConfig | None = None) -> None:
    """What `--quick` asserts: sensible units, falling losses, answers in the requested language,
    transcripts that follow the audio (QUICK_LIMITS).

    Raises SpireError listing every check that failed.

    >>> check_quick(run_demo(DemoConfig.quick(out_dir="/tmp/mini")))       # doctest: +SKIP
    """
    units = results.units
    failures = []
    if units.clusters_used < 0.8 * units.k:
        failures.append(f"units: only {units.clusters_used} of {units.k} clusters are used")
    # Collapsed units repeat almost always; units without temporal structure repeat no more
    # often than independent draws would (1/k). At 25 Hz and k=1000 about 2% of frames repeat.
    repeats = 1.0 - units.dedup_ratio
    if not 2.0 / units.k <= repeats < 0.8:
        failures.append(f"units: {repeats:.1%} of frames repeat the previous unit; it must be at least twice "
                        f"chance (2/k = {2.0 / units.k:.2%}) and below 80%")
    for stage, trained in results.trained().items():
        curve = trained.curve
        if len(curve) < 2:
            failures.append(f"{stage}: the loss curve must have at least 2 points, but has {len(curve)}")
        elif curve and curve[-1][1] > QUICK_LIMITS["max_loss_ratio"] * curve[0][1]:
            failures.append(f"{stage}: loss must fall to <= {QUICK_LIMITS['max_loss_ratio']} of its first value, "
                            f"but went {curve[0][1]:.2f} -> {curve[-1][1]:.2f}")
    models = results.eval.models if results.eval is not None else {}
    wanted = {"asr": "en", "st_de": "de", "st_fr": "fr", "mt_de": "de", "mt_fr": "fr"}
    for model, scores in models.items():
        for key, language in wanted.items():
            by_language = scores.get(key, {}).get("chrf_by_language")
            if not by_language:
                continue
            other = max(v for lang, v in by_language.items() if lang != language)
            if by_language[language] < QUICK_LIMITS["min_language_ratio"] * other:
                failures.append(f"{model} {key}: chrF against {language} references must be >= "
                                f"{QUICK_LIMITS['min_language_ratio']}x the best other language ({other:.1f}), "
                                f"but is {by_language[language]:.1f}")
    for model, scores in models.items():
        asr = scores.get("asr", {})
        if "wer" in asr and "wer_mismatched" not in asr:
            failures.append(f"{model} asr: the WER against other utterances' references is missing; rerun the evaluation")
        elif "wer" in asr and asr["wer"] > asr["wer_mismatched"] - QUICK_LIMITS["min_wer_gap"]:
            failures.append(f"{model} asr: WER must be >= {QUICK_LIMITS['min_wer_gap']} points below the WER against "
                            f"other utterances' references ({asr['wer_mismatched']:.1f}), but is {asr['wer']:.1f}: "
                            "the transcripts do not follow the audio")
    base = models.get("base", {})
    for key in ("mt_de", "mt_fr"):
        before, after = base.get(key, {}).get("chrf"), models.get("it", {}).get(key, {}).get("chrf")
        if before is not None and after is not None and after < QUICK_LIMITS["min_mt_kept"] * before:
            failures.append(f"it {key}: text translation must keep >= {QUICK_LIMITS['min_mt_kept']:.0%} of the base's "
                            f"chrF ({before:.1f}), but is {after:.1f}: adding speech cost the LLM its translation")
    if failures:
        raise SpireError("the quick demo did not learn enough: " + "; ".join(failures))
