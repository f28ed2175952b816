"""What a run saves is complete and finite: a checkpoint is a resume point only once its marker
matches its files (a real `spire train` process killed in the middle of a save resumes from the
previous complete one and ends equal to an uninterrupted run), and a loss or weight that turns
nan/inf stops the run with an error before anything of it is saved."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from spire.config import resolve_config
from spire.training.checkpoints import (
    MARKER,
    CompleteCheckpointCallback,
    checkpoint_problem,
    explicit_checkpoint,
    resume_checkpoint,
    write_marker,
)
from spire.training.guards import FiniteGuard, NonFiniteError
from spire.training.recipe import TrainConfig, train

ROOT = Path(__file__).resolve().parents[3]
STEPS = 6


def _tiny_model(path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(str(path))
    return path


def _dataset(path: Path, rows: int = 24) -> Path:
    from datasets import Dataset

    rng = random.Random(0)
    ids = [[rng.randrange(3, 300) for _ in range(rng.randint(8, 40))] for _ in range(rows)]
    Dataset.from_dict({"input_ids": ids, "labels": ids, "position_ids": [list(range(len(r))) for r in ids]}).save_to_disk(
        str(path))
    return path


def _args(work: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--config", str(ROOT / "configs/train/mini_it.yaml"), f"model.path={work / 'model'}",
        f"data.train={work / 'data'}", f"output_dir={out}", "data.seq_len=48", "micro_batch=2", "grad_accum=1",
        f"max_steps={STEPS}", "save_steps=2", "logging_steps=1", "optim.lr=1e-3", "optim.warmup_steps=1", *extra,
    ]


def _config(work: Path, out: Path, *extra: str) -> TrainConfig:
    return resolve_config(TrainConfig, _args(work, out)[1], _args(work, out, *extra)[2:])


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    _tiny_model(root / "model")
    _dataset(root / "data")
    train(_config(root, root / "straight", "save_steps=0"))  # the reference: never interrupted
    return root


# A real `spire train` process that SIGKILLs itself at a named point of a checkpoint save.
KILLER = textwrap.dedent('''
    import os, signal, sys

    point, step = sys.argv[1], int(sys.argv[2])

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "optimizer":  # half of optimizer.pt written: the model file is there, the rest is not
        import io
        import torch
        original_save = torch.save

        def save(obj, f, *args, **kwargs):
            if str(f).endswith(f"checkpoint-{step}/optimizer.pt"):
                buffer = io.BytesIO()
                original_save(obj, buffer, *args, **kwargs)
                with open(f, "wb") as handle:
                    handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                die()
            return original_save(obj, f, *args, **kwargs)

        torch.save = save
    elif point == "marker":  # the Trainer's save is over, the marker not yet written
        import spire.training.checkpoints as checkpoints
        original_marker = checkpoints.write_marker

        def write_marker(folder, at):
            if at == step:
                die()
            return original_marker(folder, at)

        checkpoints.write_marker = write_marker
    elif point == "rotation":  # deleting the checkpoint that fell out of save_total_limit
        import shutil
        original_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            if "checkpoint-" in str(path):
                first = sorted(p for p in os.listdir(path) if os.path.isfile(os.path.join(path, p)))[0]
                os.remove(os.path.join(path, first))
                die()
            return original_rmtree(path, *args, **kwargs)

        shutil.rmtree = rmtree

    from spire.cli import main

    sys.exit(main(sys.argv[3:]))
''')


def _spire(tmp_path: Path, argv: list[str], point: str = "none", step: int = 0) -> subprocess.Popen:
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "default"}
    return subprocess.Popen([sys.executable, str(script), point, str(step), "train", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_equal_to_straight(work: Path, out: Path) -> None:
    reference = _weights(work / "straight")
    for name, value in _weights(out).items():
        torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize(("point", "limit", "resume_from", "moved"), [
    ("optimizer", "1", "checkpoint-2", "checkpoint-4"),    # killed while writing checkpoint-4's optimizer state
    ("marker", "1", "checkpoint-2", "checkpoint-4"),       # killed after the Trainer's save, before the marker
    ("rotation", "1", "checkpoint-4", "checkpoint-2"),     # killed while deleting checkpoint-2 (limit 1)
])
def test_a_kill_during_a_save_never_becomes_the_resume_point(work, tmp_path, point, limit, resume_from, moved):
    from transformers.trainer_utils import get_last_checkpoint

    out = tmp_path / "out"
    run = _spire(tmp_path, _args(work, out, f"save_total_limit={limit}"), point, 4)
    _, err = run.communicate(timeout=300)
    assert run.returncode == -signal.SIGKILL, err[-2000:]
    assert checkpoint_problem(out / moved) is not None
    if point != "rotation":
        # What resume=auto used before: the newest folder, whatever state it is in.
        assert get_last_checkpoint(str(out)).endswith("checkpoint-4")

    cfg = _config(work, out, f"save_total_limit={limit}", "resume=auto")
    with pytest.warns(UserWarning, match=f"{moved} is not a complete checkpoint.*Resuming from \\S*{resume_from}\\."):
        result = train(cfg)
    assert (out / "partial" / moved).is_dir(), "kept for inspection, out of the way"
    assert result.global_step == STEPS
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [line["step"] for line in lines if "loss" in line]
    assert steps == list(range(1, STEPS + 1)), "one loss curve, resumed after the complete checkpoint's step"
    _assert_equal_to_straight(work, out)
    assert [p.name for p in out.glob("checkpoint-*")] == [f"checkpoint-{STEPS}"]
    assert checkpoint_problem(out / f"checkpoint-{STEPS}") is None


def test_a_run_killed_at_a_random_time_resumes_and_finishes(work, tmp_path):
    seed = int.from_bytes(os.urandom(4), "little")
    delay = random.Random(seed).uniform(0.0, 2.0)
    out = tmp_path / "out"
    argv = _args(work, out, "save_steps=1", "save_total_limit=2")  # saving most of the time: kills land in saves
    run = _spire(tmp_path, argv)
    deadline = time.monotonic() + 240
    while not (out / "train_log.jsonl").is_file() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    state = sorted(p.name for p in out.iterdir()) if out.is_dir() else []

    resumed = _spire(tmp_path, [*argv, "resume=auto"])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, f"seed {seed}, delay {delay:.2f}s, left {state}: {err[-3000:]}"
    _assert_equal_to_straight(work, out)
    complete = [p for p in out.glob("checkpoint-*") if checkpoint_problem(p) is None]
    assert len(complete) == 2 and (out / f"checkpoint-{STEPS}") in complete, f"seed {seed}"


def test_marker_lists_every_file_and_catches_changes(tmp_path):
    folder = tmp_path / "checkpoint-3"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"1234")
    (folder / "sub" / "shard.bin").write_bytes(b"12")
    assert "no spire-complete.json" in checkpoint_problem(folder)
    write_marker(folder, 3)
    record = json.loads((folder / MARKER).read_text())
    assert record == {"step": 3, "files": {"model.safetensors": 4, "sub/shard.bin": 2}}
    assert checkpoint_problem(folder) is None
    (folder / "model.safetensors").write_bytes(b"12")  # truncated by a later, interrupted save
    assert "model.safetensors has 2 bytes" in checkpoint_problem(folder)
    (folder / "sub" / "shard.bin").unlink()
    (folder / "model.safetensors").write_bytes(b"1234")
    assert "sub/shard.bin is missing" in checkpoint_problem(folder)
    (folder / MARKER).write_text("{not json")
    assert "cannot be read" in checkpoint_problem(folder)


def _checkpoint(out: Path, step: int, complete: bool = True) -> Path:
    folder = out / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    if complete:
        write_marker(folder, step)
    return folder


def test_resume_picks_the_newest_complete_checkpoint_and_moves_the_others_aside(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4)
    _checkpoint(tmp_path, 6, complete=False)
    _checkpoint(tmp_path / "partial", 6, complete=False)  # left by an earlier interruption
    with pytest.warns(UserWarning, match="checkpoint-6 is not a complete checkpoint"):
        assert resume_checkpoint(tmp_path, "auto") == str(tmp_path / "checkpoint-4")
    assert (tmp_path / "partial" / "checkpoint-6.1").is_dir() and (tmp_path / "checkpoint-2").is_dir()
    _checkpoint(tmp_path, 8, complete=False)
    with pytest.warns(UserWarning):
        assert resume_checkpoint(tmp_path, "latest", move_partials=False) == str(tmp_path / "checkpoint-4")
    assert (tmp_path / "checkpoint-8").is_dir(), "only rank 0 moves folders"


def test_no_complete_checkpoint_auto_starts_afresh_latest_refuses(tmp_path):
    _checkpoint(tmp_path, 2, complete=False)
    with pytest.warns(UserWarning, match="Resuming from the start"):
        assert resume_checkpoint(tmp_path, "auto", move_partials=False) is None
    with pytest.warns(UserWarning), pytest.raises(Exception, match="complete checkpoint"):
        resume_checkpoint(tmp_path, "latest")


def test_an_explicit_checkpoint_is_refused_when_its_marker_disagrees(tmp_path):
    from spire.errors import ConfigError

    folder = _checkpoint(tmp_path, 2)
    assert explicit_checkpoint(folder) == str(folder)
    (folder / "trainer_state.json").write_text("{}   ")
    with pytest.raises(ConfigError, match="trainer_state.json has 5 bytes"):
        explicit_checkpoint(folder)
    legacy = _checkpoint(tmp_path, 4, complete=False)
    with pytest.warns(UserWarning, match="named explicitly"):
        assert explicit_checkpoint(legacy) == str(legacy)
    with pytest.raises(ConfigError):
        explicit_checkpoint(tmp_path / "nothing")


def test_rotation_keeps_the_newest_complete_checkpoints(work, tmp_path):
    out = tmp_path / "out"
    train(_config(work, out, "save_steps=1", "save_total_limit=2"))
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [f"checkpoint-{STEPS - 1}", f"checkpoint-{STEPS}"]
    assert all(checkpoint_problem(p) is None for p in out.glob("checkpoint-*"))
    assert CompleteCheckpointCallback(None).save_total_limit is None


class _Poison:
    """Writes nan into one weight after the optimizer step of `step` (a broken batch's overflow)."""

    def __new__(cls, step):
        from transformers import TrainerCallback

        class Poison(TrainerCallback):
            def on_optimizer_step(self, args, state, control, model=None, **kwargs):
                if state.global_step + 1 == step:
                    with torch.no_grad():
                        model.model.layers[0].mlp.up_proj.weight[0, 0] = math.nan

        return Poison()


def test_nonfinite_weights_stop_the_run_before_the_checkpoint_is_saved(work, tmp_path):
    out = tmp_path / "out"
    cfg = _config(work, out, "logging_steps=100", "save_total_limit=null")
    with pytest.raises(NonFiniteError, match=r"step 4: the weights must be finite, but model\.\S+ "):
        train(cfg, callbacks=[_Poison(3)])
    assert checkpoint_problem(out / "checkpoint-2") is None
    assert not (out / "checkpoint-4").exists() and not (out / "model.safetensors").exists()


def test_a_huge_learning_rate_makes_spire_train_exit_nonzero_and_save_nothing(work, tmp_path, capsys):
    from spire.cli import main

    out = tmp_path / "out"
    code = main(["train", *_args(work, out, "optim.lr=1e30", "optim.warmup_steps=0", "save_steps=1")])
    assert code == 2
    assert "must be finite" in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()
    for folder in out.glob("checkpoint-*"):  # the checkpoints that were saved hold finite weights
        assert all(torch.isfinite(v).all() for v in _weights(folder).values()), folder


def test_guard_checks_the_logged_loss_and_grad_norm():
    from types import SimpleNamespace

    guard = FiniteGuard()
    state, args = SimpleNamespace(global_step=7), SimpleNamespace(learning_rate=1e-3)
    guard.on_log(args, state, None, logs={"loss": 2.5, "grad_norm": 1.0})
    for logs in ({"loss": math.nan}, {"loss": 1.0, "grad_norm": math.inf}):
        with pytest.raises(NonFiniteError, match="step 7: the training"):
            guard.on_log(args, state, None, logs=logs)
