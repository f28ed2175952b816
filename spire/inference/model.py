"""`SpireModel`: raw audio in, text out, in one call — transcription and translation.

Audio is decoded and resampled (`units.load_audio`), searched for speech and, when long, cut
into pieces at its pauses (`spire.inference.long_audio`), turned into units by the model's own
extractor, wrapped in the paper's prompt inside a ChatML turn, and generated in length-sorted
batches (`spire.inference.generation`). The pieces' texts are joined with spaces and kept with
their times as `segments`; audio without speech gives an empty result.

>>> model = SpireModel.from_pretrained("runs/it")                        # doctest: +SKIP
>>> model.transcribe("clip.wav").text                                    # doctest: +SKIP
'the weather is nice today'
>>> [r.text for r in model.translate(["a.wav", "b.flac"], to="German")]  # doctest: +SKIP
>>> model.translate_text("Good morning", tgt="French").text              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spire import prompts
from spire.errors import SpireError
from spire.inference.engines import BACKENDS as _ENGINES
from spire.inference.engines import is_export, load_engine
from spire.inference.folders import model_folder
from spire.inference.generation import (
    DecodingSettings,
    generate_transformers,
    generate_vllm,
    load_vllm,
)
from spire.inference.inputs import AudioInput, is_batch, named_error, rate_doubt
from spire.inference.long_audio import TextSegment, answer_text, cut_recording
from spire.inference.sources import dataset_rows, is_dataset
from spire.vocab.metadata import UnitVocab
from spire.vocab.pairing import extractor_folder
from spire.vocab.saving import has_chat_specials, render_chat, template_difference
from units.errors import UnitsError

_ON_ERROR = ("raise", "keep")


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
    error: str | None = None
    """Why this input gave no text (with `on_error="keep"`); None when it worked."""
    segments: tuple[TextSegment, ...] = ()
    """Each piece the audio was read in: start and end seconds of its speech, and its text
    (none for silence or text input)."""


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
        units: UnitVocab | None = None,
        check_compatible: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.extractor = extractor
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.backend = backend
        self._llm = llm
        where = str(model_dir or "the model")
        self.units = units or UnitVocab.from_config(
            getattr(model, "config", None), tokenizer=tokenizer, where=where
        )
        """The model's unit vocabulary (`config.spire`, or found in a released tokenizer)."""
        self.units.check_tokenizer(tokenizer)
        self.kmeans_unverified = self.units.check_extractor(
            extractor, check_compatible=check_compatible
        )
        """Why the extractor's k-means is unverified, when that was accepted; else None."""
        if self.kmeans_unverified:
            warnings.warn(
                f"unit extractor used unverified: {self.kmeans_unverified}", UserWarning, stacklevel=2
            )
        self.sample_rate = int(
            getattr(getattr(extractor, "featurizer", None), "sample_rate", 16000)
        )
        self.chat = bool(getattr(tokenizer, "chat_template", None)) or has_chat_specials(tokenizer)
        """Whether prompts go in a chat turn: the tokenizer's chat template when it has one (as
        every transformers chat tool renders it), else spire's ChatML when it has `<|im_start|>`."""
        differs = template_difference(tokenizer)
        if differs:
            warnings.warn(differs, UserWarning, stacklevel=2)

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path,
        extractor: Any = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        backend: str = "transformers",
        check_compatible: bool = True,
    ) -> SpireModel:
        """Load the model, its tokenizer (local files only) and its unit extractor.

        `model_dir` is a saved model folder, or a stage folder holding one in `model/` (as
        `spire demo` writes: `demo_out/it` stands for `demo_out/it/model`).

        `extractor` is a `units.UnitExtractor`, a saved extractor folder (or its extractor.json),
        or None for `model_dir/extractor`. A folder without `config.spire` whose tokenizer holds
        unit pieces (the released SPIRE models) is accepted with an explicit `extractor`; its
        k must equal the number of unit pieces. `check_compatible=False` accepts an extractor
        whose k-means cannot be checked against its featurizer (with a warning). `dtype` is e.g.
        "bfloat16" (default: as saved); `device` defaults to CUDA when available.

        >>> SpireModel.from_pretrained("SpireFull", extractor="spire_extractor")  # doctest: +SKIP
        """
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from units import UnitExtractor

        DecodingSettings(backend=backend)  # validates the backend name early
        model_dir = model_folder(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
        # Everything is checked before the weights are loaded.
        vocab = UnitVocab.from_config(config, tokenizer=tokenizer, where=str(model_dir))
        vocab.check_tokenizer(tokenizer)
        if extractor is None:
            extractor = vocab.extractor_dir(model_dir)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if not isinstance(extractor, UnitExtractor):
            folder = extractor_folder(extractor) or Path(extractor)
            # A model that recorded accepting an unverified extractor loads it as such.
            loose = not check_compatible or vocab.kmeans_unverified is not None
            extractor = UnitExtractor.from_pretrained(
                folder, device=device, check_compatible=not loose
            )
        vocab.check_extractor(extractor, check_compatible=check_compatible)
        options = {"model_dir": model_dir, "backend": backend, "units": vocab,
                   "check_compatible": check_compatible}
        if is_export(model_dir):  # a `spire export` folder: its CPU engine generates
            llm = load_engine(model_dir, device=device, backend=backend)
            options["backend"] = llm.backend
            return cls(_ConfigOnly(config), tokenizer, extractor, llm=llm, **options)
        if backend == "vllm":
            llm = load_vllm(str(model_dir), dtype=dtype)
            return cls(_ConfigOnly(config), tokenizer, extractor, llm=llm, **options)
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), local_files_only=True, dtype=dtype or "auto"
        )
        model.to(device).eval()
        return cls(model, tokenizer, extractor, **options)

    # ---------------------------------------------------------------- public tasks

    def transcribe(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int = 256,
        max_chunk_s: float = 8.0,
        sample_rate: int | None = None,
        on_error: str = "raise",
        vad: bool = True,
    ) -> SpireResult | list[SpireResult]:
        """English text for one recording (-> SpireResult) or a list (-> list).

        Audio: a path, encoded bytes, an `(array, sample_rate)` pair, a datasets audio dict, a
        dataset row with an "audio" column, or a bare array. A bare array carries no rate: it is
        taken to be at `sample_rate`, or, when that is None, at the extractor's rate (16 kHz),
        with a warning when it does not look like audio at that rate (`spire.inference.inputs`).
        `on_error="keep"` gives an input that cannot be read or turned into units a result with
        `error` set (and no text) instead of raising, so the other inputs still get theirs.

        Audio without speech gives an empty text and no segments. A recording longer than
        `max_chunk_s` is read in the pieces between its pauses, none longer than `max_chunk_s`
        (`spire.inference.long_audio`); each piece becomes one of the result's `segments`.
        `vad=False` skips the search for speech: audio is read whole, or cut at quiet points
        when longer than `max_chunk_s`.

        >>> model.transcribe((wave, 8000)).text                                 # doctest: +SKIP
        >>> [(s.start_s, s.end_s, s.text) for s in model.transcribe("talk.wav").segments]  # doctest: +SKIP
        """
        settings = self._settings(batch_size, num_beams, max_new_tokens, max_chunk_s)
        return self._speech_task(audio, "asr", "English", settings, sample_rate, on_error, vad)

    def translate(
        self,
        audio: AudioInput | Sequence[AudioInput],
        *,
        to: str = "German",
        batch_size: int = 8,
        num_beams: int = 1,
        max_new_tokens: int = 256,
        max_chunk_s: float = 8.0,
        sample_rate: int | None = None,
        on_error: str = "raise",
        vad: bool = True,
    ) -> SpireResult | list[SpireResult]:
        """Speech translation into `to` (a name or code from `spire.prompts.LANGUAGES`); audio,
        `sample_rate`, `on_error`, `max_chunk_s`, `vad` and segments as for `transcribe`."""
        language = prompts.resolve_language(to)
        settings = self._settings(batch_size, num_beams, max_new_tokens, max_chunk_s)
        return self._speech_task(audio, "st", language, settings, sample_rate, on_error, vad)

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

    def _chat(self, prompt: str) -> str:
        """The prompt in a user turn (`spire.vocab.saving.render_chat`), or as it is for a model
        without a chat template or ChatML tokens."""
        if not self.chat:
            return prompt
        return render_chat(self.tokenizer, [("user", prompt)], add_generation_prompt=True)

    def _load(self, source: AudioInput, sample_rate: int | None) -> np.ndarray:
        from units import load_audio

        if isinstance(source, Mapping) and "audio" in source:
            source = source["audio"]  # a dataset row
        if isinstance(source, np.ndarray) or hasattr(source, "numpy"):
            wave = load_audio((np.asarray(source), sample_rate or self.sample_rate), self.sample_rate)
            doubt = rate_doubt(wave, self.sample_rate) if sample_rate is None else None
            if doubt:
                warnings.warn(doubt, UserWarning, stacklevel=5)
            return wave
        return load_audio(source, self.sample_rate)

    def _speech_task(
        self,
        audio: AudioInput | Sequence[AudioInput],
        task: str,
        language: str,
        settings: DecodingSettings,
        sample_rate: int | None,
        on_error: str,
        vad: bool = True,
    ) -> SpireResult | list[SpireResult]:
        if on_error not in _ON_ERROR:
            raise SpireError(f"on_error must be one of {_ON_ERROR}, but is {on_error!r}; fix: pick one")
        if is_dataset(audio):  # read undecoded: soundfile decodes, no torchcodec needed
            audio = [row.audio for row in dataset_rows(audio)]
        single = not is_batch(audio)
        sources = [audio] if single else list(audio)
        # Work through big inputs group by group, so a whole test set's audio is never in
        # memory at once; each group still holds many batches to sort by length.
        group = max(64, 16 * settings.batch_size)
        results: list[SpireResult] = []
        for begin in range(0, len(sources), group):
            part = sources[begin : begin + group]
            results += self._speech_group(
                part, task, language, settings, sample_rate, on_error, vad
            )
        return results[0] if single else results

    def _units_of(
        self, pieces: dict[int, list[np.ndarray]], errors: dict[int, str], sources: list[Any], keep: bool
    ) -> dict[int, list[Any]]:
        """Units of every chunk, by input; with `keep`, an input whose units fail goes to `errors`."""
        order = sorted(pieces)
        try:
            flat = self.extractor.extract_waves([c for i in order for c in pieces[i]])
        except (UnitsError, SpireError):
            if not keep:
                raise
            flat = None
        if flat is not None:
            out, at = {}, 0
            for i in order:
                out[i], at = flat[at : at + len(pieces[i])], at + len(pieces[i])
            return out
        out = {}
        for i in order:  # one failed: find which, input by input
            try:
                out[i] = self.extractor.extract_waves(pieces[i])
            except (UnitsError, SpireError) as error:
                errors[i] = named_error(sources[i], error)
        return out

    def _speech_group(
        self,
        sources: list[AudioInput],
        task: str,
        language: str,
        settings: DecodingSettings,
        sample_rate: int | None,
        on_error: str,
        vad: bool = True,
    ) -> list[SpireResult]:
        keep = on_error == "keep"
        waves: dict[int, np.ndarray] = {}
        errors: dict[int, str] = {}
        for index, source in enumerate(sources):
            try:
                waves[index] = self._load(source, sample_rate)
            except (UnitsError, SpireError) as error:
                if not keep:
                    raise
                errors[index] = named_error(source, error)
        cuts = {
            i: cut_recording(w, self.sample_rate, max_piece_s=settings.max_chunk_s, vad=vad)
            for i, w in waves.items()
        }
        pieces = {i: cut.waves for i, cut in cuts.items()}
        units = self._units_of(pieces, errors, sources, keep)
        order = sorted(units)
        if task == "asr":
            chats = [self._chat(prompts.asr_prompt(u.text)) for i in order for u in units[i]]
        else:
            chats = [self._chat(prompts.st_prompt(u.text, language)) for i in order for u in units[i]]
        outputs = self._generate(chats, settings)
        results, at = [], 0
        for index in range(len(sources)):
            if index in errors:
                results.append(
                    SpireResult(text="", task=task, language=language, decoding=settings,
                                num_chunks=0, error=errors[index])
                )
                continue
            count = len(units[index])
            ids = outputs[at : at + count]
            texts = [answer_text(self._decode(i)) for i in ids]
            results.append(
                SpireResult(
                    text=" ".join(t for t in texts if t),
                    task=task,
                    language=language,
                    decoding=settings,
                    num_chunks=count,
                    duration_s=len(waves[index]) / self.sample_rate,
                    num_units=sum(len(u.ids) for u in units[index]),
                    token_ids=tuple(tuple(i) for i in ids),
                    segments=cuts[index].segments(texts),
                )
            )
            at += count
        return results

    def _generate(self, chats: list[str], settings: DecodingSettings) -> list[list[int]]:
        if not chats:
            return []
        if self.backend == "vllm":
            return generate_vllm(self._llm, self.tokenizer, chats, settings)
        if self.backend in _ENGINES.values():  # a `spire export` folder's engine
            return self._llm.generate(self.tokenizer, chats, settings)
        return generate_transformers(self.model, self.tokenizer, chats, settings)

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()


class _ConfigOnly:
    """Stands in for the transformers model when vLLM or an engine holds the weights."""

    def __init__(self, config: Any) -> None:
        self.config = config

