"""Using a trained model: `SpireModel` (transcribe / translate from audio or units), generation
backends (transformers, vLLM) with their decoding settings, and cutting long audio.

>>> from spire.inference import DecodingSettings
>>> DecodingSettings().max_new_tokens
256
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "SpireModel": "spire.inference.model",
    "SpireResult": "spire.inference.model",
    "DecodingSettings": "spire.inference.generation",
    "split_audio": "spire.inference.chunking",
    "Segment": "spire.inference.segmentation",
    "SileroVad": "spire.inference.segmentation",
    "speech_segments": "spire.inference.segmentation",
    "TextSegment": "spire.inference.long_audio",
    "Cue": "spire.inference.subtitles",
    "write_cues": "spire.inference.subtitles",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
