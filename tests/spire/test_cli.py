"""The `spire` command's conventions: --version, every default in --help, one progress switch."""

import argparse

import pytest

import spire
from spire.cli import COMMANDS, HelpFormatter, build_parser, main


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def _leaf_commands() -> list[tuple[str, ...]]:
    """Every runnable command line prefix: the commands, and the sub-commands of those that have them."""
    import importlib

    leaves = []
    for name, (module_name, _) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        importlib.import_module(module_name).add_arguments(parser)
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        leaves += [(name, sub) for action in subs for sub in action.choices] if subs else [(name,)]
    return leaves


LEAVES = _leaf_commands()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"spire {spire.__version__}"


@pytest.mark.parametrize("argv", LEAVES, ids=" ".join)
def test_every_help_shows_its_defaults(capsys, argv):
    assert "(default:" in _help(capsys, *argv)


def test_the_formatter_shows_defaults_that_say_something():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter, epilog="line one\n  line two")
    parser.add_argument("--batch", type=int, default=8, help="rows")
    parser.add_argument("--device", default=None, help="cuda or cpu")
    parser.add_argument("--force", action="store_true", help="overwrite")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="bars")
    text = parser.format_help()
    assert "rows (default: 8)" in text and "bars (default: True)" in text
    assert "cuda or cpu\n" in text and "overwrite\n" in text  # None and an off switch say nothing
    assert "line one\n  line two" in text  # epilogs keep their lines


def test_demo_help_lists_its_settings(capsys):
    text = _help(capsys, "demo")
    for line in ("  n_train=16000", "(--quick: 4000)", "  cpt_optimizer=muon", "  it_lr=0.0007", "  seq_len=256",
                 "  threads=null"):
        assert line in text, line
    assert "--progress, --no-progress" in text


def test_one_progress_switch(capsys):
    with_progress = [argv for argv in LEAVES if "--no-progress" in _help(capsys, *argv)]
    assert ("demo",) in with_progress and ("build-data", "cpt") in with_progress and ("mini", "corpus") in with_progress
    for argv in LEAVES:
        text = _help(capsys, *argv)
        assert "--quiet" not in text, argv  # the old spelling still works, unlisted
        if argv[0] != "units":  # units' flags: tests/units
            assert ("--no-progress" in text) == ("--progress, --no-progress" in text), argv


def test_old_progress_spelling_still_parses():
    from spire.commands import build_data

    parser = argparse.ArgumentParser()
    build_data.add_arguments(parser)
    assert parser.parse_args(["cpt", "--out", "o", "--quiet"]).progress is False
    assert parser.parse_args(["cpt", "--out", "o", "--no-progress"]).progress is False
    assert parser.parse_args(["cpt", "--out", "o"]).progress is True


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in COMMANDS) and "--version" in text
