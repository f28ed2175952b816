"""python bench/long_audio.py --model demo_out/it/model --manifest demo_out/corpus/test.jsonl

Long recordings against the same sentences one by one. The test utterances of `spire demo` are
joined into long recordings, (a) with pauses of 1-3 s between them and (b) with no pause, for
all of them (~532 s of speech) and for the first 12 (~31 s). Each recording is transcribed in
one `SpireModel.transcribe` call (speech found and cut at pauses, pieces of at most
`--max-chunk-s`), and its WER is set beside the WER of the same utterances transcribed one by
one (the demo's evaluation). Target: ratio <= 1.2 for the recordings with pauses. Speech with no
pause has no boundary to find, so pieces there start and end inside sentences; its ratio is
printed as it is. `--baseline` also runs the reading before speech detection (`vad=False`, cut at
the quietest window every <= 20 s), which issue 16 measured at 90.6% WER on the 532 s recording.

Also counted: pieces whose generated text ran on past the answer into prompt text ("English:",
"Speech:", a new line), which `spire.inference.long_audio.answer_text` cuts off; and whether
prompt labels remain in any output (they must not).

A first table needs no trained model (`--segmentation-only` stops after it; any extended model
folder will do, for its extractor and tokenizer): how the recordings are cut — pieces, utterances
read whole in a piece of their own, utterances split by a cut, and the longest prompt in tokens
(the miniature trains on packed rows of 256 tokens, `configs/mini/demo.yaml` seq_len).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SR = 16000
_LABEL = re.compile(r"\b(?:Speech|English|German|French):")


def read_utterances(manifest: Path, limit: int | None) -> tuple[list, list[str]]:
    from units import load_audio

    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    waves = [load_audio(str(manifest.parent / row["audio"]), SR) for row in rows]
    return waves, [row["text"] for row in rows]


def join(waves: list, pauses: bool, seed: int):
    """One recording: the waves in order, with 1-3 s of silence before, between and after when
    `pauses`; the (start, end) of each utterance in seconds."""
    import numpy as np

    rng = np.random.default_rng(seed)
    parts, starts, now = [], [], 0
    for wave in waves:
        if pauses:
            gap = np.zeros(int(rng.uniform(1.0, 3.0) * SR), dtype=np.float32)
            parts.append(gap)
            now += len(gap)
        starts.append((now / SR, (now + len(wave)) / SR))
        parts.append(wave)
        now += len(wave)
    if pauses:
        parts.append(np.zeros(int(rng.uniform(1.0, 3.0) * SR), dtype=np.float32))
    return np.concatenate(parts), starts


def cut_row(model, wave, utterances: list, max_chunk_s: float, vad: bool) -> dict:
    """How `wave` is cut: pieces, utterances read whole (alone in one piece, missing at most 50 ms
    of their file: pieces are trimmed to the audible part, and a clip's edges fade out), utterances
    split by a cut more than 0.1 s inside them, and the longest prompt in tokens."""
    from spire.inference.long_audio import cut_recording
    from spire.prompts import asr_prompt

    cut = cut_recording(wave, SR, max_piece_s=max_chunk_s, vad=vad)
    bounds = [t for s in cut.spans for t in (s.start_s, s.end_s)]
    split = sum(any(a + 0.1 < b < e - 0.1 for b in bounds) for a, e in utterances)

    def inside(a: float, e: float, span) -> float:
        return max(0.0, min(e, span.end_s) - max(a, span.start_s))

    alone = 0
    for span in cut.spans:
        held = [(a, e) for a, e in utterances if inside(a, e, span) > 0.1]
        if len(held) == 1 and inside(*held[0], span) >= held[0][1] - held[0][0] - 0.05:
            alone += 1
    tokens = 0
    for units in model.extractor.extract_waves(cut.waves):
        chat = [{"role": "user", "content": asr_prompt(units.text)}]
        ids = model.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        tokens = max(tokens, len(ids))
    return {"pieces": len(cut.waves), "alone": alone, "split": split, "max_prompt_tokens": tokens}


def run_on(model, wave, settings: dict) -> tuple[object, int, float]:
    """(result, pieces whose text was cut at prompt text, seconds)."""
    from spire.inference.long_audio import answer_text

    start = time.perf_counter()
    result = model.transcribe((wave, SR), **settings)
    seconds = time.perf_counter() - start
    raw = [model.tokenizer.decode(list(ids), skip_special_tokens=True).strip() for ids in result.token_ids]
    ran_on = sum(answer_text(text) != text for text in raw)
    return result, ran_on, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained model folder (demo_out/it/model)")
    parser.add_argument("--manifest", default="demo_out/corpus/test.jsonl", help="test utterances")
    parser.add_argument("--max-chunk-s", type=float, nargs="+", default=[8.0],
                        help="longest piece (several values: one row each)")
    parser.add_argument("--few", type=int, default=12, help="utterances in the short recording")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="draws the pause lengths")
    parser.add_argument("--baseline", action="store_true", help="also read without speech detection")
    parser.add_argument("--segmentation-only", action="store_true", help="only the cutting table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="also write the rows and hypotheses here (JSON)")
    args = parser.parse_args()

    import torch

    from spire.inference.model import SpireModel

    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.threads} threads")
    model = SpireModel.from_pretrained(args.model, device="cpu")
    waves, refs = read_utterances(Path(args.manifest), None)
    speech_s = sum(len(w) for w in waves) / SR
    print(f"{len(waves)} utterances, {speech_s:.1f} s of speech, from {args.manifest}")
    readings = [("vad", m) for m in args.max_chunk_s] + ([("old", 20.0)] if args.baseline else [])
    recordings = []
    for count in (len(waves), args.few):
        for pauses in (True, False):
            wave, spans = join(waves[:count], pauses, args.seed)
            recordings.append((count, pauses, wave, spans))

    print("\n| utterances | pauses | reading | max piece s | audio s | pieces | read whole, alone | "
          "split by a cut | longest prompt (tokens) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for count, pauses, wave, spans in recordings:
        for kind, max_chunk_s in readings:
            row = cut_row(model, wave, spans, max_chunk_s, kind == "vad")
            print(f"| {count} | {'1-3 s' if pauses else 'none'} | {_reading(kind)} | {max_chunk_s:g} | "
                  f"{len(wave) / SR:.1f} | {row['pieces']} | {row['alone']}/{count} | "
                  f"{row['split']}/{count} | {row['max_prompt_tokens']} |", flush=True)
    if not args.segmentation_only:
        wer_table(model, args, waves, refs, recordings, readings)
    print(f"load average {os.getloadavg()[0]:.1f}")


def wer_table(model, args, waves: list, refs: list[str], recordings: list, readings: list) -> None:
    from spire.evaluation import wer

    start = time.perf_counter()
    alone = model.transcribe([(w, SR) for w in waves], batch_size=args.batch_size)
    hyps = [r.text for r in alone]
    print(f"\none by one: {time.perf_counter() - start:.0f} s; WER {wer(hyps, refs).value:.1f}%, "
          f"{sum(not r.segments for r in alone)} utterances without speech found")
    rows, outputs = [], []
    for count, pauses, wave, _ in recordings:
        ref = " ".join(refs[:count])
        alone_wer = wer(hyps[:count], refs[:count]).value
        for kind, max_chunk_s in readings:
            settings = {"max_chunk_s": max_chunk_s, "batch_size": args.batch_size, "vad": kind == "vad"}
            result, ran_on, seconds = run_on(model, wave, settings)
            joined = wer([result.text], [ref])
            rows.append({
                "utterances": count, "pauses": "1-3 s" if pauses else "none", "reading": _reading(kind),
                "max_chunk_s": max_chunk_s, "seconds": round(len(wave) / SR, 1),
                "pieces": result.num_chunks, "wer_joined": round(joined.value, 1),
                "wer_one_by_one": round(alone_wer, 1),
                "ratio": round(joined.value / alone_wer, 2) if alone_wer else None,
                "deletions": joined.details["deletions"], "ref_words": joined.details["reference_length"],
                "ran_on": ran_on, "labels_left": len(_LABEL.findall(result.text)),
                "wall_s": round(seconds, 1),
            })
            outputs.append({**rows[-1], "text": result.text,
                            "segments": [vars(s) for s in result.segments]})
            print(_row(rows[-1]), flush=True)
    print("\n| utterances | pauses | reading | max piece s | audio s | pieces | WER joined | "
          "WER one by one | ratio | deletions | ran on | labels left |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(_row(row))
    if args.out:
        Path(args.out).write_text(json.dumps({"one_by_one": hyps, "rows": outputs}, indent=1))


def _reading(kind: str) -> str:
    return "speech found" if kind == "vad" else "old: quiet cuts"


def _row(r: dict) -> str:
    ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
    return (f"| {r['utterances']} | {r['pauses']} | {r['reading']} | {r['max_chunk_s']:g} | "
            f"{r['seconds']:.1f} | {r['pieces']} | {r['wer_joined']:.1f}% | {r['wer_one_by_one']:.1f}% | "
            f"{ratio} | {r['deletions']}/{r['ref_words']} | {r['ran_on']} | {r['labels_left']} |")


if __name__ == "__main__":
    main()
