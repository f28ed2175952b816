"""`spire demo`: configuration, stage reuse, report and checks; the quick run end to end (integration).

The quick run's thresholds (spire.mini.demo.QUICK_LIMITS) were measured on 2 shared CPU cores
and leave margins; they fail when a stage did not train or a task answers in the wrong language.
"""

import argparse
import json
from pathlib import Path

import pytest

from spire.commands.demo import add_arguments, config_from_args
from spire.data.output import BuildSummary
from spire.data.packing import PackStats
from spire.errors import ConfigError, SpireError
from spire.mini.base_lm import base_documents
from spire.mini.config import DemoConfig
from spire.mini.demo import QUICK_LIMITS, check_quick, run_demo
from spire.mini.demo_report import score_table, targets, write_report
from spire.mini.plots import make_plots
from spire.mini.results import (
    BaseModelResult,
    CorpusResult,
    CptResult,
    DemoResults,
    EvalResult,
    TrainedModel,
    UnitsResult,
    VtlnWarps,
)
from spire.mini.stages import mark_done, model_fingerprint, stage_done


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _scores(wer=5.0, st=45.0, mt=65.0, base_mt=65.0, wer_only=9.0, asr_languages=None, mt_chrf=70.0, st_only=10.0):
    def task(language, **values):
        by_language = {"en": 10.0, "de": 10.0, "fr": 10.0, language: 40.0}
        return {**values, "chrf_by_language": by_language}

    adapted = {"asr": {**task("en", wer=wer, cer=wer / 2, wer_mismatched=102.0)},
               "st_de": task("de", bleu=st, chrf=60.0, bleu_mismatched=0.8),
               "st_fr": task("fr", bleu=st, chrf=60.0, bleu_mismatched=0.8), "mt_de": task("de", bleu=mt, chrf=mt_chrf),
               "mt_fr": task("fr", bleu=mt, chrf=70.0)}
    if asr_languages is not None:
        adapted["asr"]["chrf_by_language"] = asr_languages
    return {"models": {"base": {"mt_de": task("de", bleu=base_mt, chrf=70.0),
                                "mt_fr": task("fr", bleu=base_mt, chrf=70.0)},
                       "it_only": {**adapted, "asr": {"wer": wer_only, "wer_mismatched": 102.0},
                                   "st_de": {"bleu": st_only}, "st_fr": {"bleu": st_only}}, "it": adapted},
            "decoding": {"max_new_tokens": 48}, "wall_s": 1.0}


def _results(curve=((5, 6.0), (10, 3.0)), dedup_ratio=0.98, **score_kwargs):
    train = {"rows": 80, "replayed_rows": 0, "train_loss": 4.0, "steps": 10, "tokens_seen": 1000,
             "tokens_per_s": 100.0, "wall_s": 10.0, "curve": [list(point) for point in curve]}
    scores = _scores(**score_kwargs)
    return DemoResults(
        corpus=CorpusResult(folder=Path("c"), utterances={"train": 4, "dev": 1, "test": 2},
                            audio_hours={"train": 0.01}, wall_s=1.0),
        units=UnitsResult(folder=Path("u"), k=1000, clusters_used=990, perplexity=900.0, dedup_ratio=dedup_ratio,
                          vtln=VtlnWarps(utterances=3, min=0.88, max=1.04, mean=0.97),
                          units_per_s=24.0, cluster_counts=[5, 3, 2, 1], wall_s=1.0),
        base=BaseModelResult(stage="base", **train, folder=Path("b"), data=PackStats(), parameters=1_000_000,
                             vocab_size=500),
        cpt=CptResult(stage="cpt", **train, folder=Path("cpt"), data=BuildSummary(kind="cpt", seq_len=8, packed=True)),
        it=TrainedModel(stage="it", **train, folder=Path("it")),
        eval=EvalResult(folder=Path("e"), models=scores["models"], decoding=scores["decoding"], wall_s=1.0),
    )


def test_quick_config_is_smaller_and_overridable():
    quick, full = DemoConfig.quick(), DemoConfig.load()
    assert quick.n_train < full.n_train and quick.hidden_size <= full.hidden_size
    assert DemoConfig.quick(n_train=7).n_train == 7


