"""Shared fixtures for the units tests: tiny random encoders saved once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from units.testing import tiny_hubert, tiny_w2v_bert, tiny_wav2vec2, tiny_whisper


@pytest.fixture(scope="session")
def hubert_base_dir(tmp_path_factory) -> Path:
    """HuBERT-base layout: group-norm conv stack, no attention mask, post-norm layers."""
    return tiny_hubert(tmp_path_factory.mktemp("hubert_base"), stable_layer_norm=False)


@pytest.fixture(scope="session")
def hubert_large_dir(tmp_path_factory) -> Path:
    """HuBERT-large layout: layer-norm conv stack, attention mask, pre-norm layers + final norm."""
    return tiny_hubert(tmp_path_factory.mktemp("hubert_large"), stable_layer_norm=True)


@pytest.fixture(scope="session")
def wav2vec2_dir(tmp_path_factory) -> Path:
    return tiny_wav2vec2(tmp_path_factory.mktemp("wav2vec2"))


@pytest.fixture(scope="session")
def w2v_bert_dir(tmp_path_factory) -> Path:
    return tiny_w2v_bert(tmp_path_factory.mktemp("w2v_bert"))


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory) -> Path:
    return tiny_whisper(tmp_path_factory.mktemp("whisper"), num_layers=3)
