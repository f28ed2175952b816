"""How much the command line says: -v/-q set the log level; library code logs, it does not print;
model loads show no per-load progress bars unless -v."""

import ast
import logging
from pathlib import Path

import pytest

from units.cli.logs import configure_logging, split_verbosity, verbosity_level

REPO = Path(__file__).resolve().parents[2]
#: Modules whose job is to print: the command line, and report printers meant for stdout.
PRINTING = {"spire/cli.py", "spire/mini/cli.py", "units/__main__.py"}
PRINTING_DIRS = ("spire/commands/", "units/cli/")
PRINTING_FUNCTIONS = {("units/corpus/labelling.py", "print_summary")}


@pytest.fixture(autouse=True)
def _restore_logging():
    levels = {name: logging.getLogger(name).level for name in ("spire", "units")}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    configure_logging(0)


def test_flags_before_the_command_are_counted():
    assert split_verbosity(["-q", "-q", "eval", "-v"]) == (-2, ["eval", "-v"])
    assert split_verbosity(["-vv", "-q", "demo", "--quiet"]) == (1, ["demo", "--quiet"])
    assert [verbosity_level(v) for v in (-3, -1, 0, 1, 2)] == [
        logging.ERROR, logging.WARNING, logging.INFO, logging.INFO, logging.DEBUG]


@pytest.mark.parametrize("verbosity, info, warning, error", [(0, True, True, True), (-1, False, True, True),
                                                             (-2, False, False, True)])
def test_verbosity_sets_what_reaches_stderr(capsys, verbosity, info, warning, error):
    configure_logging(verbosity)
    configure_logging(verbosity)  # one handler, however often
    log = logging.getLogger("spire.mini.demo")
    log.info("step one")
    log.warning("careful")
    logging.getLogger("units.cli.options").error("broken")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert ("step one" in captured.err, "careful" in captured.err, "broken" in captured.err) == (info, warning, error)
    assert captured.err.count("careful") == (1 if warning else 0)


def test_spire_command_takes_the_flags_before_and_after_the_command(capsys):
    from spire.cli import main

    for argv in (["-q", "demo", "--quick", "--print-config"], ["demo", "-qq", "--quick", "--print-config"]):
        assert main(argv) == 0
        assert "n_train" in capsys.readouterr().out  # results still on stdout
        assert logging.getLogger("spire").level >= logging.WARNING


def test_model_loads_show_no_progress_bars_unless_verbose(tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from spire.testing import tiny_llama

    model = tiny_llama(tmp_path / "m", tokenizer="bpe", vocab_size=300)
    capsys.readouterr()
    configure_logging(0)
    AutoModelForCausalLM.from_pretrained(str(model))
    assert "Loading weights" not in capsys.readouterr().err
    configure_logging(1)
    AutoModelForCausalLM.from_pretrained(str(model))
    assert "Loading weights" in capsys.readouterr().err


def _prints(path: Path) -> list[str]:
    """`print(` calls in a module, outside the functions allowed to print."""
    relative = path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (relative, node.name) in PRINTING_FUNCTIONS:
            allowed |= {id(n) for n in ast.walk(node)}
    return [f"{relative}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print" and id(node) not in allowed]


def test_library_code_logs_instead_of_printing():
    found = []
    for package in ("spire", "units"):
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative in PRINTING or relative.startswith(PRINTING_DIRS):
                continue
            found += _prints(path)
    assert found == []
