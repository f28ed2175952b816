"""`SpireModel`: raw audio in, text out, in one call — transcription and translation.

Audio is decoded and resampled (`units.load_audio`), cut at quiet points when long
(`spire.inference.chunking`), turned into units by the model's own extractor, wrapped in the paper's
prompt inside a ChatML turn, and generated in length-sorted batches (`spire.inference.generation`).
The text of a long recording's chunks is joined with spaces.

>>> model = SpireModel.from_pretrained("runs/it")                        # doctest: +SKIP
>>> model.transcribe("clip.wav").text                                    # doctest: +SKIP
'the weather is nice today'
>>> [r.text for r in model.translate(["a.wav", "b.flac"], to="German")]  # doctest: +SKIP
>>> model.translate_text("Good morning", tgt="French").text              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spire import prompts
from spire.errors import SpireError
from spire.inference.chunking import split_audio
from spire.inference.generation import (
    DecodingSettings,
    generate_transformers,
    generate_vllm,
    load_vllm,
)
from spire.vocab.metadata import check_extractor, extractor_location, unit_metadata

AudioInput = str | os.PathLike | bytes | np.ndarray | tuple | Mapping


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpireResult:
    """One output text and how it was made.

    >>> SpireResult(text="hi", task="asr", language="English", decoding=DecodingSettings()).text
    'hi'
    """

    text: str
    """The generated answer (chunks joined with spaces)."""
    task: str
    """"asr", "st" or "mt"."""
    language: str
    """The output language (English for ASR)."""
    decoding: DecodingSettings
    """The decoding settings used."""
    num_chunks: int = 1
    """How many pieces long audio was cut into."""
    duration_s: float | None = None
    """Audio duration (None for text input)."""
    num_units: int = 0
    """Unit tokens in the prompt(s), after dedup."""
    token_ids: tuple[tuple[int, ...], ...] = ()
    """Generated token ids per chunk, stop token excluded."""


class SpireModel:
    """An extended, trained LLM plus the unit extractor whose units it reads.

    Build it from parts (`SpireModel(model, tokenizer, extractor)`, as tests do) or from a
    folder with `from_pretrained`. `backend="vllm"` generates with vLLM (CUDA only; greedy);
    the audio side (units) always runs in this process.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        extractor: Any,
        *,
        model_dir: str | Path | None = None,
        backend: str = "transformers",
        llm: Any = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.extractor = extractor
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.backend = backend
        self._llm = llm
        config = getattr(model, "config", None)
        self.units = unit_metadata(config, tokenizer, model_dir or "<model>")
        check_extractor(self.units, extractor)
        self.sample_rate = int(
            getattr(getattr(extractor, "featurizer", None), "sample_rate", 16000)
        )

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path,
        extractor: Any = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        backend: str = "transformers",
    ) -> SpireModel:
        """Load the model, its tokenizer (local files only) and its unit extractor.

        `extractor` is a `units.UnitExtractor`, a saved extractor folder, or None to use
        `model_dir/extractor` or the folder recorded in `config.spire`. `dtype` is e.g.
        "bfloat16" (default: as saved); `device` defaults to CUDA when available.
        """
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from units import UnitExtractor

        model_dir = Path(model_dir)
        DecodingSettings(backend=backend)  # validates the backend name early
        if not (model_dir / "config.json").is_file():
            raise SpireError(
                f"--model must be a folder holding a saved model (config.json), but {model_dir} "
                "is not; fix: pass the output folder of `spire extend` or `spire train`"
            )
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
        meta = unit_metadata(config, tokenizer, model_dir)  # fail before loading weights
        if extractor is None:
            extractor = extractor_location(model_dir, meta)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if not isinstance(extractor, UnitExtractor):
            extractor = UnitExtractor.from_pretrained(extractor, device=device)
        check_extractor(meta, extractor)
        if backend == "vllm":
            llm = load_vllm(str(model_dir), dtype=dtype)
            return cls(
                _ConfigOnly(config),
                tokenizer,
                extractor,
                model_dir=model_dir,
                backend=backend,
                llm=llm,
            )
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), local_files_only=True, dtype=dtype or "auto"
        )
        model.to(device).eval()
        return cls(model, tokenizer, extractor, model_dir=model_dir, backend=backend)

    # ---------------------------------------------------------------- public tasks

    def transcribe(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int = 256,
        max_chunk_s: float = 20.0,
        sample_rate: int | None = None,
    ) -> SpireResult | list[SpireResult]:
        """English text for one recording (-> SpireResult) or a list (-> list).

        Audio: a path, encoded bytes, an `(array, sample_rate)` pair, a bare array (taken to
        be at `sample_rate`, default the extractor's 16 kHz), a datasets audio dict, or a
        dataset row with an "audio" column.
        """
        settings = self._settings(batch_size, num_beams, max_new_tokens, max_chunk_s)
        return self._speech_task(audio, "asr", "English", settings, sample_rate)

    def translate(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        to: str = "German",
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int = 256,
        max_chunk_s: float = 20.0,
        sample_rate: int | None = None,
    ) -> SpireResult | list[SpireResult]:
        """Speech translation into `to` (a name or code from `spire.prompts.LANGUAGES`)."""
        language = prompts.resolve_language(to)
        settings = self._settings(batch_size, num_beams, max_new_tokens, max_chunk_s)
        return self._speech_task(audio, "st", language, settings, sample_rate)

    def translate_text(
        self,
        text: str | Sequence[str],
        *,
        src: str = "English",
        tgt: str = "German",
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int = 256,
    ) -> SpireResult | list[SpireResult]:
        """Text translation with the paper's MT prompt (the base LLM's skill, kept by SPIRE)."""
        texts = [text] if isinstance(text, str) else list(text)
        source, target = prompts.resolve_language(src), prompts.resolve_language(tgt)
        settings = self._settings(batch_size, num_beams, max_new_tokens, 20.0)
        chats = [self._chat(prompts.mt_prompt(t, source, target)) for t in texts]
        outputs = self._generate(chats, settings)
        results = [
            SpireResult(
                text=self._decode(ids),
                task="mt",
                language=target,
                decoding=settings,
                token_ids=(tuple(ids),),
            )
            for ids in outputs
        ]
        return results[0] if isinstance(text, str) else results

    # ---------------------------------------------------------------- internals

    def _settings(
        self, batch_size: int, num_beams: int, max_new_tokens: int, max_chunk_s: float
    ) -> DecodingSettings:
        return DecodingSettings(
            batch_size=batch_size,
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            max_chunk_s=max_chunk_s,
            backend=self.backend,
        )

    @staticmethod
    def _chat(prompt: str) -> str:
        return prompts.chat([("user", prompt)], add_generation_prompt=True)

    def _load(self, source: AudioInput, sample_rate: int | None) -> np.ndarray:
        from units import load_audio

        if isinstance(source, Mapping) and "audio" in source:
            source = source["audio"]  # a dataset row
        if isinstance(source, np.ndarray) or hasattr(source, "numpy"):
            source = (np.asarray(source), sample_rate or self.sample_rate)
        return load_audio(source, self.sample_rate)

    def _speech_task(
        self,
        audio: AudioInput | Sequence[AudioInput],
        task: str,
        language: str,
        settings: DecodingSettings,
        sample_rate: int | None,
    ) -> SpireResult | list[SpireResult]:
        single = not _is_batch(audio)
        sources = [audio] if single else list(audio)
        # Work through big inputs group by group, so a whole test set's audio is never in
        # memory at once; each group still holds many batches to sort by length.
        group = max(64, 16 * settings.batch_size)
        results: list[SpireResult] = []
        for begin in range(0, len(sources), group):
            part = sources[begin : begin + group]
            results += self._speech_group(part, task, language, settings, sample_rate)
        return results[0] if single else results

    def _speech_group(
        self,
        sources: list[AudioInput],
        task: str,
        language: str,
        settings: DecodingSettings,
        sample_rate: int | None,
    ) -> list[SpireResult]:
        waves = [self._load(source, sample_rate) for source in sources]
        pieces = [split_audio(w, self.sample_rate, max_chunk_s=settings.max_chunk_s) for w in waves]
        units = self.extractor.extract_waves([chunk for chunks in pieces for chunk in chunks])
        if task == "asr":
            chats = [self._chat(prompts.asr_prompt(u.text)) for u in units]
        else:
            chats = [self._chat(prompts.st_prompt(u.text, language)) for u in units]
        outputs = self._generate(chats, settings)
        results, at = [], 0
        for wave, chunks in zip(waves, pieces):
            ids = outputs[at : at + len(chunks)]
            texts = [self._decode(i) for i in ids]
            results.append(
                SpireResult(
                    text=" ".join(t for t in texts if t),
                    task=task,
                    language=language,
                    decoding=settings,
                    num_chunks=len(chunks),
                    duration_s=len(wave) / self.sample_rate,
                    num_units=sum(len(u.ids) for u in units[at : at + len(chunks)]),
                    token_ids=tuple(tuple(i) for i in ids),
                )
            )
            at += len(chunks)
        return results

    def _generate(self, chats: list[str], settings: DecodingSettings) -> list[list[int]]:
        if not chats:
            return []
        if self.backend == "vllm":
            return generate_vllm(self._llm, self.tokenizer, chats, settings)
        return generate_transformers(self.model, self.tokenizer, chats, settings)

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()


class _ConfigOnly:
    """Stands in for the transformers model when vLLM holds the weights."""

    def __init__(self, config: Any) -> None:
        self.config = config


def _is_batch(audio: Any) -> bool:
    """A list (or a tuple that is not an `(array, sample_rate)` pair) is a batch."""
    if isinstance(audio, list):
        return True
    if isinstance(audio, tuple):
        return not (
            len(audio) == 2
            and isinstance(audio[1], (int, np.integer))
            and not isinstance(audio[0], (str, os.PathLike))
        )
    return False
