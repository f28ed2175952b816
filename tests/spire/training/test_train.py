"""Training: packed batches mask documents apart, one step moves only trainable weights,
resume equals uninterrupted, and the run leaves its config, checkpoints and loss log behind."""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spire.config import load_yaml, resolve_config
from spire.data.collate import IGNORE_INDEX, PackedCollator
from spire.errors import ConfigError, DataError
from spire.training.recipe import TrainConfig, train

ROOT = Path(__file__).resolve().parents[3]


def _tiny_model(path: Path, attn: str = "sdpa", vocab_size: int = 300) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        attn_implementation=attn,
    )
    LlamaForCausalLM(config).save_pretrained(str(path))
    return path


def _packed_rows(n_rows: int, seq_len: int = 48, seed: int = 0, vocab: int = 300) -> dict[str, list]:
    """Rows of 1-3 documents each, with a prompt part (label -100) in every document."""
    rng = random.Random(seed)
    columns: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    for _ in range(n_rows):
        ids, labels, positions = [], [], []
        for _ in range(rng.randint(1, 3)):
            length = rng.randint(4, seq_len // 3)
            doc = [rng.randrange(3, vocab) for _ in range(length)]
            prompt = rng.randint(1, length - 1)
            ids += doc
            labels += [IGNORE_INDEX] * prompt + doc[prompt:]
            positions += list(range(length))
        columns["input_ids"].append(ids)
        columns["labels"].append(labels)
        columns["position_ids"].append(positions)
    return columns


def _save_dataset(path: Path, columns: dict[str, list]) -> Path:
    from datasets import Dataset

    Dataset.from_dict(columns).save_to_disk(str(path))
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    _tiny_model(root / "model")
    _save_dataset(root / "data", _packed_rows(24))
    return root


def _config(workdir: Path, out: Path, *extra: str) -> TrainConfig:
    return resolve_config(
        TrainConfig,
        ROOT / "configs/train/mini_it.yaml",
        [
            f"model.path={workdir / 'model'}",
            f"data.train={workdir / 'data'}",
            f"output_dir={out}",
            "data.seq_len=48",
            "micro_batch=2",
            "grad_accum=2",
            "max_steps=4",
            "save_steps=2",
            "logging_steps=1",
            "optim.lr=1e-3",
            "optim.warmup_steps=1",
            *extra,
        ],
    )


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_document_logits_equal_the_document_alone(tmp_path, attn):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(_tiny_model(tmp_path / "m", attn))).eval()
    first, second, short = list(range(10, 27)), list(range(40, 53)), list(range(100, 106))
    row = {"input_ids": first + second, "labels": first + second,
           "position_ids": list(range(len(first))) + list(range(len(second)))}
    batch = PackedCollator(pad_token_id=0)([row, {"input_ids": short}])
    with torch.no_grad():
        packed = model(**batch).logits
        alone = model(input_ids=torch.tensor([second])).logits
        padded_alone = model(input_ids=torch.tensor([short])).logits
    torch.testing.assert_close(packed[0, len(first):], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed[1, : len(short)], padded_alone[0], atol=1e-5, rtol=1e-5)


def test_collator_masks_padding_and_document_starts():
    rows = [
        {"input_ids": [5, 6, 7, 8, 9], "labels": [-100, 6, 7, 8, 9], "position_ids": [0, 1, 2, 0, 1]},
        {"input_ids": [4, 4], "labels": [4, 4], "position_ids": [0, 1]},
    ]
    batch = PackedCollator(pad_token_id=1, count_tokens=True)(rows)
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9], [-100, 4, -100, -100, -100]]
    assert batch["input_ids"][1].tolist() == [4, 4, 1, 1, 1]
    assert batch["position_ids"][1].tolist() == [0, 1, 0, 1, 2]
    assert int(batch["num_tokens"]) == 7
    assert "attention_mask" not in batch and batch["use_cache"] is False


def test_collator_rejects_overlong_and_ragged_rows():
    collate = PackedCollator(pad_token_id=0, max_length=3)
    with pytest.raises(DataError, match="seq_len=3"):
        collate([{"input_ids": [1, 2, 3, 4]}])
    with pytest.raises(DataError, match="one length"):
        collate([{"input_ids": [1, 2], "labels": [1]}])