def test_command_line_overrides_apply_in_order(tmp_path):
    yaml_file = tmp_path / "demo.yaml"
    yaml_file.write_text("it_epochs: 1.5\nn_test: 10\n")
    config = config_from_args(_args("--quick", "--config", str(yaml_file), "--out", str(tmp_path / "o"),
                                    "n_test=12", "it_utterances=50"))
    assert config.n_train == DemoConfig.quick().n_train  # from --quick
    assert config.it_epochs == 1.5  # from the YAML
    assert config.n_test == 12  # key=value wins over the YAML
    assert config.it_utterances == 50 and config.out_dir == str(tmp_path / "o")


def test_unknown_setting_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="hiden_size"):
        config_from_args(_args("hiden_size=3"))


def test_stage_marker_matches_only_the_same_settings(tmp_path):
    settings = {"n": 3, "nested": {"a": [1, 2]}}
    assert not stage_done(tmp_path, settings)
    mark_done(tmp_path, settings)
    assert stage_done(tmp_path, settings)
    assert not stage_done(tmp_path, {**settings, "n": 4})


def test_base_documents_hold_each_language_and_mt_prompts():
    docs = list(base_documents([{"text": "The dog sleeps.", "de": "Der Hund schläft.", "fr": "Le chien dort."}]))
    assert docs[:3] == ["The dog sleeps.", "Der Hund schläft.", "Le chien dort."]
    assert docs[3].startswith("Translate the following text from English to German.\nEnglish: The dog sleeps.")
    assert docs[3].endswith("\nGerman: Der Hund schläft.") and docs[4].endswith("\nFrench: Le chien dort.")


def test_targets_follow_the_scores():
    met = {t["target"]: t["met"] for t in targets(_scores())}
    assert all(met.values())
    missed = {t["target"]: t["met"] for t in targets(_scores(wer=12.0, st=20.0, mt=40.0, base_mt=55.0,
                                                             wer_only=11.0, st_only=25.0))}
    assert not any(missed.values())
    assert {"ASR WER <= 5% (CPT + IT)", "ST en→de BLEU >= 40", "base MT en→fr BLEU >= 60",
            "CPT + IT better than IT only on ST en→fr BLEU"} <= set(missed)


def test_model_fingerprint_follows_the_weights(tmp_path):
    # Later stages record their input model's fingerprint: a retrained CPT model (same path,
    # same step count) must not let the IT stage reuse a model trained from the old one.
    (tmp_path / "model.safetensors").write_bytes(b"weights v1")
    first = model_fingerprint(tmp_path)
    assert model_fingerprint(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"weights v2")
    assert model_fingerprint(tmp_path) != first


def test_score_table_has_a_row_per_model():
    table = score_table(_scores())
    assert len(table) == 2 + 3
    assert table[2].startswith("| base LLM") and "| – |" in table[2]  # no speech scores for the base


def test_check_quick_accepts_learning_and_rejects_failures():
    check_quick(_results())
    with pytest.raises(SpireError, match="loss must fall"):
        check_quick(_results(curve=((5, 6.0), (10, 6.0 * QUICK_LIMITS["max_loss_ratio"] + 0.1))))
    with pytest.raises(SpireError, match="it asr: chrF against en"):
        check_quick(_results(asr_languages={"en": 20.0, "de": 19.0, "fr": 5.0}))  # German-ish transcripts
    with pytest.raises(SpireError, match="it asr: WER must be >= 5.0 points below"):
        check_quick(_results(wer=99.0))  # fluent English that ignores the audio: 99% vs 102% mismatched
    with pytest.raises(SpireError, match="at least twice chance"):
        check_quick(_results(dedup_ratio=0.9995))  # k=1000 units that repeat only by chance
    with pytest.raises(SpireError, match="below 80%"):
        check_quick(_results(dedup_ratio=0.1))  # collapsed units
    with pytest.raises(SpireError, match=r"it mt_de: text translation must keep >= 90% of the base's chrF \(70.0\)"):
        check_quick(_results(mt_chrf=70.0 * QUICK_LIMITS["min_mt_kept"] - 0.1))  # speech cost the LLM its MT
    check_quick(_results(mt_chrf=70.0 * QUICK_LIMITS["min_mt_kept"]))


