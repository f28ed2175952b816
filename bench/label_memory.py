"""python bench/label_memory.py [--utterances 160] [--factor 10] [--encoder mfcc|hubert]

Peak resident memory (ru_maxrss) of `units.label_corpus` on a corpus and on one `--factor` times
longer (same utterance lengths, more of them), each labelled in a fresh subprocess so the peaks
do not mix. Prints both peaks and the rise; target: <= 20% for a 10x longer corpus (memory is
bounded by a part of the corpus, not by the corpus).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from units.testing import tone_speech


def write_corpus(root: Path, utterances: int) -> Path:
    """`utterances` tone-speech wavs of 2-8 s (seeded, so the small corpus prefixes the large)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    voices = [tone_speech(8.0, seed=seed) for seed in range(50)]
    lines = []
    for i in range(utterances):
        samples = int(rng.uniform(2.0, 8.0) * 16000)
        sf.write(root / f"u{i:05d}.wav", voices[i % 50][:samples], 16000, subtype="PCM_16")
        lines.append(
            json.dumps({"id": f"u{i:05d}", "audio": f"u{i:05d}.wav", "text": f"utterance {i}"})
            + "\n"
        )
    (root / "corpus.jsonl").write_text("".join(lines))
    return root / "corpus.jsonl"


def child(manifest: str, out: str, encoder: str, work: str) -> None:
    """Label `manifest` and print the peak RSS in MiB (runs in its own process)."""
    from units.corpus.labelling import LabelConfig, label_corpus
    from units.extractor import UnitExtractor
    from units.kmeans.quantizer import KMeansQuantizer

    if encoder == "hubert":
        from units.features.ssl_featurizer import SSLFeaturizer
        from units.testing import tiny_hubert

        path = Path(work) / "hubert"
        if not (path / "config.json").is_file():
            tiny_hubert(path, num_layers=4, hidden=64)
        featurizer = SSLFeaturizer.from_pretrained(path, layer=3, device="cpu")
    else:
        from units.features.mfcc import MfccFeaturizer

        featurizer = MfccFeaturizer()
    frames = featurizer.featurize([tone_speech(10.0, seed=999)])[0].numpy()
    quantizer = KMeansQuantizer(
        frames[np.random.default_rng(0).choice(len(frames), 50, replace=False)]
    )
    summary = label_corpus(
        manifest, UnitExtractor(featurizer, quantizer), out, config=LabelConfig(progress=False)
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"peak_mib": peak_mib, "ok": summary.ok, "audio_hours": summary.audio_hours}))


def measure(manifest: Path, out: Path, encoder: str, work: Path) -> dict:
    code = "import sys; sys.path.insert(0, sys.argv[1]); import label_memory as m; m.child(*sys.argv[2:])"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(manifest),
            str(out),
            encoder,
            str(work),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--utterances", type=int, default=160, help="small corpus (>= 2 parts of 64)"
    )
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--encoder", choices=("mfcc", "hubert"), default="mfcc")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_label_memory_"))
    small = write_corpus(work / "small", args.utterances)
    large = write_corpus(work / "large", args.utterances * args.factor)
    if args.encoder == "hubert":
        measure(
            small, work / "warmup", args.encoder, work
        )  # builds the model once, outside the timing
    a = measure(small, work / "out_small", args.encoder, work)
    b = measure(large, work / "out_large", args.encoder, work)
    rise = b["peak_mib"] / a["peak_mib"] - 1
    print(
        f"encoder {args.encoder}; corpus {a['audio_hours'] * 60:.1f} min ({a['ok']} utterances): "
        f"peak RSS {a['peak_mib']:.0f} MiB"
    )
    print(
        f"{args.factor}x corpus {b['audio_hours'] * 60:.1f} min ({b['ok']} utterances): "
        f"peak RSS {b['peak_mib']:.0f} MiB"
    )
    print(f"rise: {rise:+.1%} (target <= +20%)")


if __name__ == "__main__":
    main()
