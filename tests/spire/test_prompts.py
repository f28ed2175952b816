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


@pytest.mark.parametrize("typed", ["German", "german", "GERMAN", " de ", "de", "DE", "de-DE",
                                   "de_DE", "de-AT", "deu", "ger", "Deutsch", "allemand"])
def test_languages_as_users_type_them(typed):
    assert resolve_language(typed) == "German"
    assert st_prompt(UNITS, typed) == f"Speech: {UNITS}\nGerman:"


@pytest.mark.parametrize("typed,name", [
    ("zh-Hant", "Chinese"), ("zh-CN", "Chinese"), ("Mandarin", "Chinese"), ("cmn", "Chinese"),
    ("pt-BR", "Portuguese"), ("English (US)", "English"), ("en-GB", "English"),
    ("français", "French"), ("Español", "Spanish"), ("Nederlands", "Dutch"), ("ko-KR", "Korean"),
])
def test_tags_regions_scripts_and_native_names(typed, name):
    assert resolve_language(typed) == name


def test_prompt_names_agree_with_langcodes():
    # The table is written out so that a language-data release cannot change the prompts; the
    # library must still read each code as the same language.
    import langcodes

    for code, name in LANGUAGES.items():
        assert langcodes.Language.get(code).display_name() == name


@pytest.mark.parametrize("bad", ["Klingon", "xx", "", "und", "qaa", "yue", None])
def test_unknown_language_lists_supported(bad):
    with pytest.raises(LanguageError, match="German") as info:
        st_prompt(UNITS, bad)
    assert repr(bad) in str(info.value)
    assert "en (English)" in str(info.value) and "fix:" in str(info.value)


def test_real_but_unsupported_language_is_named():
    with pytest.raises(LanguageError, match=r"'Swahili' \(sw: Swahili, which the prompts do not"):
        resolve_language("Swahili")
    with pytest.raises(LanguageError, match=r"\(yue: Cantonese"):
        resolve_language("yue")


def test_missing_language_data_says_what_to_install(monkeypatch):
    import sys

    from spire import prompts

    prompts._language_code.cache_clear()
    monkeypatch.setitem(sys.modules, "language_data", None)  # import now raises ImportError
    with pytest.raises(LanguageError, match=r"pip install 'langcodes\[data\]'"):
        resolve_language("German")
    prompts._language_code.cache_clear()


def test_docstring_examples_run():
    import doctest

    from spire import prompts

    result = doctest.testmod(prompts)
    assert result.attempted > 0 and result.failed == 0