def test_report_and_plots_are_written(tmp_path):
    results = _results()
    results.plots = make_plots(results, tmp_path / "plots")
    report = write_report(DemoConfig.load(overrides={"out_dir": str(tmp_path)}), results)
    text = report.read_text()
    assert "## Scores" in text and "## Targets" in text
    assert "MFCC + VTLN (warps 0.88-1.04, mean 0.970, fit on 3 utterances) k-means k=1000" in text
    for name in ("loss.png", "units.png", "scores.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
        assert f"plots/{name}" in text
    assert json.loads((tmp_path / "report.json").read_text())["eval"]["models"]["it"]["asr"]["wer"] == 5.0



def _plot_results():
    """README-like scores (a 217% WER beside BLEU ~30, the base without speech scores) and
    stages of very different lengths, one with a dev curve."""
    import dataclasses

    results = _results()
    models = {"base": {"mt_de": {"bleu": 3.0, "chrf": 18.2}},
              "it_only": {"asr": {"wer": 217.4}, "st_de": {"bleu": 5.0, "chrf": 26.1}, "mt_de": {"bleu": 6.9, "chrf": 27.5}},
              "it": {"asr": {"wer": 9.7}, "st_de": {"bleu": 31.4, "chrf": 55.0}, "mt_de": {"bleu": 86.4, "chrf": 92.6}}}
    results.eval = dataclasses.replace(results.eval, models=models)
    results.base = dataclasses.replace(results.base, curve=[[s, 6.0 - s / 400] for s in range(50, 958, 50)], steps=957)
    results.cpt = dataclasses.replace(results.cpt, dev_curve=[[5, 6.5], [10, 3.5]])
    return results


def test_scores_plot_has_a_panel_per_metric_and_marks_missing_values():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spire.mini.plots import SCORE_PANELS, _score_panel

    scores = _plot_results().eval.models
    assert [metric for metric, _, _ in SCORE_PANELS] == ["wer", "bleu", "chrf"]
    assert "lower is better" in SCORE_PANELS[0][1] and "higher is better" in SCORE_PANELS[1][1]
    for metric, title, tasks in SCORE_PANELS:
        fig, ax = plt.subplots()
        _score_panel(ax, scores, metric, title, tasks)
        measured = [scores[m][t][metric] for m in scores for t in tasks if metric in scores[m].get(t, {})]
        heights = sorted(round(bar.get_height(), 1) for bar in ax.patches)
        assert heights == sorted(measured)  # one bar per measured value, none drawn as 0
        missing = sum(1 for m in scores for t in tasks if metric not in scores[m].get(t, {}))
        assert [t.get_text() for t in ax.texts].count("n/a") == missing > 0
        plt.close(fig)


def test_loss_plot_has_a_panel_per_stage_with_the_dev_loss(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spire.mini.plots import _loss

    saved = []
    real_close = plt.close
    plt.close = lambda fig: saved.append(fig)  # keep the figure to look at it
    try:
        _loss(plt, _plot_results(), tmp_path / "loss.png")
    finally:
        plt.close = real_close
    axes = saved[0].axes
    assert [ax.get_title().splitlines()[0] for ax in axes] == ["base LLM (text)", "CPT", "IT after CPT"]
    assert axes[0].get_xlim()[1] > 900 > axes[2].get_xlim()[1]  # each stage on its own step axis
    assert [line.get_label() for line in axes[1].lines] == ["train", "dev"]
    assert [line.get_label() for line in axes[2].lines] == ["train"]
    assert "no dev set" in [t.get_text() for t in axes[2].texts]
    real_close(saved[0])


def test_report_ends_with_how_to_use_the_model(tmp_path):
    out = tmp_path / "demo_out"
    results = _results()
    results.corpus = CorpusResult(folder=out / "corpus", utterances={"train": 4, "dev": 1, "test": 2},
                                  audio_hours={"train": 0.01}, wall_s=1.0)
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "test.jsonl").write_text('{"id": "test-000000", "audio": "audio/test/test-000000.flac"}\n')
    results.it = TrainedModel(**{**vars(results.it), "folder": out / "it"})
    results.eval = EvalResult(folder=out / "eval", models=results.eval.models, decoding={"max_new_tokens": 4}, wall_s=1)
    results.total_wall_s, results.machine = 600.0, {"threads": 2, "cpus": 2, "load_average": [2.5, 2.2, 2.0]}
    text = write_report(DemoConfig.load(overrides={"out_dir": str(out)}), results).read_text()
    model, clip = f"{out}/it/model", f"{out}/corpus/audio/test/test-000000.flac"
    assert f"spire transcribe --model {model} {clip}" in text
    assert f'model = SpireModel.from_pretrained("{model}")\nprint(model.transcribe("{clip}").text)' in text
    assert "[it/asr](eval/it/asr.md)" in text and "[it_only/st_de](eval/it_only/st_de.md)" in text
    assert text.rstrip().splitlines()[-1].startswith("Every hypothesis beside its reference")
    assert "on 2 torch threads and 2 CPUs; load average at the end 2.5 / 2.2 / 2.0 (1 / 5 / 15 min)." in text
    results.machine["load_average"] = [5.0, 4.5, 4.1]
    text = write_report(DemoConfig.load(overrides={"out_dir": str(out)}), results).read_text()
    assert "4.1 (1 / 5 / 15 min), more than the CPUs: other jobs shared the machine" in text
    for target in targets(_scores()):
        assert f"| {target['why']} |" in text and len(target["why"]) > 20


def test_readme_shows_the_lines_the_report_prints(tmp_path, monkeypatch):
    from spire.mini.corpus import plan_corpus
    from spire.mini.demo_report import usage_lines

    monkeypatch.chdir(tmp_path)
    first = plan_corpus(n_train=1, n_dev=0, n_test=1, seed=0)["test"][0].id  # ids do not depend on the seed
    out = Path("demo_out")
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "test.jsonl").write_text(json.dumps({"id": first, "audio": f"audio/test/{first}.flac"}) + "\n")
    results = _results()
    results.corpus = CorpusResult(folder=out / "corpus", utterances={"test": 1}, audio_hours={}, wall_s=1.0)
    results.it = TrainedModel(**{**vars(results.it), "folder": out / "it"})
    commands = [line for line in usage_lines(results, out) if line.startswith(("spire ", "from spire", "model =", "print("))]
    assert len(commands) == 5
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for line in commands:
        assert line in readme, line

