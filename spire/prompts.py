"""The SPIRE prompt templates and the ChatML chat format, exactly as the paper's models expect.

>>> asr_prompt("\\U000f0001\\U000f0002")
'Speech: \\U000f0001\\U000f0002\\nEnglish:'
>>> st_prompt("\\U000f0001", "de")
'Speech: \\U000f0001\\nGerman:'
>>> mt_prompt("Hallo", "German", "English")
'Translate the following text from German to English.\\nGerman: Hallo\\nEnglish:'
>>> chat([("user", "Hi"), ("assistant", "Hello")])
'<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nHello<|im_end|>\\n'
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from spire.errors import LanguageError

__all__ = [
    "CHAT_TEMPLATE",
    "IM_END",
    "IM_START",
    "LANGUAGES",
    "asr_prompt",
    "chat",
    "chat_turn",
    "cpt_asr_text",
    "cpt_parallel_text",
    "generation_prompt",
    "mt_prompt",
    "resolve_language",
    "st_follow_up_prompt",
    "st_prompt",
]

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

#: `chat` as a Jinja chat template (`tokenizer.apply_chat_template`), saved into every model
#: folder spire writes, so transformers pipelines, TRL and vLLM's chat API render the exact
#: prompts spire trains on (tests/spire/vocab/test_saving.py checks the two agree).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: The languages the prompts support: ISO 639-1 code -> the English name written in the prompts
#: (the paper's evaluation languages plus a few neighbours). The names stay written out, not
#: taken from langcodes, because they are part of the trained prompt format: a new release of the
#: language data must not change what the model is shown (a test checks that the two agree).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "zh": "Chinese",
    "ko": "Korean",
    "ja": "Japanese",
    "pl": "Polish",
    "sv": "Swedish",
    "cs": "Czech",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "tr": "Turkish",
    "hi": "Hindi",
}


def resolve_language(name_or_code: str) -> str:
    """The prompt name of a language as users write it: a code or tag ("de", "deu", "de-DE",
    "de_DE"), or a name in English or in another language ("German", "german", "Deutsch",
    "allemand"). Tags and names are read by `langcodes`; macrolanguages fold into their main
    language (Mandarin "cmn" is Chinese).

    >>> resolve_language("de"), resolve_language("de-DE"), resolve_language("Deutsch")
    ('German', 'German', 'German')
    >>> resolve_language("french"), resolve_language("zh-Hant")
    ('French', 'Chinese')
    """
    text = str(name_or_code).strip()
    code = _language_code(text)
    if code in LANGUAGES:
        return LANGUAGES[code]
    supported = ", ".join(f"{c} ({n})" for c, n in LANGUAGES.items())
    name = _display_name(code) if code else ""
    known = f" ({code}: {name}, which the prompts do not support)" if name else ""
    raise LanguageError(
        f"language must be one of {supported}, but is {name_or_code!r}{known}; "
        "fix: pass one of these codes or names"
    )


@lru_cache(maxsize=256)
def _language_code(text: str) -> str | None:
    """The ISO 639 code of a language tag or name; None when it names no language."""
    try:
        import langcodes
        import language_data  # noqa: F401  (langcodes reads names from it)
    except ImportError as e:
        raise LanguageError(
            "langcodes and language_data must be installed to read language names, but "
            f"{e.name} is not; fix: pip install 'langcodes[data]'"
        ) from e
    if not text:
        return None
    try:
        # A well-formed tag wins over a name ("ga" is Irish, not the Ga language).
        if langcodes.tag_is_valid(text):
            language = langcodes.Language.get(text).language
        else:
            language = langcodes.find(text).language
    except (LookupError, ValueError):
        return None
    return langcodes.standardize_tag(language, macro=True) if language else None


def _display_name(code: str) -> str:
    """The English name of a code langcodes knows; empty for unknown or private-use codes."""
    import langcodes

    name = langcodes.Language.get(code).display_name()
    return "" if name.startswith("Unknown language") else name


def asr_prompt(units: str) -> str:
    """The ASR instruction: `Speech: {units}\\nEnglish:`."""
    return f"Speech: {units}\nEnglish:"


def st_prompt(units: str, language: str) -> str:
    """The speech-translation instruction: `Speech: {units}\\n{Language}:` (code or name)."""
    return f"Speech: {units}\n{resolve_language(language)}:"


def mt_prompt(text: str, source: str, target: str) -> str:
    """The text-translation instruction of the paper (languages given by code or name)."""
    src, tgt = resolve_language(source), resolve_language(target)
    return f"Translate the following text from {src} to {tgt}.\n{src}: {text}\n{tgt}:"


def cpt_asr_text(units: str, transcript: str) -> str:
    """A continued-pretraining ASR document: `Speech: {units}\\nEnglish: {transcript}`."""
    return f"Speech: {units}\nEnglish: {transcript}"


def cpt_parallel_text(source_text: str, target_text: str, source: str, target: str) -> str:
    """A continued-pretraining parallel-text document: `{Src}: {text}\\n{Tgt}: {text}`.

    >>> cpt_parallel_text("Hallo", "Hello", "de", "en")
    'German: Hallo\\nEnglish: Hello'
    """
    return f"{resolve_language(source)}: {source_text}\n{resolve_language(target)}: {target_text}"


def chat_turn(role: str, content: str) -> str:
    """One ChatML turn: `<|im_start|>{role}\\n{content}<|im_end|>\\n`."""
    return f"{IM_START}{role}\n{content}{IM_END}\n"


def generation_prompt() -> str:
    """What follows the last user turn when the model is to answer."""
    return f"{IM_START}assistant\n"


def chat(messages: Iterable[tuple[str, str]], *, add_generation_prompt: bool = False) -> str:
    """Render (role, content) messages as ChatML; optionally open the assistant's turn.

    >>> chat([("user", "Speech: x\\nEnglish:")], add_generation_prompt=True)
    '<|im_start|>user\\nSpeech: x\\nEnglish:<|im_end|>\\n<|im_start|>assistant\\n'
    """
    text = "".join(chat_turn(role, content) for role, content in messages)
    return text + generation_prompt() if add_generation_prompt else text


def st_follow_up_prompt(language: str) -> str:
    """The second user turn of multi-turn speech translation (after the transcript turn).

    >>> st_follow_up_prompt("fr")
    'Translate this into French.\\nFrench:'
    """
    name = resolve_language(language)
    return f"Translate this into {name}.\n{name}:"
