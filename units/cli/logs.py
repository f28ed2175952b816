"""How much the command line says: `-v/--verbose` and `-q`, for `spire` and `python -m units`.

Library code reports through `logging` (loggers `spire.*` and `units.*`); the commands print
only their results (transcripts, reports) on stdout. The flags set what reaches stderr:

    -qq  errors only          -q  warnings too          (none)  progress notes too
    -v   library progress bars of transformers (weight loading) too       -vv  debug messages

>>> verbosity_level(0), verbosity_level(-1), verbosity_level(2)
(20, 30, 10)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

__all__ = ["add_verbosity_flags", "configure_logging", "split_verbosity", "verbosity_level"]

#: The loggers the command line shows (everything spire and units log goes through them).
LOGGERS = ("spire", "units")
# No --quiet: that was the old name of --no-progress, still read (unlisted) by build-data.
_FLAGS = {"-v": 1, "--verbose": 1, "-q": -1}
_HUB_BARS = "HF_HUB_DISABLE_PROGRESS_BARS"
_OURS = "ON"  # a true value to huggingface_hub, told apart from the usual "1" a user sets


def add_verbosity_flags(parser: argparse.ArgumentParser) -> None:
    """`-v/--verbose` and `-q` (both repeatable) as `args.verbose` / `args.quiet`, on
    `parser` or, when it has subcommands, on each of them (a flag given to both a parser and its
    subcommand would take the subcommand's default)."""
    subcommands = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    if subcommands:
        for choice in {id(p): p for p in subcommands[0].choices.values()}.values():
            add_verbosity_flags(choice)
        return
    taken = set(parser._option_string_actions)  # a command's own flag of that name wins
    group = parser.add_argument_group("output")
    for names, dest, text in (
        (("-v", "--verbose"), "verbose",
         "say more: -v shows the library's progress bars (weight loading), -vv debug messages"),
        (("-q",), "quiet",
         "say less: -q warnings and errors only, -qq errors only (results still go to stdout)"),
    ):
        free = [name for name in names if name not in taken]
        if free:
            group.add_argument(*free, dest=dest, action="count", default=argparse.SUPPRESS, help=text)


def split_verbosity(argv: Sequence[str]) -> tuple[int, list[str]]:
    """The verbosity of the flags before the command name, and the rest of `argv`.

    >>> split_verbosity(["-v", "-qq", "transcribe", "-q"])
    (-1, ['transcribe', '-q'])
    """
    rest = list(argv)
    level = 0
    while rest:
        flag = rest[0]
        if flag in _FLAGS:
            level += _FLAGS[flag]
        elif len(flag) > 2 and flag[0] == "-" and flag[1] in "vq" and set(flag[1:]) == {flag[1]}:
            level += (len(flag) - 1) * _FLAGS["-" + flag[1]]  # -vv, -qq
        else:
            break
        rest.pop(0)
    return level, rest


def verbosity_level(verbosity: int) -> int:
    """The logging level of a verbosity (verbose count minus quiet count)."""
    if verbosity <= -2:
        return logging.ERROR
    if verbosity == -1:
        return logging.WARNING
    return logging.DEBUG if verbosity >= 2 else logging.INFO


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(verbosity: int = 0) -> None:
    """Send `spire.*` and `units.*` records at `verbosity_level(verbosity)` and above to stderr
    (one handler, however often it is called), and below -v hide transformers' per-load
    progress bars ("Loading weights", "Writing model shards"); training's own bar stays.

    >>> configure_logging(-1)
    """
    level = verbosity_level(verbosity)
    formatter = logging.Formatter(
        "%(levelname)s %(name)s: %(message)s" if level <= logging.DEBUG else "%(message)s"
    )
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
        if handler is None:
            handler = _StderrHandler()
            logger.addHandler(handler)
        handler.setFormatter(formatter)
    if verbosity >= 1 and os.environ.get(_HUB_BARS) == _OURS:
        del os.environ[_HUB_BARS]  # set by an earlier call, not by the user
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        bars = transformers_logging.enable_progress_bar if verbosity >= 1 else transformers_logging.disable_progress_bar
        with warnings.catch_warnings():  # huggingface_hub's own bars may stay off: it says so
            warnings.simplefilter("ignore", UserWarning)
            bars()
    elif verbosity < 1 and _HUB_BARS not in os.environ:
        # Read when transformers is imported (it copies huggingface_hub's setting then).
        os.environ[_HUB_BARS] = _OURS
        if "huggingface_hub" in sys.modules:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
