"""A tiny extended model with its extractor, trained for a few seconds to answer 8 prompts, and
its exports. Random weights give near-tied logits, where any rounding flips a greedy choice;
a model that has learned its answers has clear winners, as a trained SPIRE model does."""

import shutil

import numpy as np
import pytest

NUM_UNITS = 24
LEARNED = 8


def _extractor():
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    featurizer = MfccFeaturizer()
    waves = [tone_speech(1.5, seed=s) for s in range(4)]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, NUM_UNITS, seed=0, provenance=featurizer.provenance())
    return UnitExtractor(featurizer, quantizer)


def _learned_chats():
    from spire import prompts
    from spire.testing import fake_unit_rows

    rows = fake_unit_rows(LEARNED, num_units=NUM_UNITS, seed=1, max_units=12)
    chats = [prompts.chat([("user", prompts.asr_prompt(r["units"]))], add_generation_prompt=True)
             for r in rows]
    return chats, [r["text"] for r in rows]


def _train(model, tokenizer, steps: int = 120) -> None:
    import torch

    chats, answers = _learned_chats()
    batch = tokenizer([c + a + "<|im_end|>" for c, a in zip(chats, answers)],
                      return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


@pytest.fixture(scope="session")
def learned():
    """(chat prompts, answers) the source model was trained on."""
    return _learned_chats()


@pytest.fixture(scope="session")
def num_units():
    return NUM_UNITS


@pytest.fixture(scope="session")
def source_model(tmp_path_factory):
    """A trained tiny model folder with `extractor/` beside it (read-only for tests)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model

    root = tmp_path_factory.mktemp("export_source")
    extractor = _extractor()
    base = tiny_llama(root / "base")
    extended = extend_model(
        base, root / "extended", num_units=NUM_UNITS, extractor_provenance=extractor.provenance()
    ).out_dir
    tokenizer = AutoTokenizer.from_pretrained(extended)
    model = AutoModelForCausalLM.from_pretrained(extended)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest on a shared machine
    torch.manual_seed(0)
    _train(model, tokenizer)
    torch.set_num_threads(threads)
    out = root / "model"
    shutil.copytree(extended, out)
    model.save_pretrained(out)
    extractor.save_pretrained(out / "extractor")
    return out


@pytest.fixture(scope="session")
def exports(source_model, tmp_path_factory):
    """quant -> exported folder, for float32 and int8."""
    from spire.export import export_model

    root = tmp_path_factory.mktemp("exports")
    return {q: export_model(source_model, root / q, quant=q).out_dir for q in ("float32", "int8")}
