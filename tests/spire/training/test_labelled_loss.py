"""Logits only where a label exists: the same loss and gradients as transformers' own loss; losses
are chosen by name (`loss.name`) from a table the trainer does not know."""

from pathlib import Path

import pytest
import torch

from spire.config import resolve_config
from spire.data.collate import PackedCollator
from spire.errors import ConfigError
from spire.training.losses import (
    DENSE_ABOVE,
    LOSSES,
    Loss,
    get_loss,
    labelled_positions_loss,
    supports_labelled_positions_loss,
)
from spire.training.recipe import TrainConfig, train

ROOT = Path(__file__).resolve().parents[3]


def _tiny_model(path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(str(path))
    return path


def _packed_rows(n_rows: int, seed: int = 0) -> dict[str, list]:
    """Rows of 1-3 documents, each with a prompt part that carries no label."""
    import random

    rng = random.Random(seed)
    columns: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    for _ in range(n_rows):
        ids, labels, positions = [], [], []
        for _ in range(rng.randint(1, 3)):
            length = rng.randint(4, 16)
            doc = [rng.randrange(3, 300) for _ in range(length)]
            prompt = rng.randint(1, length - 1)
            ids, labels = ids + doc, labels + [-100] * prompt + doc[prompt:]
            positions += list(range(length))
        columns["input_ids"].append(ids)
        columns["labels"].append(labels)
        columns["position_ids"].append(positions)
    return columns


def _workdir(root: Path, rows: int) -> Path:
    from datasets import Dataset

    _tiny_model(root / "model")
    Dataset.from_dict(_packed_rows(rows)).save_to_disk(str(root / "data"))
    return root


def _config(workdir: Path, out: Path, *extra: str) -> TrainConfig:
    return resolve_config(TrainConfig, ROOT / "configs/train/mini_it.yaml", [
        f"model.path={workdir / 'model'}", f"data.train={workdir / 'data'}", f"output_dir={out}",
        "data.seq_len=48", "micro_batch=2", "logging_steps=1", "optim.lr=1e-3", "optim.warmup_steps=0",
        *extra,
    ])


def _state(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _batch():
    rows = _packed_rows(3, seed=4)
    features = [{key: rows[key][i] for key in rows} for i in range(3)]
    batch = PackedCollator(pad_token_id=0, max_length=48)(features)
    batch.pop("num_tokens", None)
    return batch


@pytest.mark.parametrize(("num_items", "labelled"), [(None, "some"), (37, "some"), (37, "all")])
def test_loss_and_gradients_equal_the_models_own(tmp_path, num_items, labelled):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(_tiny_model(tmp_path / "m"))).float()
    batch = _batch()
    if labelled == "all":  # above DENSE_ABOVE: the head runs on every position
        batch["labels"] = batch["input_ids"].clone()
    share = (batch["labels"] != -100).float().mean()
    assert (share < DENSE_ABOVE) if labelled == "some" else (share > DENSE_ABOVE)
    items = None if num_items is None else torch.tensor(num_items)
    reference = model(**batch, num_items_in_batch=items).loss
    reference.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    ours = labelled_positions_loss(model, batch, items)
    ours.backward()
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=1e-5)
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], atol=1e-6, rtol=1e-4, msg=name)


def test_training_with_it_moves_weights_as_the_plain_loss_does(tmp_path):
    workdir = _workdir(tmp_path, 8)
    settings = ("max_steps=2", "save_steps=0", "grad_accum=2")
    train(_config(workdir, tmp_path / "plain", *settings))
    train(_config(workdir, tmp_path / "labelled", *settings, "loss.name=labelled_positions"))
    plain, labelled = _state(tmp_path / "plain"), _state(tmp_path / "labelled")
    moved = _state(workdir / "model")
    for name, value in plain.items():
        assert not torch.equal(value, moved[name]) or value.ndim < 2
        torch.testing.assert_close(labelled[name], value, atol=2e-5, rtol=1e-4, msg=name)


def test_refused_where_the_decoder_cannot_run_alone(tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(_tiny_model(tmp_path / "m")))
    assert supports_labelled_positions_loss(model)
    model.config.final_logit_softcapping = 30.0  # a head followed by soft-capping (Gemma 2)
    assert not supports_labelled_positions_loss(model)
    workdir = _workdir(tmp_path / "w", 4)
    cfg = _config(workdir, tmp_path / "o", "loss.name=labelled_positions", "distributed.fsdp=true")
    with pytest.raises(ConfigError, match="single training process") as info:
        train(cfg)
    assert info.value.key == "loss.name"


def test_losses_are_chosen_by_name_from_the_table(tmp_path, monkeypatch):
    assert get_loss("labelled_positions").compute is labelled_positions_loss
    assert get_loss("causal_lm").compute is None  # the model's own loss
    calls = []

    def counted(model, inputs, num_items_in_batch):
        calls.append(inputs["labels"].shape)
        return labelled_positions_loss(model, inputs, num_items_in_batch)

    # A recipe's own loss: one entry in the table, picked in the config; the trainer is unchanged.
    monkeypatch.setitem(LOSSES, "counted", Loss(compute=counted))
    workdir = _workdir(tmp_path, 4)
    train(_config(workdir, tmp_path / "o", "loss.name=counted", "max_steps=2", "save_steps=0"))
    assert len(calls) == 2


def test_an_unknown_loss_name_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="causal_lm") as info:
        _config(tmp_path, tmp_path / "o", "loss.name=focal").validate()
    assert info.value.key == "loss.name"
    with pytest.raises(ConfigError):
        get_loss("focal")


def test_the_trainer_knows_no_loss_or_optimizer_by_name():
    source = (ROOT / "spire/training/trainer.py").read_text().lower()
    assert "muon" not in source and "labelled" not in source