def _state(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def test_one_step_moves_lora_and_trainable_weights_only(workdir, tmp_path):
    pytest.importorskip("peft")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = _config(workdir, tmp_path / "out", "max_steps=1", "save_steps=0", "optim.warmup_steps=0", "lora.enabled=true",
                  "lora.modules_to_save=[lm_head]")
    before = AutoModelForCausalLM.from_pretrained(str(workdir / "model")).state_dict()
    train(cfg)
    base = AutoModelForCausalLM.from_pretrained(str(workdir / "model"))
    merged = PeftModel.from_pretrained(base, str(tmp_path / "out"))
    changed = {name for name, value in merged.named_parameters() if "lora_B" in name and value.abs().sum() > 0}
    assert changed, "LoRA B matrices start at zero and must move after one step"
    frozen = merged.get_base_model().model.layers[0].self_attn.q_proj.base_layer.weight
    torch.testing.assert_close(frozen, before["model.layers.0.self_attn.q_proj.weight"], rtol=0, atol=0)
    torch.testing.assert_close(merged.get_base_model().model.embed_tokens.weight, before["model.embed_tokens.weight"],
                               rtol=0, atol=0)
    head = merged.get_base_model().lm_head.modules_to_save["default"].weight
    assert not torch.equal(head, before["lm_head.weight"])


def test_train_only_new_embeddings_moves_only_new_rows(workdir, tmp_path):
    first_new = 250
    cfg = _config(workdir, tmp_path / "out", "max_steps=1", "save_steps=0", "optim.warmup_steps=0", "model.train_only_new_embeddings=true",
                  f"model.first_new_id={first_new}", "optim.weight_decay=0")
    before = _state(workdir / "model")
    train(cfg)
    after = _state(tmp_path / "out")
    for name, value in before.items():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            torch.testing.assert_close(after[name][:first_new], value[:first_new], rtol=0, atol=0)
            assert not torch.equal(after[name][first_new:], value[first_new:]), name
        else:
            torch.testing.assert_close(after[name], value, rtol=0, atol=0, msg=name)


def test_full_step_changes_every_weight_matrix(workdir, tmp_path):
    cfg = _config(workdir, tmp_path / "out", "max_steps=1", "save_steps=0", "optim.warmup_steps=0")
    before = _state(workdir / "model")
    train(cfg)
    after = _state(tmp_path / "out")
    unchanged = [name for name, value in before.items() if value.ndim == 2 and torch.equal(after[name], value)]
    assert unchanged == []


def test_muon_runs_muon_on_the_decoder_matrices(workdir, tmp_path):
    from spire.training.optimizers import MuonAdamW
    from spire.training.trainer import build_trainer

    cfg = _config(workdir, tmp_path / "out", "optim.name=muon", "optim.muon_lr=0.03", "max_steps=1", "save_steps=0",
                  "optim.warmup_steps=0")
    trainer = build_trainer(cfg)
    trainer.train()
    assert isinstance(trainer.optimizer.optimizer, MuonAdamW)  # inside accelerate's wrapper
    groups = trainer.optimizer.optimizer.param_groups
    assert [g["muon"] for g in groups] == [False, False, True]
    assert groups[2]["initial_lr"] == 0.03 and groups[0]["initial_lr"] == 1e-3
    before = _state(workdir / "model")
    trainer.save_model(cfg.output_dir)
    after = _state(tmp_path / "out")
    assert [n for n, v in before.items() if v.ndim == 2 and torch.equal(after[n], v)] == []


@pytest.mark.parametrize(("override", "key"), [
    ("distributed.fsdp=true", "optim.name"), ("optim.muon_lr=0", "optim.muon_lr"),
    ("optim.muon_momentum=1", "optim.muon_momentum"),
])
def test_muon_settings_are_checked(workdir, tmp_path, override, key):
    with pytest.raises(ConfigError) as info:
        _config(workdir, tmp_path / "o", "optim.name=muon", override).validate()
    assert info.value.key == key


def test_train_only_new_embeddings_refuses_weight_decay(workdir, tmp_path):
    cfg = _config(workdir, tmp_path / "o", "model.train_only_new_embeddings=true", "optim.weight_decay=0.1")
    with pytest.raises(ConfigError) as info:
        train(cfg)
    assert info.value.key == "optim.weight_decay"


class _StopAt:
    """Stops the run at a step, as a crash or pre-emption would (after that step's checkpoint)."""

    def __new__(cls, step):
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step >= step:
                    control.should_training_stop = True

        return Stop()


def _curve(out: Path) -> dict[int, float]:
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return {line["step"]: line["loss"] for line in lines if "loss" in line}


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_equals_uninterrupted(workdir, tmp_path, optimizer):
    name = f"optim.name={optimizer}"
    straight = train(_config(workdir, tmp_path / "straight", name))
    interrupted = _config(workdir, tmp_path / "resumed", name)
    assert train(interrupted, callbacks=[_StopAt(2)]).global_step == 2
    assert (tmp_path / "resumed/checkpoint-2/config.yaml").is_file()
    resumed = train(_config(workdir, tmp_path / "resumed", "resume=latest", name))
    assert resumed.global_step == straight.global_step == 4

    a, b = _curve(tmp_path / "straight"), _curve(tmp_path / "resumed")
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-4), step
    for name, value in _state(tmp_path / "straight").items():
        torch.testing.assert_close(_state(tmp_path / "resumed")[name], value, rtol=1e-4, atol=1e-6, msg=name)
    assert resumed.tokens_seen == straight.tokens_seen


