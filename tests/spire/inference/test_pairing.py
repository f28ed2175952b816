"""Model ↔ extractor pairing end to end, and released SPIRE folders (no config.spire)."""

import json
import warnings

import numpy as np
import pytest

from spire.errors import VocabularyError
from spire.inference.model import SpireModel
from spire.vocab.metadata import ExtractorMismatchError

K = 12


def _features() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((900, 39)).astype("float32")


def _extractor(k: int = K, *, provenance: bool = True, lifter: float = 22.0, seed: int = 0):
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    featurizer = MfccFeaturizer(lifter=lifter)
    quantizer = KMeansQuantizer.fit(
        _features(), k, seed=seed, provenance=featurizer.provenance() if provenance else None
    )
    return UnitExtractor(featurizer, quantizer)


def _wave(seconds: float = 0.8, seed: int = 1) -> np.ndarray:
    from units.testing import tone_speech

    return tone_speech(seconds, seed=seed)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from spire.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("pairing") / "base")


def test_featurizer_identity_is_compared(base, tmp_path):
    """Issue 16 §4: a k-means without provenance paired with featurizer A; the model extended
    with it transcribed with featurizer B's extractor (same k-means) and gave other units."""
    from spire.vocab.extend import extend_model
    from units import UnitExtractor

    a = _extractor(provenance=False)
    b = UnitExtractor(_extractor(lifter=11.0).featurizer, a.quantizer)  # same centroids
    assert a.quantizer.checksum == b.quantizer.checksum
    a.save_pretrained(tmp_path / "a")
    with pytest.warns(UserWarning, match="no provenance"):
        extend_model(base, tmp_path / "m", num_units=K, extractor_dir=tmp_path / "a",
                     check_compatible=False)
    with pytest.warns(UserWarning, match="no provenance"):  # the recorded opt-in, visible
        model = SpireModel.from_pretrained(tmp_path / "m", device="cpu")
    assert model.kmeans_unverified and model.transcribe(_wave(), max_new_tokens=2).text is not None
    for check in (True, False):
        with pytest.raises(ExtractorMismatchError, match="featurizer lifter"):
            SpireModel.from_pretrained(tmp_path / "m", b, device="cpu", check_compatible=check)


def test_unverified_extractor_needs_the_flag_when_the_model_did_not_record_it(base, tmp_path):
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, UnitExtractor

    good = _extractor()
    good.save_pretrained(tmp_path / "good")
    extend_model(base, tmp_path / "m", num_units=K, extractor_dir=tmp_path / "good")
    bare = UnitExtractor(good.featurizer, KMeansQuantizer(good.quantizer.centroids))
    with pytest.raises(ExtractorMismatchError, match="no provenance.*check_compatible=False"):
        SpireModel.from_pretrained(tmp_path / "m", bare, device="cpu")
    with pytest.warns(UserWarning, match="no provenance"):
        SpireModel.from_pretrained(tmp_path / "m", bare, device="cpu", check_compatible=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SpireModel.from_pretrained(tmp_path / "m", device="cpu")  # its own: silent


def _released_replica(base, out, num_units):
    """A folder laid out like the released SpireBase/SpireFull: the SentencePiece model itself
    extended (specials as user-defined pieces, units as ordinary pieces), ChatML after the
    units, pad `</s>`, no config.spire."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    from transformers import AutoModelForCausalLM, LlamaTokenizer

    from spire.vocab.tokens import CHAT_SPECIALS, SPIRE_SPECIALS
    from units.encoding import unit_strings

    proto = pb.ModelProto()
    proto.ParseFromString((base / "tokenizer.model").read_bytes())
    lowest = min(piece.score for piece in proto.pieces)
    for text in SPIRE_SPECIALS:
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = text, 0.0, pb.ModelProto.SentencePiece.USER_DEFINED
    for index, text in enumerate(unit_strings(num_units)):
        piece = proto.pieces.add()
        piece.piece, piece.score = text, lowest - 1.0 - index
        piece.type = pb.ModelProto.SentencePiece.NORMAL
    out.mkdir(parents=True)
    (out / "tokenizer.model").write_bytes(proto.SerializeToString())
    tokenizer = LlamaTokenizer.from_pretrained(str(out), add_bos_token=True, add_eos_token=False)
    tokenizer.add_special_tokens({"additional_special_tokens": list(CHAT_SPECIALS)})
    tokenizer.pad_token = "</s>"
    tokenizer.save_pretrained(str(out))
    model = AutoModelForCausalLM.from_pretrained(str(base))
    model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64, mean_resizing=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, im_end]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    return out


def test_released_spire_folder_loads_as_it_is(base, tmp_path):
    from transformers import AutoTokenizer

    from spire import prompts
    from spire.vocab.extend import extend_model
    from units.encoding import unit_strings

    released = _released_replica(base, tmp_path / "released", K)
    assert "spire" not in json.loads((released / "config.json").read_text())
    with pytest.raises(VocabularyError, match="extractor= "):
        SpireModel.from_pretrained(released, device="cpu")
    extractor = _extractor()
    model = SpireModel.from_pretrained(released, extractor, device="cpu")
    ours = AutoTokenizer.from_pretrained(extend_model(base, tmp_path / "ours", num_units=K).out_dir)
    base_size = len(AutoTokenizer.from_pretrained(base))
    assert model.units.detected and model.units.num_units == K
    assert (model.units.first_new_id, model.units.first_unit_id) == (base_size, base_size + 5)
    units = "".join(unit_strings(K)[i] for i in (3, 1, 4, 1, 5))
    for text in (prompts.asr_prompt(units), model._chat(prompts.st_prompt(units, "German"))):
        assert model.tokenizer.encode(text) == ours.encode(text)
    # The released layout's one difference: units at the very start get a leading `▁` piece.
    assert model.tokenizer.encode(units, add_special_tokens=False)[1:] == ours.encode(
        units, add_special_tokens=False
    )
    assert isinstance(model.transcribe(_wave(), max_new_tokens=3).text, str)
    with pytest.raises(ExtractorMismatchError, match="k \\(the model's: 12"):
        SpireModel.from_pretrained(released, _extractor(K + 1), device="cpu")
    (released / "extractor").mkdir()  # an unchecked extractor beside it is not picked up
    extractor.save_pretrained(released / "extractor")
    with pytest.raises(VocabularyError, match="no config.spire"):
        SpireModel.from_pretrained(released, device="cpu")


def test_forced_extractor_is_usable_everywhere_with_the_flag(base, tmp_path):
    """Issue 16 §4: `make-extractor --force` saved an extractor that extend then refused."""
    from spire.cli import main
    from spire.vocab.extend import extend_model
    from units import UnitExtractor
    from units.errors import QuantizerMismatchError

    fitted_on_other = _extractor(lifter=11.0)
    forced = UnitExtractor(_extractor().featurizer, fitted_on_other.quantizer, check_compatible=False)
    forced.save_pretrained(tmp_path / "forced")
    with pytest.raises(QuantizerMismatchError, match="check_compatible=False"):
        extend_model(base, tmp_path / "m", num_units=K, extractor_dir=tmp_path / "forced")
    args = ["extend", "--model", str(base), "--num-units", str(K), "--out", str(tmp_path / "m")]
    with pytest.warns(UserWarning, match="check_compatible=False"):
        assert main(args + ["--extractor", str(tmp_path / "forced"), "--no-check-compatible"]) == 0
    with pytest.warns(UserWarning, match="check_compatible=False"):
        model = SpireModel.from_pretrained(tmp_path / "m", device="cpu")
    assert "check_compatible=False" in model.units.kmeans_unverified
