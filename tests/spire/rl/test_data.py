"""RL prompts are the IT prompts: the IT conversation without its answer, rendered with the model's
chat template, tokenized to the same ids as the IT example's start and as inference's prompt."""

import json

import pytest

from spire.data.instructions import encode_chat, mt_examples, speech_examples
from spire.data.output import BuildSummary
from spire.data.sources import ParallelSource, SpeechSource
from spire.prompts import IM_END
from spire.rl.config import PromptConfig
from spire.rl.data import prompt_dataset, rl_prompts
from spire.testing import fake_unit_rows

NUM_UNITS = 200  # tests/spire/conftest.py's tiny_extended


@pytest.fixture
def manifest(tmp_path):
    rows = fake_unit_rows(6, num_units=NUM_UNITS, max_units=20)
    rows[2]["text"] = "uh hmm"  # normalises to nothing: no WER, so no ASR prompt
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _config(path, **extra):
    return PromptConfig(speech=[SpeechSource(path=str(path))], tasks=["asr", "st"], st_languages=["de", "fr"],
                        parallel=[ParallelSource(path=str(path), source_lang="en", target_lang="de",
                                                 source_field="text")], **extra)


def _it_examples(config, model_dir):
    from spire.data.instructions import ItDataConfig
    from spire.data.sources import read_records, vocab_info

    it = ItDataConfig(tokenizer=str(model_dir), speech=config.speech, tasks=config.tasks,
                      st_languages=config.st_languages, parallel=config.parallel)
    summary = BuildSummary(kind="it", seq_len=4096, packed=False)
    examples = list(speech_examples(read_records(config.speech[0].path), source=config.speech[0], config=it,
                                    vocab=vocab_info(model_dir), summary=summary))
    return examples + list(mt_examples(read_records(config.parallel[0].path), source=config.parallel[0],
                                       summary=summary))


def test_prompts_are_the_it_prompts_through_the_chat_template(tiny_extended, extended_tokenizer, manifest):
    config = _config(manifest)
    dataset = prompt_dataset(config, tiny_extended, extended_tokenizer)
    examples = {(e.id, e.task): e for e in _it_examples(config, tiny_extended)}
    assert len(dataset) == len(examples) - 1  # the ASR prompt of the filler row is left out
    for row in dataset:
        example = examples[(row["id"], row["task"])]
        it_ids, _ = encode_chat([example], extended_tokenizer)[0]
        prompt_ids = extended_tokenizer(row["prompt"])["input_ids"]  # what TRL does with a text prompt
        # The IT example is exactly this prompt followed by the answer and its end of turn.
        assert it_ids[: len(prompt_ids)] == prompt_ids
        rendered = extended_tokenizer.apply_chat_template(
            [{"role": r, "content": c} for r, c in example.messages], tokenize=False)
        assert rendered == row["prompt"] + row["reference"] + IM_END + "\n"
        assert row["prompt"].endswith("<|im_start|>assistant\n")
        assert row["reference"] == example.messages[-1][1]


def test_each_prompt_knows_its_task_kind_and_language(tiny_extended, manifest):
    prompts = rl_prompts(_config(manifest), tiny_extended)
    kinds = {(p.task, p.kind, p.language) for p in prompts}
    assert kinds == {("asr", "asr", "en"), ("st_de", "st", "de"), ("st_fr", "st", "fr"), ("mt_en_de", "mt", "de")}
    assert sum(p.kind == "asr" for p in prompts) == 5 and sum(p.kind == "st" for p in prompts) == 12
    assert all(p.messages[-1][0] == "user" for p in prompts)
    st = next(p for p in prompts if p.task == "st_fr")
    assert st.messages[0][1].endswith("\nFrench:") and st.reference.startswith("[fr] ")


def test_max_prompts_draws_a_seeded_subset(tiny_extended, manifest):
    everything = rl_prompts(_config(manifest), tiny_extended)
    drawn = rl_prompts(_config(manifest, max_prompts=7), tiny_extended, seed=3)
    assert len(drawn) == 7 and set(drawn) < set(everything)
    assert drawn == rl_prompts(_config(manifest, max_prompts=7), tiny_extended, seed=3)
    assert drawn != rl_prompts(_config(manifest, max_prompts=7), tiny_extended, seed=4)


def test_no_prompt_at_all_is_an_error(tiny_extended, extended_tokenizer, tmp_path):
    from spire.errors import DataError

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="must give at least one prompt"):
        prompt_dataset(_config(empty), tiny_extended, extended_tokenizer)
