"""`spire units …`: the three commands end to end, and user errors exit with code 2."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spire.cli import main as spire_main
from units.testing import tone_speech

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def corpus(tmp_path) -> Path:
    root = tmp_path / "audio"
    for i, seconds in enumerate((1.5, 1.0, 2.0, 1.2)):
        path = root / f"spk{i % 2}" / f"utt{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone_speech(seconds, seed=i), 16000)
    return root


def test_sample_fit_label_pipeline(tmp_path, corpus, capsys):
    feats = tmp_path / "feats.npy"
    code = spire_main(
        [
            "units",
            "sample-features",
            "--manifest",
            str(corpus),
            "--featurizer",
            "mfcc",
            "--out",
            str(feats),
            "--max-frames",
            "200",
            "--seed",
            "3",
            "--no-progress",
        ]
    )
    assert code == 0
    assert np.load(feats).shape == (200, 39)
    sidecar = json.loads(feats.with_suffix(".json").read_text())
    assert sidecar["featurizer"]["type"] == "mfcc" and sidecar["frames_seen"] > 200

    code = spire_main(
        [
            "units",
            "fit-kmeans",
            "--features",
            str(feats),
            "--k",
            "8",
            "--niter",
            "5",
            "--out",
            str(tmp_path / "km"),
            "--heldout",
            "0.1",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "km" / "fit_report.json").read_text())
    assert report["heldout_frames"] == 20 and report["train_frames"] == 180
    assert 1 <= report["clusters_used"] <= 8 and 1.0 <= report["perplexity"] <= 8.0
    assert report["heldout_inertia_per_frame"] > 0
    printed = capsys.readouterr().out
    assert "clusters used" in printed and "held-out" in printed

    code = spire_main(
        [
            "units",
            "label",
            "--manifest",
            str(corpus),
            "--featurizer",
            "mfcc",
            "--kmeans",
            str(tmp_path / "km"),
            "--out",
            str(tmp_path / "units"),
            "--no-progress",
            "--unit-format",
            "extra_id",
        ]
    )
    assert code == 0
    with gzip.open(tmp_path / "units" / "units-00000-of-00001.jsonl.gz", "rt") as handle:
        records = [json.loads(line) for line in handle]
    assert [r["id"] for r in records] == ["spk0/utt0", "spk0/utt2", "spk1/utt1", "spk1/utt3"]
    assert all(r["units"].startswith("<extra_id_") for r in records)
    assert "ok 4 + rejected 0 = total 4" in capsys.readouterr().out


def test_missing_manifest_exits_2(tmp_path, capsys):
    code = spire_main(
        [
            "units",
            "label",
            "--manifest",
            str(tmp_path / "nope.jsonl"),
            "--featurizer",
            "mfcc",
            "--kmeans",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["label", "--featurizer", "mfcc"], "--kmeans"),
        (["label", "--featurizer", "mfcc", "--kmeans", "KM"], "kmeans.json"),
        (
            ["sample-features", "--featurizer", "no/such/model", "--out", "f.npy"],
            "--featurizer must be",
        ),
        (["sample-features", "--out", "f.npy"], "--extractor or --featurizer"),
        (
            ["sample-features", "--featurizer", "mfcc", "--out", "f.npy", "--max-frames", "0"],
            "budget",
        ),
    ],
)
def test_user_errors_exit_2(tmp_path, corpus, capsys, argv, message):
    argv = [a.replace("KM", str(tmp_path)) for a in argv]
    argv[1:1] = ["--manifest", str(corpus)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    argv = [str(tmp_path / a) if a == "f.npy" else a for a in argv]
    assert spire_main(["units", *argv, "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_fit_kmeans_with_too_few_frames_exits_2(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((10, 3), np.float32))
    code = spire_main(
        [
            "units",
            "fit-kmeans",
            "--features",
            str(tmp_path / "f.npy"),
            "--k",
            "50",
            "--out",
            str(tmp_path / "km"),
            "--no-provenance",
        ]
    )
    assert code == 2
    assert "at least k=50" in capsys.readouterr().err


def test_fit_kmeans_without_a_sidecar_needs_no_provenance(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.random.default_rng(0).standard_normal((400, 3)).astype(np.float32))
    args = ["units", "fit-kmeans", "--features", str(tmp_path / "f.npy"), "--k", "4", "--out", str(tmp_path / "km")]
    assert spire_main(args) == 2
    err = capsys.readouterr().err
    assert "f.json does not exist" in err and "--no-provenance" in err and "sample-features" in err
    assert not (tmp_path / "km").exists()
    assert spire_main(args + ["--no-provenance"]) == 0
    assert "--no-provenance" in capsys.readouterr().err  # the warning
    assert json.loads((tmp_path / "km" / "kmeans.json").read_text())["provenance"] is None


def test_python_dash_m_units_maps_errors_to_2(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "units",
            "fit-kmeans",
            "--features",
            str(tmp_path / "missing.npy"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert run.returncode == 2 and "must exist" in run.stderr


def test_cli_module_imports_nothing_heavy():
    code = "import sys, argparse, units.cli as c; c.add_arguments(argparse.ArgumentParser()); print(sorted(m for m in ('torch', 'transformers', 'datasets', 'faiss') if m in sys.modules))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert run.stdout.strip() == "[]", run.stderr


def test_import_sklearn_kmeans_needs_trust_then_makes_an_extractor(tmp_path, corpus, capsys):
    import joblib
    from sklearn.cluster import MiniBatchKMeans

    from units import UnitExtractor

    frames = np.random.default_rng(0).standard_normal((500, 39)).astype(np.float32)
    pickled = tmp_path / "kmeans.pkl"
    joblib.dump(MiniBatchKMeans(n_clusters=8, random_state=0, n_init=1).fit(frames), pickled)
    base = ["units", "import-kmeans", "--sklearn", str(pickled), "--out", str(tmp_path / "km")]
    base += ["--featurizer", "mfcc"]
    assert spire_main(base) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert not (tmp_path / "km").exists()
    assert spire_main(base + ["--trust-pickle"]) == 0

    make = ["units", "make-extractor", "--featurizer", "mfcc", "--kmeans", str(tmp_path / "km")]
    assert spire_main(make + ["--out", str(tmp_path / "extractor")]) == 0
    extractor = UnitExtractor.from_pretrained(tmp_path / "extractor")
    units = extractor.extract(str(next(corpus.rglob("*.flac"))))
    assert units.ids.max() < 8 and int(units.durations.sum()) == units.n_frames
    # A k-means whose recorded layer differs from the featurizer's is refused unless forced.
    from units.testing import tiny_hubert

    hubert = tiny_hubert(tmp_path / "hubert")
    frames32 = np.random.default_rng(1).standard_normal((300, 32)).astype(np.float32)
    joblib.dump(MiniBatchKMeans(n_clusters=4, random_state=0, n_init=1).fit(frames32), pickled)
    layer2 = ["--featurizer", str(hubert), "--layer", "2"]
    imported = ["units", "import-kmeans", "--sklearn", str(pickled), "--trust-pickle"]
    assert spire_main([*imported, *layer2, "--out", str(tmp_path / "km2")]) == 0
    layer1 = ["--featurizer", str(hubert), "--layer", "1", "--kmeans", str(tmp_path / "km2")]
    capsys.readouterr()
    assert spire_main(["units", "make-extractor", *layer1, "--out", str(tmp_path / "x")]) == 2
    assert "layer" in capsys.readouterr().err
    forced = ["units", "make-extractor", *layer1, "--force", "--out", str(tmp_path / "x")]
    assert spire_main(forced) == 0
    # Every command taking --extractor refuses a forced pairing unless --no-check-compatible.
    label = ["units", "label", "--manifest", str(corpus), "--extractor", str(tmp_path / "x"), "--no-progress"]
    capsys.readouterr()
    assert spire_main([*label, "--out", str(tmp_path / "u1")]) == 2
    assert "--no-check-compatible" in capsys.readouterr().err
    label[-1] = "--progress"  # the bar names what is labelled and its speed against real time
    assert spire_main([*label, "--out", str(tmp_path / "u2"), "--no-check-compatible"]) == 0
    err = capsys.readouterr().err
    assert "k-means is not checked against the featurizer" in err
    assert "label u2" in err and "x real time" in err and "audio h/s" not in err
    sample = ["units", "sample-features", "--manifest", str(corpus), "--extractor", str(tmp_path / "x"),
              "--out", str(tmp_path / "s.npy"), "--no-progress"]
    assert spire_main(sample) == 2 and spire_main([*sample, "--no-check-compatible"]) == 0


def test_fit_vtln_skips_unreadable_audio_and_saves_a_featurizer(tmp_path, corpus, capsys):
    (corpus / "spk0" / "broken.flac").write_bytes(b"not audio at all")
    out = tmp_path / "mfcc_vtln"
    args = ["units", "fit-vtln", "--manifest", str(corpus), "--out", str(out), "--stack", "2",
            "--codebook-size", "16", "--no-progress"]
    assert spire_main(args) == 0
    printed = capsys.readouterr().out
    assert "fit VTLN on 4 utterances (skipped 1 unreadable)" in printed
    assert "broken" in printed
    from units.features.registry import load_featurizer

    featurizer = load_featurizer(out)
    assert featurizer.vtln is not None and featurizer.vtln.centroids.shape == (16, 78)
    assert featurizer.provenance()["vtln"]["warps"] == list(featurizer.vtln.warps)
    # the saved folder is a --featurizer for the other commands
    feats = tmp_path / "feats.npy"
    assert spire_main(["units", "sample-features", "--manifest", str(corpus), "--featurizer",
                       str(out), "--out", str(feats), "--no-progress"]) == 0
    assert np.load(feats).shape[1] == 78