def test_run_saves_config_log_and_counts_real_tokens(workdir, tmp_path):
    out = tmp_path / "out"
    result = train(_config(workdir, out, "max_steps=3", "save_steps=3"))
    saved = resolve_config(TrainConfig, out / "config.yaml")
    assert saved.max_steps == 3 and saved.data.train == str(workdir / "data")
    assert load_yaml(out / "checkpoint-3/config.yaml") == load_yaml(out / "config.yaml")
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "loss" in line]
    assert [line["step"] for line in steps] == [1, 2, 3]
    assert all(line["tokens_per_s"] > 0 for line in steps)
    # 3 steps x 2 accumulation x 2 rows = the first 12 rows of the (shuffled) data: count them exactly.
    from datasets import load_from_disk

    lengths = sorted(len(ids) for ids in load_from_disk(str(workdir / "data"))["input_ids"])
    assert lengths[0] * 12 <= result.tokens_seen <= lengths[-1] * 12
    assert steps[-1]["tokens_seen"] == result.tokens_seen
    assert (out / "model.safetensors").is_file()


def test_cli_runs_with_overrides(workdir, tmp_path):
    from spire.cli import main

    out = tmp_path / "cli"
    code = main(["train", "--config", str(ROOT / "configs/train/mini_it.yaml"), f"model.path={workdir / 'model'}",
                 f"data.train={workdir / 'data'}", f"output_dir={out}", "max_steps=1", "data.seq_len=48"])
    assert code == 0
    assert resolve_config(TrainConfig, out / "config.yaml").max_steps == 1
    assert main(["train", "--config", str(ROOT / "configs/train/mini_it.yaml"), "optim.lrr=1"]) == 2


@pytest.mark.integration
def test_two_process_data_parallel_on_cpu(workdir, tmp_path):
    """torchrun --nproc_per_node 2 with gloo: both ranks train, rank 0 writes one log that counts both."""
    out = tmp_path / "ddp"
    ids = list(range(3, 43))
    same_length = {"input_ids": [ids] * 16, "labels": [ids] * 16, "position_ids": [list(range(20)) * 2] * 16}
    data = _save_dataset(tmp_path / "fixed", same_length)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    command = [
        torchrun, "--nproc_per_node", "2", "--master_port", "29517", "-m", "spire.cli", "train",
        "--config", str(ROOT / "configs/train/mini_it.yaml"), f"model.path={workdir / 'model'}",
        f"data.train={data}", f"output_dir={out}", "max_steps=2", "data.seq_len=48",
        "micro_batch=2", "grad_accum=1", "save_steps=0", "logging_steps=1", "distributed.backend=gloo",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "loss" in line]
    assert [line["step"] for line in steps] == [1, 2]
    # 2 steps x 2 ranks x 2 rows x 40 tokens: the count is gathered over both ranks.
    assert steps[-1]["tokens_seen"] == 2 * 2 * 2 * 40
    assert (out / "model.safetensors").is_file()


def test_collator_trims_rows_saved_with_padding():
    from spire.data.packing import pack_examples

    rows = list(pack_examples([([7, 8, 9], [-100, 8, 9]), ([5, 6], [5, 6])], seq_len=8, pad_id=0))
    batch = PackedCollator(pad_token_id=0, count_tokens=True)(rows)
    assert batch["input_ids"].tolist() == [[7, 8, 9, 5, 6]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[-100, 8, 9, -100, 6]]
    assert int(batch["num_tokens"]) == 5


