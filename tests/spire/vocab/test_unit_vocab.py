"""`UnitVocab` (typed `config.spire`) and the extractor pairing at extension time."""

import json
import shutil

import numpy as np
import pytest

from spire.cli import main as spire_main
from spire.errors import ConfigError, VocabularyError
from spire.vocab.metadata import UnitVocab

NUM_UNITS = 200  # as in conftest.py


def _extractor(tmp_path, k, *, provenance=True, name="extractor"):
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    features = np.random.default_rng(0).standard_normal((900, 39)).astype("float32")
    featurizer = MfccFeaturizer()
    quantizer = KMeansQuantizer.fit(
        features, k, seed=0, provenance=featurizer.provenance() if provenance else None
    )
    extractor = UnitExtractor(featurizer, quantizer)
    extractor.save_pretrained(tmp_path / name)
    return tmp_path / name


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from spire.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("base"), tokenizer="bpe")


def test_round_trip_and_errors_name_the_key():
    vocab = UnitVocab(num_units=20, first_unit_id=517, first_new_id=512, init="mean")
    assert UnitVocab.from_dict(vocab.to_dict()) == vocab
    assert UnitVocab.from_dict({"num_units": 20, "first_unit_id": 517}).first_new_id == 517
    bad = [
        ({"num_units": "many", "first_unit_id": 5}, "config.spire.num_units"),
        ({"num_units": 5, "first_unit_id": 5, "unit_format": "morse"}, "config.spire.unit_format"),
        ({"num_units": 5}, "config.spire.first_unit_id"),
        ({"num_units": 5, "first_unit_id": 5, "first_new_id": 9}, "config.spire.first_new_id"),
        ({"num_units": 5, "first_unit_id": 5, "extractor": "x"}, "config.spire.extractor"),
        ({"num_units": 5, "first_unit_id": 5, "colour": 1}, "colour"),
    ]
    for record, key in bad:
        with pytest.raises(VocabularyError, match=key):
            UnitVocab.from_dict(record)


def test_extended_folder_is_read_through_unit_vocab(tiny_extended, extended_tokenizer, tmp_path):
    from spire.data.sources import vocab_info

    vocab = UnitVocab.load(tiny_extended)
    assert vocab_info(tiny_extended) == vocab and not vocab.detected
    assert vocab.num_units == NUM_UNITS and vocab.first_new_id < vocab.first_unit_id
    vocab.check_tokenizer(extended_tokenizer)
    # A malformed record is refused by every reader, naming the key (was read as it was).
    broken = tmp_path / "broken"
    shutil.copytree(tiny_extended, broken)
    config = json.loads((broken / "config.json").read_text())
    config["spire"]["unit_format"] = "morse"
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="config.spire.unit_format"):
        vocab_info(broken)
    wrong = UnitVocab(num_units=NUM_UNITS, first_unit_id=vocab.first_unit_id + 1,
                      first_new_id=vocab.first_new_id)
    with pytest.raises(VocabularyError, match="token id"):
        wrong.check_tokenizer(extended_tokenizer)


def test_trainer_reads_first_new_id_through_unit_vocab(tiny_extended, monkeypatch):
    from transformers import AutoConfig

    import spire.vocab.embeddings as embeddings
    from spire.training.trainer import _freeze_old_weights

    class _Model:
        config = AutoConfig.from_pretrained(tiny_extended)

    calls = []
    monkeypatch.setattr(embeddings, "freeze_all_but_new_embeddings", lambda m, first: calls.append(first))
    _freeze_old_weights(_Model(), None)
    assert calls == [UnitVocab.load(tiny_extended).first_new_id]
    _Model.config.spire = {**_Model.config.spire, "num_units": 0}
    with pytest.raises(ConfigError, match="config.spire.num_units"):
        _freeze_old_weights(_Model(), None)


