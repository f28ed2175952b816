"""One output folder, one writer: shard locks, shard verification, clean resumes, refusals.

The concurrency and kill tests run the labeller as real processes (`python -m units label`);
`SPIRE_TEST_PAUSE=locked:S` holds a run for S seconds once its shard locks are taken, so two
runs started together overlap for sure, and `SPIRE_TEST_KILL=point:n` kills at a named point.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from labelling_helpers import (
    REPO,
    all_files,
    cli_label,
    extractor_of,
    label_command,
    label_env,
    make_corpus,
    manifest_ids,
    records,
    reject_ids,
)

from units.corpus.labelling import LabelConfig, label_corpus
from units.corpus.locks import OutputLockedError, hold
from units.corpus.output import shard_lock
from units.corpus.shards import ShardError, ShardIncompleteError
from units.files import atomic_open


def _assert_clean(out: Path) -> None:
    """A finished folder: no parts, no temporaries, no locks; only the run's files."""
    leftovers = [
        name
        for name in all_files(out)
        if name.startswith((".parts", ".tmp-", ".lock")) or "/.tmp-" in name
    ]
    assert leftovers == [] and not (out / ".parts").exists()
    assert (out / "summary.json").is_file()


def _assert_each_id_once(out: Path, manifest: Path, pattern: str = "units-*.jsonl.gz") -> None:
    found = Counter([r["id"] for r in records(out, pattern)] + reject_ids(out))
    assert sorted(found) == sorted(manifest_ids(manifest))
    assert set(found.values()) == {1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] + summary["rejected"] == summary["total"] == len(found)


@pytest.mark.parametrize("part_sizes", [(2, 2), (2, 4)], ids=["same", "different_part_size"])
def test_two_labellers_at_once_one_wins_the_other_is_refused(tmp_path, kmeans_dir, part_sizes):
    manifest = make_corpus(tmp_path / "c", bad=True)
    out = tmp_path / "out"
    env = label_env(pause="locked:4")  # whoever locks first holds the shard for 4 s
    runs = [
        subprocess.Popen(
            label_command(manifest, kmeans_dir, out, part_size=size),
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for size in part_sizes
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    results = [(run.pid, run.returncode, err) for run, (_, err) in zip(runs, outputs)]
    assert sorted(code for _, code, _ in results) == [0, 2], [err[-2000:] for *_, err in results]
    winner = next(pid for pid, code, _ in results if code == 0)
    refused = next(err for _, code, err in results if code != 0)
    assert f"process {winner} on host" in refused and "fix:" in refused
    assert "Traceback" not in refused
    _assert_each_id_once(out, manifest)
    _assert_clean(out)


def test_a_held_shard_is_refused_at_once_naming_the_holder(tmp_path, kmeans_dir):
    manifest = make_corpus(tmp_path / "c")
    out = tmp_path / "out"
    with hold(shard_lock(out, 0, 1), what="shard 0 of 1"):
        with pytest.raises(OutputLockedError, match=f"process {os.getpid()} on host") as caught:
            label_corpus(
                manifest, extractor_of(kmeans_dir), out, config=LabelConfig(progress=False)
            )
        assert caught.value.holder["pid"] == os.getpid()
        # refused before reading or writing anything: no provenance, no parts, no temporaries
        assert sorted(p.name for p in out.iterdir()) == [".lock-shard-00000-of-00001"]
    # other shards of the same folder are not blocked by it
    summary = label_corpus(
        manifest,
        extractor_of(kmeans_dir),
        out,
        config=LabelConfig(num_shards=2, shard_index=1, progress=False),
    )
    assert summary.shards == (1,) and summary.total > 0


@pytest.mark.parametrize(
    ("kill", "left"),
    [
        ("shard-summary:1", ".tmp-summary-00000-of-00002.json."),
        ("summary:1", ".parts/shard-00000-of-00002/part-000000.jsonl"),
        ("final-rejects:1", ".tmp-rejects.jsonl."),
        ("final-summary:1", ".tmp-summary.json."),
    ],
)
def test_killed_at_a_named_point_resumes_clean_and_identical(tmp_path, kmeans_dir, kill, left):
    manifest = make_corpus(tmp_path / "c", bad=True)
    out = tmp_path / "resumed"
    killed = cli_label(manifest, kmeans_dir, out, kill=kill, extra=["--num-shards", "2"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert any(name.startswith(left) for name in all_files(out)), sorted(all_files(out))
    config = LabelConfig(num_shards=2, part_size=2, progress=False)
    summary = label_corpus(manifest, extractor_of(kmeans_dir), out, config=config)
    assert summary.complete
    label_corpus(manifest, extractor_of(kmeans_dir), tmp_path / "fresh", config=config)
    _assert_clean(out)
    assert all_files(out) == all_files(tmp_path / "fresh")
    _assert_each_id_once(out, manifest)


def test_a_shard_with_lost_or_doubled_rows_is_refused_on_every_rerun(tmp_path, kmeans_dir):
    manifest = make_corpus(tmp_path / "c", bad=True)
    out = tmp_path / "out"
    config = LabelConfig(format="jsonl", part_size=3, progress=False)
    label_corpus(manifest, extractor_of(kmeans_dir), out, config=config)
    units = out / "units-00000-of-00001.jsonl"
    lines = units.read_text().splitlines(keepends=True)
    units.write_text("".join(lines[:1] + lines[:1] + lines[2:]))  # u0 twice, u1 gone
    for _ in range(2):
        with pytest.raises(ShardIncompleteError) as caught:
            label_corpus(manifest, extractor_of(kmeans_dir), out, config=config)
        message = str(caught.value)
        assert "1 ids more than once (e.g. ['u0'])" in message
        assert "1 missing (e.g. ['u1'])" in message and "fix: delete" in message


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_num_shards_below_one_is_refused_by_name(value):
    with pytest.raises(ShardError, match=r"num_shards must be an integer >= 1, but is"):
        LabelConfig(num_shards=value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("part_size", 0), ("load_workers", 0), ("batch_seconds", float("nan")), ("shard_index", -1)],
)
def test_other_settings_out_of_range_are_refused_by_name(field, value):
    with pytest.raises(ShardError, match=f"^{field} must be"):
        LabelConfig(**{field: value})


def test_out_dir_that_is_a_file_is_refused_naming_it(tmp_path, kmeans_dir):
    manifest = make_corpus(tmp_path / "c")
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    with pytest.raises(ShardError, match=f"out_dir must be a folder, but {target} is a file"):
        label_corpus(manifest, extractor_of(kmeans_dir), target, config=LabelConfig(progress=False))
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_atomic_writes_honour_the_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        with atomic_open(tmp_path / "x.bin") as handle:
            handle.write(b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.bin").stat().st_mode) == 0o666 & ~mask


def test_label_outputs_honour_the_umask(tmp_path, kmeans_dir):
    manifest = make_corpus(tmp_path / "c")
    previous = os.umask(0o027)
    try:
        label_corpus(
            manifest, extractor_of(kmeans_dir), tmp_path / "out", config=LabelConfig(progress=False)
        )
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes and set(modes.values()) == {0o640}, modes