def test_demo_command_prints_the_report_last(tmp_path, monkeypatch, capsys):
    import spire.mini.demo as demo
    from spire.commands.demo import run

    report = tmp_path / "report.md"
    report.write_text("# spire miniature\n...\n## Use the model\nspire transcribe --model x/it/model clip.flac\n")
    results = _results()
    results.report = report
    monkeypatch.setattr(demo, "run_demo", lambda config: results)
    assert run(_args("--quick", "--out", str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert out.index("quick demo: all checks passed") < out.index("# spire miniature")
    assert out.rstrip().endswith("spire transcribe --model x/it/model clip.flac")


@pytest.mark.integration
def test_quick_demo_learns_and_reruns_from_its_stages(tmp_path_factory):
    # The same folder as tests/test_notebooks.py: whichever runs first builds it.
    out = tmp_path_factory.getbasetemp() / "quick_demo"
    config = DemoConfig.quick(out_dir=str(out), progress=False)
    results = run_demo(config)
    check_quick(results, config)  # losses fell; every task answers in its language (QUICK_LIMITS)
    vtln = results.units.vtln  # the voices (men's and women's) got different warps
    assert vtln.utterances > 100 and vtln.min < vtln.mean < vtln.max
    it_rows = results.it_data.data.sequences  # IT after CPT also trains on CPT rows (it_replay)
    cpt_rows = results.cpt.data.sequences  # all of them at most
    assert results.it.replayed_rows == min(round(it_rows * config.it_replay), cpt_rows) > 0
    assert results.it.rows == it_rows + results.it.replayed_rows
    models = results.eval.models
    assert {"asr", "st_de", "st_fr", "mt_de", "mt_fr"} <= set(models["it"]) and set(models["base"]) == {"mt_de", "mt_fr"}
    again = run_demo(config)  # every stage is reused: same scores, no retraining
    assert again.eval.models == models
    assert again.it.steps == results.it.steps
    for stage in ("corpus", "units", "base", "extended", "cpt", "it_data", "it", "eval"):
        assert (out / stage / "stage.json").is_file(), stage
    assert (out / "report.md").is_file() and (out / "plots" / "loss.png").is_file()
