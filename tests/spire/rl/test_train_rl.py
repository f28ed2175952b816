"""A tiny GRPO run (TRL) from a tiny extended model: it moves the weights, leaves a complete model
folder that SpireModel loads (tokenizer, chat template, extractor), logs rewards per task, marks its
checkpoints complete, and stops with exit code 2 on non-finite weights or rewards."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from spire.config import resolve_config
from spire.rl.config import RLConfig
from spire.testing import fake_unit_rows
from spire.training.checkpoints import MARKER
from spire.training.guards import NonFiniteError

ROOT = Path(__file__).resolve().parents[3]
NUM_UNITS = 24


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(model folder with its extractor, unit manifest)."""
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    root = tmp_path_factory.mktemp("rl")
    featurizer = MfccFeaturizer()
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize([tone_speech(1.5, seed=s)
                                                                               for s in range(4)])])
    extractor = UnitExtractor(featurizer, KMeansQuantizer.fit(features, NUM_UNITS, seed=0,
                                                              provenance=featurizer.provenance()))
    result = extend_model(tiny_llama(root / "base"), root / "model", num_units=NUM_UNITS,
                          extractor_provenance=extractor.provenance())
    extractor.save_pretrained(result.out_dir / "extractor")
    rows = root / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in fake_unit_rows(8, num_units=NUM_UNITS, max_units=12)))
    return result.out_dir, rows


def _config(setup, out, *overrides):
    model, rows = setup
    return resolve_config(RLConfig, ROOT / "configs/mini/train_rl.yaml", [
        f"model.path={model}", f"output_dir={out}", f"data.speech=[{{path: {rows}}}]",
        f"data.parallel=[{{path: {rows}, source_lang: en, target_lang: fr, source_field: text}}]",
        "grpo.num_generations=4", "grpo.max_completion_length=8", "micro_batch=8", "max_steps=3",
        "optim.lr=1e-3", "optim.warmup_steps=0", "logging_steps=1", "seed=0", *overrides])


def test_a_tiny_grpo_run_saves_a_loadable_model_that_moved(setup, tmp_path):
    from spire.inference.model import SpireModel
    from spire.rl.recipe import train_rl

    out = tmp_path / "rl"
    result = train_rl(_config(setup, out, "save_steps=2"))
    assert result.global_step == 3 and result.tokens_seen > 0
    before, after = load_file(setup[0] / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    moved = [name for name in before if not torch.equal(before[name], after[name])]
    assert "lm_head.weight" in moved and any(".mlp." in name for name in moved)
    assert all(torch.isfinite(t).all() for t in after.values())
    # A complete model folder, like `spire train`'s: SpireModel loads it with its own extractor.
    assert (out / "extractor" / "extractor.json").is_file() and (out / "config.yaml").is_file()
    model = SpireModel.from_pretrained(out, device="cpu")
    assert "<|im_start|>" in model.tokenizer.chat_template
    text = model.translate_text(["the small house"], src="en", tgt="fr", max_new_tokens=4)[0]
    assert isinstance(text.text, str)
    # Rewards per task kind in the log; the checkpoint is marked complete.
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log if "reward" in record] == [1, 2, 3]
    assert all(math.isfinite(record["reward"]) for record in log if "reward" in record)
    assert {key for record in log for key in record if key.startswith("rewards/")} >= {
        "rewards/asr_wer/mean", "rewards/st_chrf/mean", "rewards/mt_chrf/mean"}
    # save_total_limit 1 (the mini recipe): only the newest complete checkpoint stays.
    assert (out / "checkpoint-3" / MARKER).is_file() and (out / "checkpoint-3" / "config.yaml").is_file()
    assert not (out / "checkpoint-2").exists()


def test_non_finite_weights_stop_the_run_with_exit_code_2(setup, tmp_path, capsys):
    from spire.cli import main

    out = tmp_path / "rl"
    cfg = _config(setup, out)
    # An absurd learning rate turns the weights into inf/nan at the first update.
    code = main(["train", "--config", str(ROOT / "configs/mini/train_rl.yaml"), f"model.path={cfg.model.path}",
                 f"output_dir={out}", f"data.speech=[{{path: {setup[1]}}}]", "grpo.num_generations=4",
                 "grpo.max_completion_length=8", "micro_batch=8", "max_steps=3", "optim.lr=1e39",
                 "optim.warmup_steps=0", "optim.max_grad_norm=0"])
    assert code == 2
    assert "weights must be finite" in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()


def test_the_guard_refuses_a_non_finite_reward():
    from types import SimpleNamespace

    from spire.rl.trainer import RLFiniteGuard

    state = SimpleNamespace(global_step=5)
    RLFiniteGuard().on_log(None, state, None, logs={"reward": 0.3, "kl": 0.01, "loss": 0.0})
    for key in ("reward", "reward_std", "kl", "loss"):
        with pytest.raises(NonFiniteError, match=f"step 5: the .*{key} must be finite"):
            RLFiniteGuard().on_log(SimpleNamespace(learning_rate=1e-6), state, None, logs={key: float("nan")})