def test_bf16_checkpointing_eval_and_tokenizer_run(tmp_path):
    from spire.testing import tiny_llama

    model = tiny_llama(tmp_path / "base", tokenizer="bpe", vocab_size=300)
    data = _save_dataset(tmp_path / "data", _packed_rows(8, vocab=250))
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, f"model.path={model}", f"data.train={data}", f"data.eval={data}", "bf16=true",
                  "model.gradient_checkpointing=true", "max_steps=2", "save_steps=0", "eval_steps=2")
    result = train(cfg)
    losses = [line["loss"] for line in result.log_history if "loss" in line]
    evals = [line["eval_loss"] for line in result.log_history if "eval_loss" in line]
    assert len(losses) == 2 and all(0 < loss < 20 for loss in losses)
    assert evals and 0 < evals[-1] < 20
    assert (out / "tokenizer.json").is_file() and (out / "config.yaml").is_file()


def test_packed_loss_equals_per_example_loss(tmp_path):
    """Same documents, packed into one row or padded one per row: the same loss (labels and masks agree)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(_tiny_model(tmp_path / "m"))).eval()
    docs = [([11, 12, 13, 14, 15], [-100, -100, 13, 14, 15]), ([21, 22, 23], [21, 22, 23]), ([31, 32, 33, 34], [-100, 32, 33, 34])]
    packed = {"input_ids": sum((d for d, _ in docs), []), "labels": sum((lab for _, lab in docs), []),
              "position_ids": sum((list(range(len(d))) for d, _ in docs), [])}
    singles = [{"input_ids": d, "labels": lab} for d, lab in docs]
    collate = PackedCollator(pad_token_id=0)
    with torch.no_grad():
        one_row = model(**collate([packed])).loss
        per_example = model(**collate(singles)).loss
    torch.testing.assert_close(one_row, per_example, atol=1e-5, rtol=1e-5)


def test_trained_model_carries_the_extractor_of_its_base(tmp_path):
    from spire.training.recipe import _carry_extractor

    base, out = tmp_path / "base", tmp_path / "out"
    (base / "extractor" / "kmeans").mkdir(parents=True)
    (base / "extractor" / "extractor.json").write_text('{"format": "spire-unit-extractor"}')
    (base / "extractor" / "kmeans" / "kmeans.json").write_text("{}")
    out.mkdir()
    _carry_extractor(base, out)
    assert (out / "extractor" / "extractor.json").read_text() == '{"format": "spire-unit-extractor"}'
    assert (out / "extractor" / "kmeans" / "kmeans.json").exists()
    _carry_extractor(tmp_path / "no_extractor", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_replay_mixes_in_rows_of_an_earlier_stage(workdir, tmp_path):
    from spire.training.datasets import load_datasets

    replay = _save_dataset(tmp_path / "replay", _packed_rows(30, seed=5))
    train_ds, _ = load_datasets(_config(workdir, tmp_path / "o", f"data.replay={replay}", "data.replay_fraction=0.5"))
    own = [list(r) for r in _packed_rows(24)["input_ids"]]
    earlier = [list(r) for r in _packed_rows(30, seed=5)["input_ids"]]
    rows = [list(r) for r in train_ds["input_ids"]]
    assert len(rows) == 24 + 12 and rows[:24] == own
    mixed = rows[24:]
    assert all(r in earlier for r in mixed) and len({tuple(r) for r in mixed}) == 12  # drawn without repeats


@pytest.mark.parametrize(("rows", "fraction", "key"), [
    (30, 2.0, "data.replay_fraction"), (30, 0.0, "data.replay_fraction"), (30, 0.5, "data.replay"),
])
def test_replay_settings_are_checked(workdir, tmp_path, rows, fraction, key):
    from spire.training.datasets import load_datasets

    columns = _packed_rows(rows, seed=5)
    if key == "data.replay":
        del columns["position_ids"]
    replay = _save_dataset(tmp_path / "replay", columns)
    cfg = _config(workdir, tmp_path / "o", f"data.replay={replay}", f"data.replay_fraction={fraction}")
    with pytest.raises(ConfigError) as info:
        cfg.validate()
        load_datasets(cfg)
    assert info.value.key == key
