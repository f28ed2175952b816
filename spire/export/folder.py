"""The non-engine half of an exported folder: config, tokenizer, chat template, extractor, checks.

An exported folder must work alone: the model's config.json (its `spire` section is the unit
metadata), the tokenizer files as saved (copied byte for byte, so tokenisation cannot drift), a
ChatML chat template, and the unit extractor copied into `extractor/`. `check_units` proves,
with the exported tokenizer, that every unit is still exactly one token with its recorded id,
and that the engine's vocabulary names each id as the tokenizer does.

>>> CHATML_TEMPLATE.startswith("{% for message in messages %}")
True
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from spire.export.errors import ExportError

#: Files copied from the model folder when present (weights are the engine's business).
CARRIED_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
)

#: ChatML as `spire.prompts.chat` writes it; saved when the model's tokenizer has no template.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def copy_model_files(model_dir: Path, out_dir: Path) -> list[str]:
    """Copy config, tokenizer and chat template files; add a ChatML template if none exists."""
    copied = []
    for name in CARRIED_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
            copied.append(name)
    if not _has_chat_template(out_dir):
        (out_dir / "chat_template.jinja").write_text(CHATML_TEMPLATE, encoding="utf-8")
        copied.append("chat_template.jinja (ChatML, written)")
    return copied


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    if config.is_file():
        return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
    return False


def copy_extractor(extractor_dir: Path, out_dir: Path) -> Path:
    """Copy a saved unit extractor folder to `out_dir/extractor` (symlinks resolved), its SSL
    encoder's weights included."""
    if not (extractor_dir / "extractor.json").is_file():
        raise ExportError(
            f"extractor must be a saved unit extractor folder (with extractor.json), but "
            f"{extractor_dir} is not; fix: pass the folder written by "
            "`UnitExtractor.save_pretrained` (or `spire units make-extractor`)"
        )
    target = out_dir / "extractor"
    shutil.copytree(extractor_dir, target, symlinks=False)
    _bundle_encoder(target)
    return target


def _bundle_encoder(extractor: Path) -> None:
    """An SSL featurizer saved without its weights names its encoder folder by absolute path:
    copy that folder into `extractor/encoder`, so the export does not depend on it."""
    from units.features.base import FEATURIZER_FILE, write_featurizer_json

    record_path = extractor / FEATURIZER_FILE
    if not record_path.is_file():
        return
    record = json.loads(record_path.read_text(encoding="utf-8"))
    encoder = record.get("encoder_path")
    if not isinstance(encoder, str) or not Path(encoder).is_absolute():
        return  # MFCC (no encoder), or weights already inside the folder
    if not Path(encoder).is_dir():
        raise ExportError(
            f"the extractor's encoder folder {encoder} (featurizer.json encoder_path) must exist "
            "to be copied into the export, but does not; fix: save the extractor with "
            "copy_weights=True, or restore that folder"
        )
    shutil.copytree(encoder, extractor / "encoder")
    record["encoder_path"] = "encoder"
    write_featurizer_json(extractor, record)


def spire_section(model_dir: Path) -> dict[str, Any]:
    """`config.spire` of the model folder: the unit metadata that must travel with it."""
    path = model_dir / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ExportError(
            f"model_dir must be a saved model folder with a readable config.json, but {path} is "
            f"not ({error.__class__.__name__}); fix: pass the output folder of `spire train`"
        ) from error
    meta = config.get("spire")
    if not isinstance(meta, dict) or not meta.get("num_units") or meta.get("first_unit_id") is None:
        raise ExportError(
            f"model_dir must hold an extended model (config.spire with num_units and "
            f"first_unit_id), but {path} has none; fix: run `spire extend` (then `spire train`)"
        )
    return meta


def check_units(tokenizer: Any, meta: dict[str, Any], vocabulary: list[str] | None = None) -> int:
    """Every unit one token with id `first_unit_id + i`, alone and after "Speech: "; the
    engine vocabulary (if given) names every tokenizer id as the tokenizer does. Returns the
    number of units checked."""
    from units.encoding import unit_strings

    count, first = int(meta["num_units"]), int(meta["first_unit_id"])
    strings = unit_strings(count, meta.get("unit_format", "pua"))
    for index, text in enumerate(strings):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if ids != [first + index]:
            raise ExportError(
                f"unit {index} ({text!r}) must be exactly the token {first + index} in the "
                f"exported tokenizer, but encodes to {ids}; fix: export a model whose tokenizer "
                "was saved by `spire extend` / `spire train`"
            )
    run = tokenizer.encode("Speech: " + "".join(strings), add_special_tokens=False)
    if run[-count:] != list(range(first, first + count)):
        raise ExportError(
            "the units written one after another in a prompt must stay one token each in the "
            "exported tokenizer, but they do not; fix: export a model saved by `spire extend`"
        )
    if vocabulary is not None:
        size = len(tokenizer)
        names = tokenizer.convert_ids_to_tokens(list(range(size)))
        if len(vocabulary) < size or vocabulary[:size] != names:
            bad = next(
                (i for i in range(min(size, len(vocabulary))) if vocabulary[i] != names[i]),
                len(vocabulary),
            )
            raise ExportError(
                f"the engine vocabulary must name token id {bad} as the tokenizer does "
                f"({names[bad] if bad < size else None!r}), but it does not; fix: re-export "
                "with the tokenizer saved beside the model"
            )
    return count
