"""Writing a model in CTranslate2's format with CTranslate2's own transformers converter.

The converter names the rows of an embedding padded past the tokenizer `<extra_id_N>`; with
`extra_id` units those names already exist, and a token string that maps to two ids would send
CTranslate2 to the wrong row. Such padding rows are renamed (they are never generated as text:
the tokenizer has no id for them), which keeps the vocabulary one string per id.

>>> _unique_padding(["a", "<extra_id_0>", "<extra_id_0>"], tokenizer_size=2)
['a', '<extra_id_0>', '<spire_unused_2>']
"""

from __future__ import annotations

import json
from pathlib import Path

from spire.export.errors import ExportError
from spire.inference.engines.ct2 import import_ctranslate2


def convert_ct2(model_dir: Path, engine_dir: Path, *, quant: str, tokenizer_size: int) -> Path:
    """Convert the transformers model in `model_dir` into `engine_dir` with weights in `quant`.

    >>> convert_ct2(Path("runs/it"), Path("out/ct2"), quant="int8", tokenizer_size=32007)  # doctest: +SKIP
    """
    ctranslate2 = import_ctranslate2()
    converter = ctranslate2.converters.TransformersConverter(
        str(model_dir), low_cpu_mem_usage=True, trust_remote_code=False
    )
    try:
        converter.convert(str(engine_dir), quantization=quant, force=True)
    except (ValueError, NotImplementedError) as error:
        raise ExportError(
            f"model_dir must hold a model CTranslate2 can convert (a Llama-family causal LM), but "
            f"converting {model_dir} failed ({error}); fix: export a model made by `spire extend`"
            " / `spire train`"
        ) from error
    path = engine_dir / "vocabulary.json"
    vocabulary = json.loads(path.read_text(encoding="utf-8"))
    fixed = _unique_padding(vocabulary, tokenizer_size=tokenizer_size)
    if fixed != vocabulary:
        path.write_text(json.dumps(fixed, ensure_ascii=False), encoding="utf-8")
    if len(set(fixed)) != len(fixed):
        raise ExportError(
            f"the engine vocabulary must hold each token string once, but {path} repeats some "
            "below the tokenizer's size; fix: check the tokenizer for duplicate tokens"
        )
    return engine_dir


def _unique_padding(vocabulary: list[str], *, tokenizer_size: int) -> list[str]:
    seen = set(vocabulary[:tokenizer_size])
    out = list(vocabulary[:tokenizer_size])
    for index in range(tokenizer_size, len(vocabulary)):
        token = vocabulary[index]
        out.append(f"<spire_unused_{index}>" if token in seen else token)
        seen.add(out[-1])
    return out
