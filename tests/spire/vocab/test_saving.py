"""Saved model folders speak Hugging Face: spire's chat template inside, and transformers 4.x
reads them as 5.x does (checked in a separate 4.x install when there is one, else file by file)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spire import prompts
from spire.vocab.saving import (
    compatible_rope,
    compatible_tokenizer_config,
    render_chat,
    template_difference,
    write_compatible_files,
)

UNITS = "".join(chr(0xF0000 + i) for i in (3, 7, 7, 1))
#: A Python with transformers 4.x (tokenizers, sentencepiece; no torch needed), e.g. made with
#: python -m venv /tmp/tf4venv && /tmp/tf4venv/bin/pip install --no-deps 'transformers==4.57.*' \
#:   'tokenizers<0.23' sentencepiece protobuf 'huggingface_hub<1.0' numpy pyyaml regex requests \
#:   safetensors filelock packaging tqdm jinja2 markupsafe fsspec typing_extensions urllib3 idna certifi charset_normalizer
TF4_PYTHON = Path(os.environ.get("SPIRE_TRANSFORMERS4_PYTHON", "/tmp/tf4venv/bin/python"))
PROBES = [
    f"Speech: {UNITS}\nEnglish: the voice",
    prompts.chat([("user", prompts.asr_prompt(UNITS))], add_generation_prompt=True),
    f"{UNITS[0]} x <PAD><CLS> 12 Straße über",
    " leading space",
]


def _conversations():
    """Today's prompts, as spire.prompts renders them: ASR, ST, MT and a multi-turn ST."""
    return {
        "asr": [("user", prompts.asr_prompt(UNITS))],
        "st": [("user", prompts.st_prompt(UNITS, "de"))],
        "mt": [("user", prompts.mt_prompt("Guten Morgen", "de", "en"))],
        "multi-turn": [
            ("user", prompts.asr_prompt(UNITS)),
            ("assistant", "the voice"),
            ("user", prompts.st_follow_up_prompt("fr")),
            ("assistant", "la voix"),
        ],
    }


def test_chat_template_renders_todays_prompts(extended_tokenizer, tiny_extended):
    assert extended_tokenizer.chat_template == prompts.CHAT_TEMPLATE
    for name, messages in _conversations().items():
        conversation = [{"role": r, "content": c} for r, c in messages]
        for generation in (True, False):
            expected = prompts.chat(messages, add_generation_prompt=generation)
            rendered = extended_tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=generation
            )
            assert rendered == expected, (name, generation)
            assert render_chat(extended_tokenizer, messages, add_generation_prompt=generation) == expected
    config = json.loads((tiny_extended / "tokenizer_config.json").read_text())
    assert config["chat_template"] == prompts.CHAT_TEMPLATE  # 4.x and other readers of the config
    assert (tiny_extended / "chat_template.jinja").read_text() == prompts.CHAT_TEMPLATE
    assert template_difference(extended_tokenizer) is None


def test_a_foreign_template_is_followed_with_a_warning(tiny_extended):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    assert "prompts follow the tokenizer's template" in template_difference(tokenizer)
    assert render_chat(tokenizer, [("user", "hi")]) == "[user] hi\n"
    tokenizer.chat_template = None
    assert render_chat(tokenizer, [("user", "hi")]) == prompts.chat([("user", "hi")])


def test_no_template_without_the_chat_specials(tmp_path):
    from transformers import AutoTokenizer

    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model

    base = tiny_llama(tmp_path / "base")
    out = extend_model(base, tmp_path / "plain", num_units=5, chat_specials=False).out_dir
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert not tokenizer.chat_template and not (out / "chat_template.jinja").exists()


def test_saved_files_hold_what_transformers_4_reads(tiny_base, tiny_extended, tokenizer_kind):
    config = json.loads((tiny_extended / "tokenizer_config.json").read_text())
    assert not isinstance(config.get("extra_special_tokens"), list)  # 4.x reads a dict there
    assert config["tokenizer_class"] in ("LlamaTokenizer", "PreTrainedTokenizerFast")
    added = {t["id"]: t for t in json.loads((tiny_extended / "tokenizer.json").read_text())["added_tokens"]}
    decoder = {int(i): t for i, t in config["added_tokens_decoder"].items()}
    assert decoder.keys() == added.keys()
    assert all(decoder[i]["content"] == added[i]["content"] and decoder[i]["special"] == added[i]["special"]
               for i in added)
    if tokenizer_kind == "sentencepiece":  # the base's SentencePiece model travels with it
        assert (tiny_extended / "tokenizer.model").read_bytes() == (tiny_base / "tokenizer.model").read_bytes()
    else:
        assert not (tiny_extended / "tokenizer.model").exists()


