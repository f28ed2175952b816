"""`spire extend`: add unit tokens to an LLM's tokenizer and embeddings.

    spire extend --model TowerBase-7B --out spire-init --num-units 5000 --extractor extractor/

Writes a plain transformers model (tokenizer + config + weights) whose config records the unit
vocabulary and the extractor's provenance (`config.spire`).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="base model folder (any transformers causal LM)"
    )
    parser.add_argument("--out", required=True, help="output folder for the extended model")
    parser.add_argument(
        "--num-units", type=int, default=5000, help="k-means clusters (default 5000)"
    )
    parser.add_argument("--unit-format", choices=("pua", "extra_id"), default="pua")
    parser.add_argument(
        "--chat-specials",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add <|im_end|> and <|im_start|> (default: yes)",
    )
    parser.add_argument(
        "--init", choices=("default", "mean"), default="default", help="new-row initialisation"
    )
    parser.add_argument(
        "--pad-to-multiple-of", type=int, default=64, help="embedding rows (>= 1; 1: no padding)"
    )
    parser.add_argument(
        "--extractor",
        help="saved unit extractor folder (or its extractor.json): checked against --num-units, "
        "recorded and copied into OUT/extractor; a JSON of provenance alone is checked and recorded",
    )
    parser.add_argument(
        "--check-compatible",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refuse an extractor whose k-means cannot be checked against its featurizer (no "
        "provenance, or a forced pairing); --no-check-compatible accepts it with a warning and "
        "records that in config.spire",
    )
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from spire.vocab.extend import extend_model
    from spire.vocab.pairing import extractor_folder, read_extractor_provenance

    folder = extractor_folder(args.extractor) if args.extractor else None
    provenance = (
        read_extractor_provenance(args.extractor) if args.extractor and folder is None else None
    )
    result = extend_model(
        args.model,
        args.out,
        num_units=args.num_units,
        unit_format=args.unit_format,
        chat_specials=args.chat_specials,
        init=args.init,
        pad_to_multiple_of=args.pad_to_multiple_of,
        extractor_provenance=provenance,
        extractor_dir=folder,
        check_compatible=args.check_compatible,
        seed=args.seed,
    )
    print(
        f"extended {args.model} -> {result.out_dir}: {result.num_units} units at ids "
        f"{result.first_unit_id}..{result.first_unit_id + result.num_units - 1}, "
        f"{result.vocab_size} tokens, {result.embedding_rows} embedding rows"
    )
    return 0
