"""The miniature's "Tower": a tiny text-only Llama that knows English, German, French and translation.

Its SentencePiece tokenizer (Llama-2 layout: BPE with byte fallback) is trained on the corpus'
training text; the model is trained with `spire.training.recipe` on monolingual English/German/French
sentences and on translations written with the paper's MT prompt:

    Translate the following text from English to German.\\nEnglish: {text}\\nGerman: {translation}

`translate_with_base` asks the base model that prompt and reads its answer (up to EOS or the
end of the line), which is the text-translation baseline the adapted model is compared with.

>>> base = stage_base_lm(DemoConfig.quick(out_dir="/tmp/mini"), corpus)       # doctest: +SKIP
>>> translate_with_base(base.model, ["The dog sleeps."], src="en", tgt="de")    # doctest: +SKIP
['Der Hund schläft.']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from spire.mini.config import DemoConfig
from spire.mini.results import BaseModelResult, CorpusResult, load_summary, save_summary
from spire.mini.stages import fresh, mark_done, stage_done
from spire.prompts import mt_prompt

__all__ = ["MT_DIRECTIONS", "base_documents", "stage_base_lm", "translate_with_base"]

logger = logging.getLogger(__name__)

#: Translation directions the base model is taught (and evaluated on).
MT_DIRECTIONS = (("en", "de"), ("en", "fr"))
_FIELDS = {"en": "text", "de": "de", "fr": "fr"}


def base_documents(rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    """The base LM's training documents: each sentence in en/de/fr, then its MT prompts with answers.

    >>> docs = list(base_documents([{"text": "Hi.", "de": "Hallo.", "fr": "Salut."}]))
    >>> docs[:3], docs[3].splitlines()[-1]
    (['Hi.', 'Hallo.', 'Salut.'], 'German: Hallo.')
    """
    for row in rows:
        for language in ("en", "de", "fr"):
            yield row[_FIELDS[language]]
        for src, tgt in MT_DIRECTIONS:
            yield f"{mt_prompt(row[_FIELDS[src]], src, tgt)} {row[_FIELDS[tgt]]}"


def _write_dataset(documents: Sequence[str], tokenizer: Any, out_dir: Path, seq_len: int, progress: bool) -> Any:
    from spire.data.output import write_rows
    from spire.data.packing import PackStats, concat_and_split

    encoded = tokenizer(list(documents), add_special_tokens=True)["input_ids"]
    stats = PackStats()
    rows = concat_and_split(
        (list(ids) + [tokenizer.eos_token_id] for ids in encoded),
        seq_len=seq_len, pad_id=tokenizer.eos_token_id, stats=stats,
    )
    write_rows(rows, out_dir, progress=progress)
    return stats


def stage_base_lm(config: DemoConfig, corpus: CorpusResult) -> BaseModelResult:
    """Stage 3: tokenizer + tiny Llama trained on the corpus' text (no speech)."""
    from transformers import AutoTokenizer

    from spire.data.sources import read_records
    from spire.mini.training import count_parameters, read_curve, train_stage
    from spire.testing import tiny_llama

    folder = Path(config.out_dir) / "base"
    settings = {"corpus": corpus.utterances, "seed": config.seed, "vocab_size": config.vocab_size,
                "hidden_size": config.hidden_size, "num_layers": config.num_layers,
                "epochs": config.base_epochs, "lr": config.base_lr, "optimizer": config.base_optimizer, "seq_len": config.seq_len,
                "micro_batch": config.micro_batch}
    start = time.perf_counter()
    if not stage_done(folder, settings):
        fresh(folder)
        documents = list(base_documents(list(read_records(corpus.manifest("train")))))
        logger.info(f"  tokenizer + tiny Llama ({config.num_layers} layers, hidden {config.hidden_size})")
        # The prompt words of CPT and IT join the tokenizer's text, so "Speech:" is one piece or two.
        prompt_words = ["Speech: English: German: French: Translate this into German. Translate this into French."]
        tiny_llama(folder / "init", tokenizer="sentencepiece", vocab_size=config.vocab_size,
                   hidden_size=config.hidden_size, num_layers=config.num_layers, seed=config.seed,
                   texts=documents + prompt_words * 200)
        tokenizer = AutoTokenizer.from_pretrained(str(folder / "init"))
        data = _write_dataset(documents, tokenizer, folder / "data", config.seq_len, config.progress)
        logger.info(f"  text data: {data.documents} documents, {data.tokens} tokens")
        run = train_stage("base", model_path=folder / "init", data_dir=folder / "data",
                          output_dir=folder / "model", epochs=config.base_epochs, lr=config.base_lr,
                          optimizer=config.base_optimizer, config=config)
        save_summary(BaseModelResult(**vars(run), folder=folder, data=data, vocab_size=len(tokenizer),
                                     parameters=count_parameters(folder / "model")), folder)
        mark_done(folder, settings)
    return load_summary(BaseModelResult, folder, curve=read_curve(folder / "model"),
                        stage_wall_s=time.perf_counter() - start)


def translate_with_base(
    model_dir: str | Path,
    texts: Sequence[str],
    *,
    src: str,
    tgt: str,
    batch_size: int = 32,
    max_new_tokens: int = 48,
) -> list[str]:
    """Greedy translations by the text-only base model with the paper's MT prompt (no chat format)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.inference.generation import DecodingSettings, generate_transformers

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    settings = DecodingSettings(batch_size=batch_size, max_new_tokens=max_new_tokens)
    outputs = generate_transformers(model, tokenizer, [mt_prompt(t, src, tgt) for t in texts], settings)
    decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in outputs]
    return [text.strip().split("\n")[0].strip() for text in decoded]
