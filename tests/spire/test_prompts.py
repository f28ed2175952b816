"""The prompt templates match the paper's strings exactly."""

import pytest

from spire.errors import LanguageError
from spire.prompts import (
    LANGUAGES,
    asr_prompt,
    chat,
    cpt_asr_text,
    cpt_parallel_text,
    mt_prompt,
    resolve_language,
    st_follow_up_prompt,
    st_prompt,
)

UNITS = "\U000f0001\U000f0fff\U000f0000"


def test_templates_are_the_papers():
    assert asr_prompt(UNITS) == f"Speech: {UNITS}\nEnglish:"
    assert st_prompt(UNITS, "German") == f"Speech: {UNITS}\nGerman:"
    assert st_prompt(UNITS, "zh") == f"Speech: {UNITS}\nChinese:"
    assert mt_prompt("Guten Tag.", "de", "en") == (
        "Translate the following text from German to English.\nGerman: Guten Tag.\nEnglish:"
    )
    assert cpt_asr_text(UNITS, "hello") == f"Speech: {UNITS}\nEnglish: hello"
    assert cpt_parallel_text("a", "b", "en", "fr") == "English: a\nFrench: b"
    assert st_follow_up_prompt("ko").endswith("\nKorean:")


def test_chatml_format():
    text = chat([("user", "P"), ("assistant", "A")])
    assert text == "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
    prompt = chat([("user", "P")], add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\n"
    assert text.startswith(prompt)


def test_languages_resolve_by_code_and_name():
    for code, name in LANGUAGES.items():
        assert resolve_language(code) == name
        assert resolve_language(name.upper()) == name
    for code in ("de", "es", "fr", "it", "ko", "nl", "pt", "ru", "zh"):  # the paper's targets
        assert code in LANGUAGES


@pytest.mark.parametrize("bad", ["Klingon", "xx", ""])
def test_unknown_language_lists_supported(bad):
    with pytest.raises(LanguageError, match="German") as info:
        st_prompt(UNITS, bad)
    assert repr(bad) in str(info.value)
