"""The `spire` command: a thin table of subcommands.

    spire --help
    spire --version

Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs (or when `--help` lists them), so the CLI
starts instantly. User errors (`SpireError`, `UnitsError`) exit with code 2, bugs with 1.

One convention for every command: a YAML config plus `key.sub=value` overrides where a command
has a config, every default shown in `--help`, `--progress/--no-progress` for progress bars, and
`-v/--verbose`, `-q` for how much is logged to stderr (`units.cli.logs`); results go to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from units.cli.flags import HelpFormatter as UnitsHelpFormatter
from units.cli.logs import add_verbosity_flags, configure_logging, split_verbosity

# name -> (module, one-line help). The module provides add_arguments(parser) and run(args).
COMMANDS: dict[str, tuple[str, str]] = {
    "units": ("units.cli", "speech -> discrete units at corpus scale (fit-vtln, sample-features, fit-kmeans, import-kmeans, make-extractor, label)"),
    "mini": ("spire.mini.cli", "the offline miniature's building blocks (corpus)"),
    "extend": ("spire.commands.extend", "add unit tokens to an LLM's tokenizer and embeddings"),
    "build-data": ("spire.commands.build_data", "build continued-pretraining or instruction data"),
    "train": ("spire.commands.train", "train a CPT or IT stage from a YAML recipe"),
    "transcribe": ("spire.commands.transcribe", "speech -> English text"),
    "translate": ("spire.commands.translate", "speech -> text in another language"),
    "eval": ("spire.commands.evaluate", "score ASR (WER), ST and MT (BLEU, chrF) on a dataset"),
    "export": ("spire.commands.export", "write a model for a CPU engine (CTranslate2 int8)"),
    "demo": ("spire.commands.demo", "run the whole recipe in miniature, offline on CPU"),
}


class HelpFormatter(UnitsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The `spire units` rule for every command: each option's default after its help (not for
    required options, None, or off-by-default switches); descriptions and epilogs keep their lines."""


class ArgumentParser(argparse.ArgumentParser):
    """The parser of `spire` and of every subcommand (sub-subcommands inherit it): `HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from spire import __version__

    parser = ArgumentParser(prog="spire", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"spire {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="say more (-v: library progress bars, -vv: debug); also after COMMAND")
    parser.add_argument("-q", dest="quiet", action="count", default=argparse.SUPPRESS,
                        help="say less (-q: warnings, -qq: errors only); also after COMMAND")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module_name)
        # Arguments are added lazily (see main) so `spire --help` imports nothing heavy.
        command.set_defaults(_parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    verbosity, argv = split_verbosity(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])
        return 2
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            print(f"spire {name}: not available in this version", file=sys.stderr)
            return 2
        raise
    command_parser = ArgumentParser(prog=f"spire {name}", description=help_text)
    module.add_arguments(command_parser)
    add_verbosity_flags(command_parser)
    args = command_parser.parse_args(argv[1:])
    configure_logging(verbosity + getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    return run_command(module.run, args)


def run_command(fn, args: argparse.Namespace) -> int:
    from spire.errors import SpireError
    from units.errors import UnitsError

    try:
        return int(fn(args) or 0)
    except (SpireError, UnitsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