def test_compatible_files_change_nothing_transformers_5_sees(tiny_extended, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    plain = tmp_path / "plain"
    shutil.copytree(tiny_extended, plain)
    for name in ("tokenizer.model", "chat_template.jinja"):
        (plain / name).unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    for key in ("added_tokens_decoder", "chat_template"):
        config.pop(key, None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    before = AutoTokenizer.from_pretrained(plain)
    rope_before = AutoConfig.from_pretrained(plain).rope_parameters
    changed = write_compatible_files(plain, source_dir=tiny_extended)
    assert "tokenizer_config.json" in changed
    after = AutoTokenizer.from_pretrained(plain)
    assert len(after) == len(before) and after.all_special_tokens == before.all_special_tokens
    assert [after(p)["input_ids"] for p in PROBES] == [before(p)["input_ids"] for p in PROBES]
    assert AutoConfig.from_pretrained(plain).rope_parameters == rope_before
    assert write_compatible_files(plain, source_dir=tiny_extended) == []  # already compatible


def test_legacy_rope_keys_read_the_same_in_transformers_5(tmp_path):
    from transformers import AutoConfig, LlamaConfig

    rope = {"rope_theta": 500000.0, "rope_type": "linear", "factor": 2.0}
    LlamaConfig(hidden_size=8, num_attention_heads=2, rope_parameters=rope).save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    added = compatible_rope(data)
    assert added == {"rope_theta": 500000.0, "rope_scaling": {"rope_type": "linear", "factor": 2.0}}
    before = AutoConfig.from_pretrained(tmp_path).rope_parameters
    (tmp_path / "config.json").write_text(json.dumps({**data, **added}))
    assert AutoConfig.from_pretrained(tmp_path).rope_parameters == before
    assert compatible_tokenizer_config({"extra_special_tokens": ["<x>"]}, None) == {
        "additional_special_tokens": ["<x>"]
    }


_READ_WITH_4X = """
import json, sys
from transformers import AutoConfig, AutoTokenizer
folder, probes = sys.argv[1], json.loads(sys.argv[2])
tok = AutoTokenizer.from_pretrained(folder)
conv = [{"role": "user", "content": "Speech: x\\nEnglish:"}]
print(json.dumps({"version": __import__("transformers").__version__, "len": len(tok),
    "ids": [tok(p)["input_ids"] for p in probes], "specials": sorted(tok.all_special_tokens),
    "chat": tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True) if tok.chat_template else None,
    "rope_theta": AutoConfig.from_pretrained(folder).rope_theta}))
"""


@pytest.mark.skipif(not TF4_PYTHON.is_file(), reason=f"no transformers 4.x install at {TF4_PYTHON} "
                    "(set SPIRE_TRANSFORMERS4_PYTHON); the file-level checks above still run")
def test_transformers_4_loads_the_extended_folder(tiny_extended, extended_tokenizer):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    done = subprocess.run([str(TF4_PYTHON), "-c", _READ_WITH_4X, str(tiny_extended), json.dumps(PROBES)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"].startswith("4.")
    assert seen["len"] == len(extended_tokenizer)
    assert seen["ids"] == [extended_tokenizer(p)["input_ids"] for p in PROBES]
    assert seen["specials"] == sorted(extended_tokenizer.all_special_tokens)
    assert seen["chat"] == prompts.chat([("user", "Speech: x\nEnglish:")], add_generation_prompt=True)
    assert seen["rope_theta"] == json.loads((tiny_extended / "config.json").read_text())["rope_parameters"]["rope_theta"]


def test_training_saves_the_template_and_the_4x_files(tiny_spire_model, tmp_path):
    import datasets

    from spire.config import resolve_config
    from spire.training.recipe import TrainConfig, train

    rows = {"input_ids": [[1, 5, 6, 7, 8, 9]] * 4, "labels": [[1, 5, 6, 7, 8, 9]] * 4,
            "position_ids": [list(range(6))] * 4}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "data"))
    base = tmp_path / "start"
    shutil.copytree(tiny_spire_model, base)
    (base / "chat_template.jinja").unlink()  # a model extended before templates were saved
    config = json.loads((base / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(config))
    cfg = resolve_config(TrainConfig, None, {
        "stage": "it", "output_dir": str(tmp_path / "run"), "model": {"path": str(base)},
        "data": {"train": str(tmp_path / "data"), "seq_len": 8}, "micro_batch": 2, "grad_accum": 1,
        "max_steps": 1, "bf16": False, "use_cpu": True, "optim": {"warmup_steps": 0},
        "logging_steps": 1, "save_steps": 0})
    train(cfg)
    out = tmp_path / "run"
    saved = json.loads((out / "tokenizer_config.json").read_text())
    assert saved["chat_template"] == prompts.CHAT_TEMPLATE and "added_tokens_decoder" in saved
    assert (out / "tokenizer.model").read_bytes() == (base / "tokenizer.model").read_bytes()

