"""`SSLFeaturizer`: the hidden state after encoder layer L of a self-supervised speech encoder.

Layers above L are removed from the model, so they are never run, and the encoder's final
norm is not applied: the features equal transformers' ``hidden_states[L]``. Waves are batched
by total audio seconds (sorted by length); long audio runs in overlapping chunks. Several
layers with fixed weights (``layer=[20, 22]``, mean by default; `units.features.layer_mix`) are
an option, off by default.

>>> from units.features.ssl_featurizer import SSLFeaturizer
>>> featurizer = SSLFeaturizer.from_pretrained("hubert-large-ll60k", layer=22)  # doctest: +SKIP
>>> featurizer.featurize([wave])[0].shape  # doctest: +SKIP
torch.Size([49, 1024])
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from units.errors import AudioError, ModelFormatError
from units.features.base import Featurizer, FeaturizerConfigError, write_featurizer_json
from units.features.encoders import SUPPORTED_MODEL_TYPES, family_for
from units.features.layer_mix import parse_layers

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_WEIGHT_GLOBS = ("*.safetensors", "*.bin")


@dataclass
class _Segment:
    utterance: int
    first_frame: int  # global frame of the segment's first output frame
    keep: tuple[int, int]  # global frames [lo, hi) this segment provides
    wave: np.ndarray
    stats: torch.Tensor | None = None  # whole-utterance group-norm statistics, when chunked


def hash_weight_files(directory: str | Path) -> str | None:
    """sha256 of a checkpoint's weight files (name order, 1 MiB blocks); None when none exist.

    >>> hash_weight_files("hubert-large-ll60k")  # doctest: +SKIP
    'sha256:5f0b...'
    """
    directory = Path(directory)
    for pattern in _WEIGHT_GLOBS:
        files = sorted(directory.glob(pattern))
        if files:
            digest = hashlib.sha256()
            for file in files:
                with file.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        digest.update(block)
            return "sha256:" + digest.hexdigest()
    return None


def _hash_state_dict(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return "state_dict-sha256:" + digest.hexdigest()


def _num_layers(config: Any) -> int:
    if config.model_type == "whisper":
        return int(config.encoder_layers)
    return int(config.num_hidden_layers)


def _check_layer(layer: int, num_layers: int, name: str) -> None:
    valid_type = isinstance(layer, (int, np.integer)) and not isinstance(layer, bool)
    if not valid_type or not 0 <= layer <= num_layers:
        raise FeaturizerConfigError(
            "layer",
            f"layer must be between 0 and {num_layers} (the hidden state after that many "
            f"encoder layers of {name}), but is {layer!r}; fix: pass layer=0..{num_layers} "
            "(SPIRE uses 22 of HuBERT-large's 24)",
        )


class SSLFeaturizer(Featurizer):
    """Hidden state after encoder layer `layer`, without the final encoder norm.

    Built from parts (the model is truncated in place) or with `from_pretrained(path)`.
    For ``layer == num_layers`` this is the last layer's output before the final encoder norm
    (Whisper's ``hidden_states[-1]`` in transformers includes that norm; ours does not).
    Encoders trained without an attention mask (group-norm conv stack, e.g. HuBERT-base) never
    see padding in their conv stack: it runs on each wave alone, and only the transformer layers
    after it (which honour a frame mask) run as a padded batch. Chunks of a long wave are
    normalised with the whole wave's group-norm statistics. `layer` may list several layers,
    mixed with `layer_weights` (default: the mean); the encoder then runs up to the deepest.

    >>> from units.testing import tiny_hubert, tone_speech
    >>> f = SSLFeaturizer.from_pretrained(tiny_hubert(tmp / "h"), layer=2)  # doctest: +SKIP
    >>> f.featurize([tone_speech(1.0, seed=0)])[0].shape  # doctest: +SKIP
    torch.Size([49, 32])
    """

    def __init__(
        self,
        model: nn.Module,
        layer: int | Sequence[int],
        *,
        layer_weights: Sequence[float] | None = None,
        feature_extractor: Any = None,
        normalize: bool | None = None,
        dtype: str = "float32",
        device: str | torch.device | None = None,
        max_batch_seconds: float = 160.0,
        chunk_seconds: float = 60.0,
        context_seconds: float = 2.0,
        source: str | Path | None = None,
    ) -> None:
        if dtype not in _DTYPES:
            raise FeaturizerConfigError(
                "dtype",
                f"dtype must be one of {sorted(_DTYPES)}, but is {dtype!r}; fix: pass dtype='bfloat16'",
            )
        config = model.config
        self.source = Path(source) if source is not None else _source_of(config)
        # Hashed before anything is truncated or wrapped: the identity of the whole encoder.
        self._encoder_hash = None if self.source else _hash_state_dict(model)
        self._family = family_for(model, feature_extractor)
        self.encoder_name = str(getattr(config, "_name_or_path", "") or config.model_type)
        self.num_layers = len(self._family.layers)
        if isinstance(layer, Sequence) or layer_weights is not None:
            # Several layers: `layer` is the deepest (where the encoder is cut), `_mix` the rest.
            self.layer, self._mix = parse_layers(
                layer, layer_weights, num_layers=self.num_layers, name=self.encoder_name
            )
        else:
            _check_layer(layer, self.num_layers, self.encoder_name)
            self.layer, self._mix = int(layer), None
        self.dtype = dtype
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dim = self._family.dim
        self.max_batch_seconds = float(max_batch_seconds)
        self.context_seconds = float(context_seconds)
        self.chunk_seconds = float(chunk_seconds)
        if self._family.max_segment_samples is not None:
            self.chunk_seconds = min(
                self.chunk_seconds, self._family.max_segment_samples / self.sample_rate
            )
        if self.chunk_seconds <= 2 * self.context_seconds + 1 / self.frame_rate_hz:
            raise FeaturizerConfigError(
                "chunk_seconds",
                f"chunk_seconds must exceed twice context_seconds ({self.context_seconds}), "
                f"but is {self.chunk_seconds}; fix: raise chunk_seconds or lower context_seconds",
            )
        if normalize is None:
            normalize = bool(
                getattr(feature_extractor, "do_normalize", False)
            ) and config.model_type in (
                "hubert",
                "wav2vec2",
            )
        self.normalize = normalize
        self._family.truncate(self.layer)
        self._family.model.eval().to(device=self.device, dtype=_DTYPES[dtype])
        self._family.prepare_for_inference(self.device)

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        layer: int | Sequence[int] = 22,
        *,
        layer_weights: Sequence[float] | None = None,
        dtype: str = "float32",
        device: str | torch.device | None = None,
        max_batch_seconds: float = 160.0,
        chunk_seconds: float = 60.0,
        context_seconds: float = 2.0,
    ) -> SSLFeaturizer:
        """Load a local transformers checkpoint (HuBERT, wav2vec 2.0, w2v-BERT 2.0, Whisper).

        >>> SSLFeaturizer.from_pretrained("hubert-large-ll60k", layer=22, dtype="bfloat16")  # doctest: +SKIP
        """
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, WhisperModel

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelFormatError(
                f"{path} must be a folder with a transformers config.json, but it has none; "
                "fix: download the checkpoint (e.g. huggingface-cli download) and pass its folder"
            )
        config = AutoConfig.from_pretrained(path)
        if config.model_type not in SUPPORTED_MODEL_TYPES:
            raise ModelFormatError(
                f"{path}: model_type must be one of {', '.join(SUPPORTED_MODEL_TYPES)}, "
                f"but is {config.model_type!r}; fix: use a supported speech encoder"
            )
        if isinstance(layer, Sequence) or layer_weights is not None:
            parse_layers(layer, layer_weights, num_layers=_num_layers(config), name=str(path))
        else:
            _check_layer(layer, _num_layers(config), str(path))
        if dtype not in _DTYPES:
            raise FeaturizerConfigError(
                "dtype",
                f"dtype must be one of {sorted(_DTYPES)}, but is {dtype!r}; fix: pass dtype='bfloat16'",
            )
        loader = WhisperModel if config.model_type == "whisper" else AutoModel
        try:
            model = loader.from_pretrained(path, dtype=_DTYPES[dtype])
        except pickle.UnpicklingError as error:  # torch.load(weights_only=True) refused it
            raise ModelFormatError(
                f"{path}: the weight files must hold tensors only, but a pickled checkpoint "
                "(e.g. pytorch_model.bin) holds other objects, which are refused because "
                "unpickling can run code; fix: use the model's .safetensors weights, or convert "
                "the checkpoint once on a machine you trust (save_pretrained writes safetensors)"
            ) from error
        feature_extractor = None
        if (path / "preprocessor_config.json").is_file():
            feature_extractor = AutoFeatureExtractor.from_pretrained(path)
        return cls(
            model,
            layer,
            layer_weights=layer_weights,
            feature_extractor=feature_extractor,
            dtype=dtype,
            device=device,
            max_batch_seconds=max_batch_seconds,
            chunk_seconds=chunk_seconds,
            context_seconds=context_seconds,
            source=path,
        )

    @classmethod
    def from_record(
        cls, record: dict[str, Any], directory: Path, *, device: str | torch.device | None = None
    ) -> SSLFeaturizer:
        """Rebuild from a featurizer.json record (see `units.features.registry.load_featurizer`)."""
        encoder_path = Path(record["encoder_path"])
        if not encoder_path.is_absolute():
            encoder_path = directory / encoder_path
        featurizer = cls.from_pretrained(
            encoder_path,
            record["layer"],
            layer_weights=record.get("layer_weights"),
            dtype=record.get("dtype", "float32"),
            device=device,
            max_batch_seconds=record.get("max_batch_seconds", 160.0),
            chunk_seconds=record.get("chunk_seconds", 60.0),
            context_seconds=record.get("context_seconds", 2.0),
        )
        featurizer.normalize = bool(record.get("normalize", featurizer.normalize))
        # A copied checkpoint keeps the name it was saved under (e.g. the hub id).
        featurizer.encoder_name = record.get("provenance", {}).get(
            "encoder", featurizer.encoder_name
        )
        saved = record.get("provenance", {}).get("encoder_hash")
        if saved and saved != featurizer.encoder_hash:
            raise ModelFormatError(
                f"the encoder weights at {encoder_path} must be the ones this featurizer was saved "
                f"with ({saved}), but hash to {featurizer.encoder_hash}; fix: restore the original "
                "checkpoint, or save with copy_weights=True to keep a copy beside the featurizer"
            )
        return featurizer

    # ---------------------------------------------------------------- identity

    @property
    def encoder_hash(self) -> str:
        if self._encoder_hash is None:
            self._encoder_hash = hash_weight_files(self.source) if self.source else None
            if self._encoder_hash is None:
                raise ModelFormatError(
                    f"{self.source} must hold the encoder's weight files (*.safetensors), but has "
                    "none; fix: pass source= the checkpoint folder the model was loaded from"
                )
        return self._encoder_hash

    def provenance(self) -> dict[str, Any]:
        # A mix records its layers (as `layer`, a list) and weights; one layer keeps the int.
        mix = self._mix.record() if self._mix is not None else {}
        return {
            "type": "ssl",
            "encoder": self.encoder_name,
            "model_type": self._family.config.model_type,
            "encoder_hash": self.encoder_hash,
            "layer": self.layer,
            "num_layers": self.num_layers,
            "dim": self.dim,
            "frame_rate_hz": self.frame_rate_hz,
            "sample_rate": self.sample_rate,
            "dtype": self.dtype,
            "normalize": self.normalize,
            **mix,
        }

    def save_pretrained(self, directory: str | Path, *, copy_weights: bool = False) -> Path:
        """Write featurizer.json; with `copy_weights`, also copy the checkpoint to dir/encoder.

        >>> featurizer.save_pretrained("runs/featurizer", copy_weights=True)  # doctest: +SKIP
        """
        directory = Path(directory)
        if self.source is None:
            raise ModelFormatError(
                "the encoder must have a checkpoint folder to be saved, but this featurizer was "
                "built from an in-memory model; fix: model.save_pretrained(folder) and build it "
                "with SSLFeaturizer.from_pretrained(folder)"
            )
        encoder_path: str = str(self.source.resolve())
        if copy_weights:
            target = directory / "encoder"
            target.mkdir(parents=True, exist_ok=True)
            for file in self.source.iterdir():
                if file.is_file():
                    shutil.copy2(file, target / file.name)
            encoder_path = "encoder"
        record = {
            "type": "ssl",
            "encoder_path": encoder_path,
            "layer": self.layer,
            **(self._mix.record() if self._mix is not None else {}),
            "dtype": self.dtype,
            "normalize": self.normalize,
            "max_batch_seconds": self.max_batch_seconds,
            "chunk_seconds": self.chunk_seconds,
            "context_seconds": self.context_seconds,
            "provenance": self.provenance(),
        }
        return write_featurizer_json(directory, record)

    # ---------------------------------------------------------------- features

    def num_frames(self, num_samples: int) -> int:
        return self._family.num_frames(int(num_samples))

    def featurize(self, waves: Sequence[np.ndarray]) -> list[torch.Tensor]:
        segments, outputs = [], []
        for index, wave in enumerate(waves):
            wave = np.asarray(wave, dtype=np.float32)
            if wave.ndim != 1:
                raise AudioError(
                    f"waves[{index}]", f"must be 1-D mono samples, but has shape {wave.shape}"
                )
            total = self.num_frames(len(wave))
            if total == 0:
                raise AudioError(
                    f"waves[{index}]",
                    f"must be long enough for one frame, but holds {len(wave)} samples; "
                    "fix: drop clips this short or pad them",
                )
            if self.normalize:
                # The whole utterance, before chunking: what the encoder saw in training.
                wave = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
            segments.extend(self._segments(index, wave, total))
            outputs.append(torch.empty(total, self.dim, dtype=torch.float32, device=self.device))
        for batch in self._batches(segments):
            self._run(batch, outputs)
        return outputs

    def _segments(self, index: int, wave: np.ndarray, total: int) -> list[_Segment]:
        limit = self._family.max_segment_samples
        if len(wave) <= self.chunk_seconds * self.sample_rate and (
            limit is None or len(wave) <= limit
        ):
            return [_Segment(index, 0, (0, total), wave)]
        context = int(self.context_seconds * self.frame_rate_hz)
        # Frames whose samples fit in chunk_seconds, less the context on both sides.
        core = self.num_frames(int(self.chunk_seconds * self.sample_rate)) - 2 * context
        stats = None
        if self._family.uses_utterance_stats:
            stats = self._family.utterance_stats(wave, self.device, _DTYPES[self.dtype])
        segments = []
        for lo in range(0, total, core):
            hi = min(total, lo + core)
            first, stop = max(0, lo - context), min(total, hi + context)
            start, end = self._family.span(first, stop, len(wave))
            segments.append(_Segment(index, first, (lo, hi), wave[start:end], stats))
        return segments

    def _batches(self, segments: list[_Segment]) -> list[list[_Segment]]:
        budget = self.max_batch_seconds * self.sample_rate
        # Padded frames cost as much as real ones: at most this fraction of the real work.
        waste = self._family.max_padding_share
        batches: list[list[_Segment]] = []
        samples = 0  # unpadded, in the last batch
        for segment in sorted(segments, key=lambda s: -len(s.wave)):
            # Sorted longest first, so the batch's first wave sets its padded length.
            batch = batches[-1] if batches else []
            padded = (len(batch) + 1) * (len(batch[0].wave) if batch else 0)
            fits = bool(batch) and padded <= budget
            if fits and not self._family.batches_exactly:
                fits = len(segment.wave) == len(batch[0].wave)
            if fits and waste is not None:
                fits = padded <= (1.0 + waste) * (samples + len(segment.wave))
            if fits:
                batch.append(segment)
                samples += len(segment.wave)
            else:
                batches.append([segment])
                samples = len(segment.wave)
        return batches

    def _run(self, batch: list[_Segment], outputs: list[torch.Tensor]) -> None:
        waves = [s.wave for s in batch]
        tap = self._mix.tap(self._family.layers) if self._mix is not None else nullcontext()
        with torch.inference_mode(), tap:
            if any(s.stats is not None for s in batch):
                stats = [s.stats for s in batch]
                hidden = self._family.forward(waves, self.device, _DTYPES[self.dtype], stats)
            else:
                hidden = self._family.forward(waves, self.device, _DTYPES[self.dtype])
            if self._mix is not None:
                hidden = tap.mixed()
        for row, segment in enumerate(batch):
            lo, hi = segment.keep
            produced = min(self.num_frames(len(segment.wave)), hidden.shape[1])
            if segment.first_frame + produced < hi:
                raise RuntimeError(
                    f"segment gave {produced} frames from frame {segment.first_frame}, "
                    f"fewer than the {hi} needed: frame arithmetic out of step with the model"
                )
            rows = hidden[row, lo - segment.first_frame : hi - segment.first_frame]
            outputs[segment.utterance][lo:hi] = rows.float()


def _source_of(config: Any) -> Path | None:
    name = getattr(config, "_name_or_path", "")
    if name and Path(name).is_dir():
        if any(next(Path(name).glob(pattern), None) for pattern in _WEIGHT_GLOBS):
            return Path(name)
    return None
