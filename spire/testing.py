"""Test factories: tiny Llama models with tokenizers trained on the spot, offline, in seconds.

Used by the tests of vocab, data, training and inference (and by anyone trying the API):

>>> from spire.testing import tiny_llama                                 # doctest: +SKIP
>>> path = tiny_llama("/tmp/tiny", tokenizer="bpe")                      # doctest: +SKIP
>>> AutoModelForCausalLM.from_pretrained(path)                           # doctest: +SKIP

Two tokenizer families cover what real bases use: a Llama-2-style SentencePiece BPE model with
byte fallback (Tower, Llama-2, Mistral) and a GPT-2-style byte-level BPE (Qwen, Llama-3, GPT-2).
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path

_WORDS = {
    "en": "the a speech model hears voice and writes text every day small house river "
    "green light reads book friend city music water morning child walks".split(),
    "de": "der die das Sprache Modell hört eine Stimme und schreibt Text jeden Tag kleine "
    "Haus Fluss grüne Licht liest Buch Freund Stadt Musik Wasser Morgen Kind über".split(),
    "fr": "le la les modèle entend une voix et écrit du texte chaque jour petite maison "
    "rivière verte lumière lit livre ami ville musique eau matin enfant où déjà".split(),
}


def sample_sentences(count: int = 300, *, seed: int = 0) -> list[str]:
    """Deterministic pseudo-sentences in English, German and French (with accents and digits).

    >>> len(sample_sentences(6))
    6
    """
    rng = random.Random(seed)
    languages = sorted(_WORDS)
    sentences = []
    for index in range(count):
        words = _WORDS[languages[index % len(languages)]]
        body = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
        sentences.append(f"{body.capitalize()} {rng.randint(0, 99)}.")
    return sentences


def _sentencepiece_tokenizer(texts: Sequence[str], vocab_size: int):
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    model = io.BytesIO()
    # Llama-2's settings: BPE, byte fallback, digits split, <unk>=0 <s>=1 </s>=2, no pad.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue(), LlamaTokenizer, {"add_bos_token": True, "add_eos_token": False}


def _bpe_tokenizer(texts: Sequence[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )


def tiny_llama(
    out_dir: str | Path,
    *,
    tokenizer: str = "sentencepiece",
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    seed: int = 0,
    texts: Sequence[str] | None = None,
) -> Path:
    """Build and save a random-init Llama-2-style causal LM with a tokenizer trained on `texts`.

    `tokenizer` is "sentencepiece" (Llama-2 layout: byte fallback, BOS added, `tokenizer.model`
    kept beside `tokenizer.json`) or "bpe" (byte-level, `<|endoftext|>` as BOS and EOS).
    Input and output embeddings are untied, as in Llama-2. The folder loads offline with
    `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`.

    >>> path = tiny_llama(tmp_path / "base", tokenizer="bpe")            # doctest: +SKIP
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = list(texts) if texts is not None else sample_sentences(300, seed=seed)
    if tokenizer == "sentencepiece":
        model_bytes, tokenizer_class, options = _sentencepiece_tokenizer(corpus, vocab_size)
        (out / "tokenizer.model").write_bytes(model_bytes)
        tok = tokenizer_class.from_pretrained(str(out), **options)
    elif tokenizer == "bpe":
        tok = _bpe_tokenizer(corpus, vocab_size)
    else:
        raise ValueError(f"tokenizer must be 'sentencepiece' or 'bpe', but is {tokenizer!r}")
    tok.save_pretrained(str(out))

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    model.save_pretrained(str(out))
    return out


def tiny_extended_llama(
    out_dir: str | Path,
    *,
    num_units: int = 50,
    tokenizer: str = "sentencepiece",
    unit_format: str = "pua",
    chat_specials: bool = True,
    seed: int = 0,
    **llama_options,
) -> Path:
    """A tiny Llama already extended with `num_units` unit tokens (see `spire.vocab.extend.extend_model`).

    Writes the base to `out_dir/base` and returns `out_dir/extended`.

    >>> path = tiny_extended_llama(tmp_path, num_units=20)               # doctest: +SKIP
    """
    from spire.vocab.extend import extend_model

    out = Path(out_dir)
    base = tiny_llama(out / "base", tokenizer=tokenizer, seed=seed, **llama_options)
    result = extend_model(
        base,
        out / "extended",
        num_units=num_units,
        unit_format=unit_format,
        chat_specials=chat_specials,
        seed=seed,
    )
    return result.out_dir


def fake_unit_rows(
    count: int,
    *,
    num_units: int,
    seed: int = 0,
    languages: Sequence[str] = ("de", "fr"),
    max_units: int = 40,
) -> list[dict]:
    """Rows shaped like `spire units label` output: id, units (pua string), text, one field per language.

    The "translations" are pseudo-sentences (tagged with the language), enough for data tests.

    >>> row = fake_unit_rows(1, num_units=10)[0]
    >>> sorted(row)
    ['de', 'duration_s', 'fr', 'id', 'n_frames', 'text', 'units']
    """
    rng = random.Random(seed)
    sentences = sample_sentences(count * (1 + len(languages)), seed=seed)
    rows = []
    for index in range(count):
        ids = [rng.randrange(num_units) for _ in range(rng.randint(3, max_units))]
        row = {
            "id": f"utt{index:05d}",
            "units": "".join(chr(983040 + i) for i in ids),
            "n_frames": len(ids) * 2,
            "duration_s": len(ids) * 0.04,
            "text": sentences[index],
        }
        for offset, language in enumerate(languages, 1):
            row[language] = f"[{language}] {sentences[count * offset + index]}"
        rows.append(row)
    return rows