def test_extractor_json_file_still_checks_k(base, tmp_path):
    folder = _extractor(tmp_path, 20)
    args = ["extend", "--model", str(base), "--num-units", "50"]
    # The saved extractor.json, in its folder or copied away: k=20 into 50 units is refused.
    loose = tmp_path / "loose.json"
    shutil.copy(folder / "extractor.json", loose)
    for given in (folder / "extractor.json", loose):
        assert spire_main(args + ["--extractor", str(given), "--out", str(tmp_path / "o")]) == 2
        assert not (tmp_path / "o").exists()
    ok = ["extend", "--model", str(base), "--num-units", "20", "--extractor"]
    assert spire_main(ok + [str(folder / "extractor.json"), "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "extractor" / "kmeans").is_dir()  # the folder came along


def test_stale_extractor_is_refused_or_replaced_whole(base, tmp_path):
    from spire.vocab.extend import extend_model

    out = tmp_path / "out"
    (out / "extractor").mkdir(parents=True)
    (out / "extractor" / "extractor.json").write_text("{}")
    with pytest.raises(VocabularyError, match="must not hold an extractor"):
        extend_model(base, out, num_units=20)
    (out / "extractor" / "stale.bin").write_text("old")
    extend_model(base, out, num_units=20, extractor_dir=_extractor(tmp_path, 20))
    assert not (out / "extractor" / "stale.bin").exists()
    assert json.loads((out / "extractor" / "extractor.json").read_text())["format"]


def test_trained_folder_gets_the_extractor_replaced_whole(tmp_path):
    from spire.training.recipe import _carry_extractor

    model = tmp_path / "model"
    folder = _extractor(model, 10)
    assert folder == model / "extractor"
    (tmp_path / "trained" / "extractor").mkdir(parents=True)
    (tmp_path / "trained" / "extractor" / "stale.bin").write_text("old")
    _carry_extractor(model, tmp_path / "trained")
    copied = sorted(p.name for p in (tmp_path / "trained" / "extractor").iterdir())
    assert copied == sorted(p.name for p in folder.iterdir())


def test_missing_model_and_bad_padding_are_named(base, tmp_path, capsys):
    from spire.vocab.extend import extend_model

    missing = tmp_path / "nowhere"
    code = spire_main(["extend", "--model", str(missing), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and str(missing) in err and "model_dir" in err and "Repo id" not in err
    for bad in (0, -64):
        with pytest.raises(VocabularyError, match="pad_to_multiple_of"):
            extend_model(base, tmp_path / "p", num_units=20, pad_to_multiple_of=bad)


def test_kmeans_without_provenance_needs_a_recorded_opt_in(base, tmp_path):
    from spire.vocab.extend import extend_model

    folder = _extractor(tmp_path, 20, provenance=False)
    with pytest.raises(VocabularyError, match="no provenance.*check_compatible=False"):
        extend_model(base, tmp_path / "refused", num_units=20, extractor_dir=folder)
    with pytest.warns(UserWarning, match="no provenance"):
        result = extend_model(
            base, tmp_path / "ok", num_units=20, extractor_dir=folder, check_compatible=False
        )
    recorded = json.loads((tmp_path / "ok" / "config.json").read_text())["spire"]
    assert "no provenance" in recorded["kmeans_unverified"]
    assert UnitVocab.load(result.out_dir).kmeans_unverified == recorded["kmeans_unverified"]
    args = ["extend", "--model", str(base), "--num-units", "20", "--extractor", str(folder)]
    assert spire_main(args + ["--out", str(tmp_path / "cli")]) == 2
    with pytest.warns(UserWarning):
        assert spire_main(args + ["--out", str(tmp_path / "cli"), "--no-check-compatible"]) == 0


def test_forced_extractor_is_recorded_and_loads_only_with_the_flag(tmp_path):
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.errors import QuantizerMismatchError

    features = np.random.default_rng(0).standard_normal((900, 39)).astype("float32")
    fitted_on = MfccFeaturizer(lifter=11.0).provenance()
    quantizer = KMeansQuantizer.fit(features, 10, seed=0, provenance=fitted_on)
    forced = UnitExtractor(MfccFeaturizer(), quantizer, check_compatible=False)
    forced.save_pretrained(tmp_path / "x")
    assert json.loads((tmp_path / "x" / "extractor.json").read_text())["check_compatible"] is False
    with pytest.raises(QuantizerMismatchError, match="saved with check_compatible=False"):
        UnitExtractor.from_pretrained(tmp_path / "x")
    loaded = UnitExtractor.from_pretrained(tmp_path / "x", check_compatible=False)
    assert loaded.check_compatible is False
