"""Shared tiny models for the spire tests: built once per session, offline, in seconds.

Tests must treat these folders as read-only (copy one before changing it).
"""

import pytest

from spire.testing import tiny_extended_llama, tiny_llama

TOKENIZER_KINDS = ("sentencepiece", "bpe")
NUM_UNITS = 200


@pytest.fixture(scope="session", params=TOKENIZER_KINDS)
def tokenizer_kind(request):
    return request.param


@pytest.fixture(scope="session")
def tiny_base(tokenizer_kind, tmp_path_factory):
    """A tiny Llama base model folder (both tokenizer kinds, by parametrisation)."""
    return tiny_llama(tmp_path_factory.mktemp(f"base_{tokenizer_kind}"), tokenizer=tokenizer_kind)


@pytest.fixture(scope="session")
def tiny_extended(tokenizer_kind, tmp_path_factory):
    """A tiny Llama extended with NUM_UNITS pua units and chat specials (both tokenizer kinds)."""
    root = tmp_path_factory.mktemp(f"extended_{tokenizer_kind}")
    return tiny_extended_llama(root, num_units=NUM_UNITS, tokenizer=tokenizer_kind)


@pytest.fixture(scope="session")
def extended_tokenizer(tiny_extended):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_extended)


@pytest.fixture(scope="session")
def tiny_spire_model(tmp_path_factory):
    """One tiny extended model (SentencePiece, NUM_UNITS units, chat specials): not parametrised."""
    return tiny_extended_llama(tmp_path_factory.mktemp("spire_model"), num_units=NUM_UNITS)
