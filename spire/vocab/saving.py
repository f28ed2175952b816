"""Model folders that both major transformers versions load, with spire's chat template inside.

transformers 5 saves a tokenizer in a layout that 4.x cannot read (`extra_special_tokens` as a
list, `tokenizer_class: TokenizersBackend`, no `added_tokens_decoder`) and drops the
SentencePiece `tokenizer.model`; its config keeps RoPE settings only in `rope_parameters`, which
4.x ignores (it would fall back to its default theta). `write_compatible_files` adds what 4.x
reads beside what 5.x reads, changing nothing 5.x sees: same ids, same specials, same config.
With the fast tokenizer (`AutoTokenizer`'s default in both versions) the ids are the same; 4.x's
slow SentencePiece tokenizer (`use_fast=False`) splits around added tokens in its own way and is
not a supported reader.

`set_chat_template` gives a tokenizer with the ChatML specials spire's template
(`spire.prompts.CHAT_TEMPLATE`), which `render_chat` then uses: the prompt every chat tool
builds from the saved folder is the one spire trained on.

>>> compatible_rope({"rope_parameters": {"rope_theta": 1e6, "rope_type": "default"}})
{'rope_theta': 1000000.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spire import prompts
from spire.vocab.tokens import CHAT_SPECIALS

__all__ = [
    "compatible_rope",
    "compatible_tokenizer_config",
    "has_chat_specials",
    "render_chat",
    "set_chat_template",
    "template_difference",
    "write_compatible_files",
]

TOKENIZER_CONFIG = "tokenizer_config.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"
SENTENCEPIECE_FILE = "tokenizer.model"
#: The fields of one `added_tokens_decoder` entry, as 4.x writes and reads them.
_ADDED_TOKEN_FIELDS = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")


def has_chat_specials(tokenizer: Any) -> bool:
    """Whether `<|im_start|>` and `<|im_end|>` are tokens of `tokenizer` (not unknown).

    >>> has_chat_specials(extended_tokenizer)                                   # doctest: +SKIP
    True
    """
    vocab = tokenizer.get_vocab()
    return all(special in vocab for special in CHAT_SPECIALS)


def set_chat_template(tokenizer: Any) -> bool:
    """Give `tokenizer` spire's ChatML template when it has the chat specials; True if set.

    A template the tokenizer already had is replaced: the model is (or will be) trained on
    spire's rendering, so that is the one chat tools must reproduce.

    >>> set_chat_template(extended_tokenizer)                                   # doctest: +SKIP
    True
    """
    if not has_chat_specials(tokenizer):
        return False
    tokenizer.chat_template = prompts.CHAT_TEMPLATE
    return True


def render_chat(
    tokenizer: Any, messages: Sequence[tuple[str, str]], *, add_generation_prompt: bool = False
) -> str:
    """`messages` (role, content) as the prompt text: the tokenizer's chat template when it has
    one (what transformers, TRL and vLLM use), else `spire.prompts.chat` (the same text for
    spire's template).

    >>> render_chat(tokenizer, [("user", "Speech: x\\nEnglish:")], add_generation_prompt=True)  # doctest: +SKIP
    '<|im_start|>user\\nSpeech: x\\nEnglish:<|im_end|>\\n<|im_start|>assistant\\n'
    """
    if getattr(tokenizer, "chat_template", None):
        conversation = [{"role": role, "content": content} for role, content in messages]
        return tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    return prompts.chat(messages, add_generation_prompt=add_generation_prompt)


def template_difference(tokenizer: Any) -> str | None:
    """Why the tokenizer's chat template renders prompts other than spire's ChatML (which
    spire's instruction tuning trains on), or None when it has none or renders the same.

    >>> template_difference(extended_tokenizer) is None                         # doctest: +SKIP
    True
    """
    if not getattr(tokenizer, "chat_template", None):
        return None
    probe = [("user", "Speech: x\nEnglish:"), ("assistant", "hi"), ("user", "Translate this.")]
    expected = prompts.chat(probe, add_generation_prompt=True)
    try:
        rendered = render_chat(tokenizer, probe, add_generation_prompt=True)
    except Exception as error:  # a template's own errors have no common base class
        rendered = f"<error: {error}>"
    if rendered == expected:
        return None
    return (
        f"the tokenizer's chat template renders {rendered[:120]!r} where spire's ChatML (the "
        f"format of its instruction tuning) gives {expected[:120]!r}; prompts follow the "
        "tokenizer's template. fix: if the model was trained with spire, save spire's template "
        "with spire.vocab.set_chat_template(tokenizer) and tokenizer.save_pretrained(model_dir)"
    )


def compatible_tokenizer_config(config: dict[str, Any], tokenizer_json: dict[str, Any] | None) -> dict[str, Any]:
    """`tokenizer_config.json` with the fields 4.x needs added (and nothing 5.x reads changed).

    >>> compatible_tokenizer_config({"tokenizer_class": "TokenizersBackend"}, None)
    {'tokenizer_class': 'PreTrainedTokenizerFast'}
    """
    out = dict(config)
    if out.get("tokenizer_class") == "TokenizersBackend":
        out["tokenizer_class"] = "PreTrainedTokenizerFast"  # 4.x's name; 5.x maps it back
    extra = out.get("extra_special_tokens")
    if isinstance(extra, list):
        # 4.x reads a dict of named extra tokens here and fails on a list; both read this key.
        del out["extra_special_tokens"]
        if extra:
            out.setdefault("additional_special_tokens", extra)
    if tokenizer_json is not None and "added_tokens_decoder" not in out:
        out["added_tokens_decoder"] = {
            str(token["id"]): {name: token[name] for name in _ADDED_TOKEN_FIELDS if name in token}
            for token in tokenizer_json.get("added_tokens", [])
        }
    return out


def compatible_rope(config: dict[str, Any]) -> dict[str, Any]:
    """The legacy RoPE keys (`rope_theta`, `rope_scaling`) 4.x reads, from 5.x's `rope_parameters`;
    empty when there is nothing to add (both versions read the legacy keys the same way)."""
    rope = config.get("rope_parameters")
    if not isinstance(rope, dict) or "rope_type" not in rope:
        return {}  # absent, or one entry per layer type: left to the version that wrote it
    added: dict[str, Any] = {}
    if "rope_theta" in rope and "rope_theta" not in config:
        added["rope_theta"] = float(rope["rope_theta"])
    scaling = {key: value for key, value in rope.items() if key != "rope_theta"}
    if rope["rope_type"] != "default" and config.get("rope_scaling") is None:
        added["rope_scaling"] = scaling
    return added


def write_compatible_files(folder: str | Path, *, source_dir: str | Path | None = None) -> list[str]:
    """Make a saved model folder loadable by transformers 4.x as well as 5.x; return what changed.

    Rewrites `tokenizer_config.json` (`compatible_tokenizer_config`, plus the chat template of
    `chat_template.jinja` as `chat_template`), adds the legacy RoPE keys to `config.json`, and
    copies `tokenizer.model` from `source_dir` (the folder the model was loaded from) when the
    saved folder lacks it. Files are rewritten atomically; a folder already compatible is left
    byte for byte as it is.

    >>> write_compatible_files("runs/it", source_dir="runs/extended")          # doctest: +SKIP
    ['tokenizer_config.json', 'tokenizer.model']
    """
    from units.files import atomic_open, read_json, write_json

    folder = Path(folder)
    changed = []
    config_path = folder / TOKENIZER_CONFIG
    if config_path.is_file():
        config = read_json(config_path)
        tokenizer_path = folder / "tokenizer.json"
        tokenizer_json = read_json(tokenizer_path) if tokenizer_path.is_file() else None
        new = compatible_tokenizer_config(config, tokenizer_json)
        template = folder / CHAT_TEMPLATE_FILE
        if template.is_file() and not new.get("chat_template"):
            new["chat_template"] = template.read_text(encoding="utf-8")
        if new != config:
            write_json(config_path, new)
            changed.append(TOKENIZER_CONFIG)
    model_config_path = folder / "config.json"
    if model_config_path.is_file():
        model_config = read_json(model_config_path)
        rope = compatible_rope(model_config)
        if rope:
            write_json(model_config_path, {**model_config, **rope})
            changed.append("config.json")
    if source_dir is not None:
        source = Path(source_dir) / SENTENCEPIECE_FILE
        target = folder / SENTENCEPIECE_FILE
        if source.is_file() and not target.exists():
            with atomic_open(target, "wb") as handle:
                handle.write(source.read_bytes())
            changed.append(SENTENCEPIECE_FILE)
    return changed
