"""python bench/generate.py [--clips 16] [--batch-size 16] [--max-new-tokens 32] [--threads 1]

Batched transcription vs one utterance at a time, side by side, on the same tiny model: a
random-init Llama extended with unit tokens (`spire.testing.tiny_llama` + `spire.vocab.extend`) and an
MFCC + k-means extractor fit on the spot. Both paths run `SpireModel.transcribe` end to end
(decode audio, units, prompt, generate); the script checks that they return the same token ids,
then prints wall time, the speed-up and the real-time factor (processing seconds per second of
audio; below 1 is faster than real time).

On a GPU the generation step can also run in vLLM: `SpireModel.from_pretrained(dir,
backend="vllm")` (or `spire transcribe --backend vllm`) hands the prompts to `vllm.LLM` (greedy;
it batches by itself). vLLM is not a dependency: without it that backend raises a BackendError
explaining how to install it, and the transformers path is used everywhere else.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_model(root: Path, num_units: int):
    import numpy as np

    from spire.inference.model import SpireModel
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    featurizer = MfccFeaturizer()
    waves = [tone_speech(2.0, seed=100 + s) for s in range(8)]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, num_units, seed=0, provenance=featurizer.provenance())
    extractor = UnitExtractor(featurizer, quantizer)
    base = tiny_llama(root / "base")
    out = extend_model(
        base, root / "model", num_units=num_units, extractor_provenance=extractor.provenance()
    )
    return SpireModel(_load(out.out_dir), _tok(out.out_dir), extractor, model_dir=out.out_dir)


def _load(model_dir: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True).eval()


def _tok(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--num-units", type=int, default=50)
    # One thread: the tiny model's matmuls are too small to split, and on a busy machine extra
    # intra-op threads mostly wait for each other (2 threads measured ~3x slower here).
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from units.testing import tone_speech

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp), args.num_units)
        clips = [tone_speech(2.0 + (i % 4) * 0.5, seed=i) for i in range(args.clips)]
        audio_s = sum(len(c) for c in clips) / 16000
        options = {"max_new_tokens": args.max_new_tokens}
        model.transcribe(clips[:2], **options)  # warm-up: first-call allocations, lazy imports

        start = time.perf_counter()
        alone = [model.transcribe(c, batch_size=1, **options) for c in clips]
        one_s = time.perf_counter() - start

        start = time.perf_counter()
        batched = model.transcribe(clips, batch_size=args.batch_size, **options)
        batch_s = time.perf_counter() - start

    same = [a.token_ids for a in alone] == [b.token_ids for b in batched]
    tokens = sum(len(t) for r in batched for t in r.token_ids)
    print(
        f"{args.clips} clips, {audio_s:.1f} s of audio, {tokens} generated tokens, "
        f"max_new_tokens={args.max_new_tokens}, greedy, {args.threads} CPU threads"
    )
    print(f"{'mode':<22}{'seconds':>9}{'RTF':>9}{'tokens/s':>10}")
    print(f"{'one at a time':<22}{one_s:>9.2f}{one_s / audio_s:>9.3f}{tokens / one_s:>10.0f}")
    print(
        f"{f'batched (bs={args.batch_size})':<22}{batch_s:>9.2f}{batch_s / audio_s:>9.3f}{tokens / batch_s:>10.0f}"
    )
    print(f"speed-up: {one_s / batch_s:.1f}x (target >= 3x); identical outputs: {same}")


if __name__ == "__main__":
    main()
