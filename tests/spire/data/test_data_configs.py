"""The shipped data recipes load and validate against the data-builder schemas."""

from pathlib import Path

import pytest

from spire.config import resolve_config
from spire.data.cpt import CptDataConfig
from spire.data.instructions import ItDataConfig
from spire.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = {"cpt": CptDataConfig, "it": ItDataConfig}
DATA_CONFIGS = sorted((ROOT / "configs/data").glob("*.yaml"))


@pytest.mark.parametrize("path", DATA_CONFIGS, ids=lambda p: p.name)
def test_data_config_validates(path):
    stage = "cpt" if "cpt" in path.stem else "it"
    cfg = resolve_config(SCHEMAS[stage], path)
    assert cfg.speech and cfg.tokenizer
    assert cfg.seq_len == {"cpt": 2048, "it": 4096}[stage]


def test_unknown_data_key_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokenizer: x\nspeech: [{path: a, transcript_feild: t}]\n")
    with pytest.raises(ConfigError, match="transcript_feild"):
        resolve_config(CptDataConfig, bad)
