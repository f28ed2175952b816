"""The miniature's optional RL stage (`spire demo rl=true`): its recipe, a tiny run from an "IT"
model that is reused on a rerun, and the report's rows (training line, "CPT + IT + RL" scores)."""

import json
import shutil
from pathlib import Path

import pytest

from spire.mini.config import DemoConfig
from spire.mini.demo_report import MODEL_NAMES, score_table
from spire.mini.results import TrainedModel, UnitsResult
from spire.mini.rl import RlResult, _curves, rl_report_row, rl_train_config, stage_rl
from spire.testing import fake_unit_rows

NUM_UNITS = 24


def test_rl_is_off_by_default_and_its_recipe_takes_the_demo_values():
    config = DemoConfig.load()
    assert config.rl is False and DemoConfig.quick().rl is False
    cfg = rl_train_config(config, model_path="m", data_file="d.jsonl", output_dir="o")
    cfg.validate()
    assert (cfg.grpo.num_generations, cfg.grpo.beta, cfg.optim.lr, cfg.max_steps) == (
        config.rl_num_generations, config.rl_beta, config.rl_lr, config.rl_steps)
    assert cfg.micro_batch == config.rl_num_generations * config.rl_prompts_per_step and cfg.grad_accum == 1
    assert cfg.grpo.max_completion_length == config.max_new_tokens  # as long as the evaluation's answers
    assert [s.target_lang for s in cfg.data.parallel] == ["de", "fr"] and cfg.data.st_languages == ["de", "fr"]


def test_reward_curves_are_read_per_task_from_the_logs():
    logs = [{"step": 1, "reward": -0.5, "rewards/asr_wer/mean": -0.9, "rewards/st_chrf/mean": None,
             "rewards/mt_chrf/mean": 0.2}, {"step": 2, "loss": 0.1},
            {"step": 3, "reward": 0.1, "rewards/asr_wer/mean": -0.4, "rewards/st_chrf/mean": 0.3}]
    overall, tasks = _curves(logs)
    assert overall == [[1, -0.5], [3, 0.1]]
    assert tasks == {"asr": [[1, -0.9], [3, -0.4]], "st": [[3, 0.3]], "mt": [[1, 0.2]]}


def test_the_report_shows_the_rl_model_beside_the_it_model():
    assert MODEL_NAMES["rl"] == "CPT + IT + RL (GRPO)"
    models = {"it": {"asr": {"wer": 9.7}}, "rl": {"asr": {"wer": 8.1}, "st_de": {"bleu": 30.0, "chrf": 55.0}}}
    rows = score_table({"models": models})
    assert rows[-2].startswith("| CPT + IT (SpireFull) | 9.7%") and rows[-1].startswith("| CPT + IT + RL (GRPO) | 8.1%")
    run = RlResult(stage="rl", rows=50, replayed_rows=0, steps=4, train_loss=0.0, tokens_seen=10, tokens_per_s=1.0,
                   curve=[], wall_s=12.0, folder=Path("rl"), prompts=50, num_generations=4,
                   task_rewards={"asr": [[1, -0.5], [4, -0.25]], "mt": [[1, 0.2], [4, 0.3]]})
    assert rl_report_row(run) == ("| RL after IT (GRPO, 4 answers per prompt, rewards -WER / chrF) | 4 steps on 50 "
                                  "prompts; mean reward asr -0.500 -> -0.250; mt +0.200 -> +0.300 | 12 |")


def test_a_tiny_rl_stage_runs_from_the_it_model_and_is_reused(tmp_path, monkeypatch, tiny_extended_sp):
    import spire.mini.rl as rl_module

    rows = fake_unit_rows(8, num_units=NUM_UNITS, max_units=12)
    monkeypatch.setattr(rl_module, "unit_rows", lambda folder, split: rows)
    it_folder = tmp_path / "out" / "it"
    shutil.copytree(tiny_extended_sp, it_folder / "model")
    config = DemoConfig.load(overrides={"out_dir": str(tmp_path / "out"), "it_utterances": 5, "rl_utterances": 2,
                                        "rl_steps": 2, "rl_num_generations": 2, "rl_prompts_per_step": 2,
                                        "max_new_tokens": 6, "progress": False, "rl_lr": 1e-3})
    units = UnitsResult(folder=tmp_path / "units", k=NUM_UNITS, clusters_used=NUM_UNITS, perplexity=1.0, vtln=None,
                        dedup_ratio=1.0, units_per_s=1.0, cluster_counts=[], wall_s=0.0)
    it = TrainedModel(stage="it", rows=1, replayed_rows=0, steps=1, train_loss=1.0, tokens_seen=1, tokens_per_s=1.0,
                      curve=[], wall_s=1.0, folder=it_folder)
    result = stage_rl(config, units, it)
    assert isinstance(result, RlResult) and result.steps == 2 and result.prompts == 10  # 2 utterances x 5 tasks
    assert [json.loads(line)["id"] for line in (result.folder / "train.jsonl").read_text().splitlines()] == [
        rows[5]["id"], rows[6]["id"]]  # the utterances after the IT ones
    assert (result.model / "model.safetensors").is_file() and len(result.reward_curve) == 2
    def no_training(cfg):
        raise AssertionError("the rerun trained again")

    monkeypatch.setattr("spire.rl.recipe.train_rl", no_training)  # a rerun with the same settings reuses the run
    again = stage_rl(config, units, it)
    assert again.reward_curve == result.reward_curve and again.steps == 2


@pytest.fixture(scope="module")
def tiny_extended_sp(tmp_path_factory):
    from spire.testing import tiny_extended_llama

    return tiny_extended_llama(tmp_path_factory.mktemp("it_model"), num_units=NUM_UNITS)
