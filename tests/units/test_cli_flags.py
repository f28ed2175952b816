"""`spire units` flags come from the config dataclasses: names, defaults and help in one place."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from units.cli import COMMANDS, add_arguments
from units.cli.flags import HelpFormatter, add_dataclass_flags, config_from_args, field_docs

REPO = Path(__file__).resolve().parents[2]
SUBCOMMANDS = [
    "sample-features",
    "fit-kmeans",
    "label",
    "import-kmeans",
    "make-extractor",
    "fit-vtln",
]


@dataclass(frozen=True, kw_only=True)
class Example:
    """A config with one field of each kind the builder handles."""

    max_frames: int | None = 500
    """Most frames kept (50% of them)."""
    rate: float = 0.25
    """Share of utterances used."""
    mode: Literal["a", "b"] = "a"
    """Which mode."""
    name: str | None = None
    """Optional name."""
    progress: bool = True
    """Show a bar."""
    gpu: bool | None = None
    """Use a GPU (None: when one is there)."""


def _parser(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    add_dataclass_flags(parser, Example, **kwargs)
    return parser


def test_field_docstrings_become_help_and_defaults_are_shown():
    assert field_docs(Example)["rate"] == "Share of utterances used."
    text = " ".join(_parser().format_help().split())
    assert "--max-frames N Most frames kept (50% of them). (default: 500)" in text
    assert "--rate X Share of utterances used. (default: 0.25)" in text
    assert "--mode {a,b} Which mode. (default: a)" in text
    assert "--progress, --no-progress Show a bar. (default: True)" in text
    assert "--name NAME Optional name." in text and "(default: None)" not in text


def test_parsed_flags_build_the_config():
    parser = _parser(aliases={"rate": ["--share"]})
    assert config_from_args(Example, parser.parse_args([])) == Example()
    args = parser.parse_args(
        [
            "--max-frames",
            "7",
            "--share",
            "0.5",
            "--mode",
            "b",
            "--name",
            "n",
            "--no-progress",
            "--gpu",
        ]
    )
    assert config_from_args(Example, args) == Example(
        max_frames=7, rate=0.5, mode="b", name="n", progress=False, gpu=True
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])
    assert config_from_args(Example, parser.parse_args(["--no-gpu"])).gpu is False


def test_fields_that_cannot_be_flags_are_refused_by_name():
    @dataclass(kw_only=True)
    class Bad:
        items: list = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="Bad.items must be a bool, int, float or str"):
        add_dataclass_flags(argparse.ArgumentParser(), Bad)
    parser = argparse.ArgumentParser()
    assert add_dataclass_flags(parser, Bad, skip=["items"]) == []


def _units_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spire units")
    add_arguments(parser)
    return parser


def test_every_config_field_is_a_flag_with_its_default():
    from units.corpus.labelling import LabelConfig
    from units.corpus.sampling import SampleConfig
    from units.kmeans.report import FitConfig

    parser = _units_parser()
    base = {
        "sample-features": ["--manifest", "m", "--out", "o", "--featurizer", "mfcc"],
        "fit-kmeans": ["--features", "f.npy", "--out", "o"],
        "label": ["--manifest", "m", "--out", "o", "--featurizer", "mfcc"],
    }
    for name, cls in (
        ("sample-features", SampleConfig),
        ("fit-kmeans", FitConfig),
        ("label", LabelConfig),
    ):
        args = parser.parse_args([name, *base[name]])
        assert config_from_args(cls, args) == cls(), name
    assert sorted(COMMANDS) == sorted(SUBCOMMANDS)


def test_existing_flag_names_keep_working():
    parser = _units_parser()
    args = parser.parse_args(
        ["fit-kmeans", "--features", "f", "--out", "o", "--heldout", "0.2", "--no-gpu"]
    )
    assert args.heldout_fraction == 0.2 and args.gpu is False
    args = parser.parse_args(
        [
            "label",
            "--manifest",
            "m",
            "--out",
            "o",
            "--kmeans",
            "k",
            "--featurizer",
            "mfcc",
            "--no-dedup",
            "--no-progress",
            "--unit-format",
            "extra_id",
            "--format",
            "arrow",
            "--num-shards",
            "2",
            "--shard-index",
            "1",
            "--part-size",
            "8",
            "--load-workers",
            "2",
        ]
    )
    assert (args.dedup, args.progress, args.unit_format, args.format) == (
        False,
        False,
        "extra_id",
        "arrow",
    )
    assert (args.num_shards, args.shard_index, args.part_size, args.load_workers) == (2, 1, 8, 2)
    args = parser.parse_args(
        [
            "sample-features",
            "--manifest",
            "m",
            "--out",
            "o",
            "--featurizer",
            "h",
            "--layer",
            "9",
            "--dtype",
            "bfloat16",
            "--max-hours",
            "1.5",
            "--progress",
        ]
    )
    assert (args.layer, args.dtype, args.max_hours, args.progress) == (9, "bfloat16", 1.5, True)
    args = parser.parse_args(
        ["import-kmeans", "--sklearn", "k.pkl", "--out", "o", "--trust-pickle"]
    )
    assert args.trust_pickle and args.featurizer is None
    args = parser.parse_args(
        ["make-extractor", "--featurizer", "mfcc", "--kmeans", "k", "--out", "o", "--force"]
    )
    assert args.force and args.dedup
    args = parser.parse_args(
        [
            "fit-vtln",
            "--manifest",
            "m",
            "--out",
            "o",
            "--stack",
            "2",
            "--cmvn",
            "mean",
            "--codebook-size",
            "16",
            "--no-progress",
        ]
    )
    assert (args.stack, args.cmvn, args.codebook_size, args.progress) == (2, "mean", 16, False)


def test_fit_vtln_defaults_are_the_library_defaults():
    from units.cli.fit_vtln import VtlnOptions
    from units.features.vtln_fit import fit_vtln

    library = inspect.signature(fit_vtln).parameters
    options = VtlnOptions()
    for name in ("max_frames", "codebook_size", "iterations", "seed"):
        assert getattr(options, name) == library[name].default, name


def test_spire_units_help_lists_all_six_subcommands():
    import os

    env = {**os.environ, "COLUMNS": "300"}  # no line breaks inside a name
    run = subprocess.run(
        [sys.executable, "-m", "spire.cli", "units", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    head, _, listing = run.stdout.partition("positional arguments")
    for name in SUBCOMMANDS:
        assert name in head, name  # the description line names them
        assert f"\n    {name}" in listing, name  # and each is listed with its help
    label_help = subprocess.run(
        [sys.executable, "-m", "units", "label", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env=env,
    ).stdout
    flat = " ".join(label_help.split())
    assert "--part-size N Items per part file" in flat and "(default: 64)" in flat
    assert "--progress, --no-progress" in flat
