"""A checkpoint whose pytorch_model.bin is an arbitrary pickle is refused with a clear error,
and never unpickled (issue 16 §6)."""

import os
import pickle
import shutil

import pytest

from units.errors import ModelFormatError
from units.features.ssl_featurizer import SSLFeaturizer


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch ran-code",))


def test_pickled_checkpoint_is_refused_by_path(hubert_base_dir, tmp_path, monkeypatch):
    folder = tmp_path / "hubert"
    shutil.copytree(hubert_base_dir, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    with open(folder / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"weight": _RunsCode()}, handle)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFormatError, match=str(folder)) as info:
        SSLFeaturizer.from_pretrained(folder, layer=1)
    assert "safetensors" in str(info.value) and "fix:" in str(info.value)
    assert not (tmp_path / "ran-code").exists()
