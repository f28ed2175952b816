"""LLM-side steps of the scale check that need Python rather than the `spire` CLI.

    python bench/scale_llm.py tokenizer --work runs/scale
    python bench/scale_llm.py base --work runs/scale --layers 1
    python bench/scale_llm.py check-extend --work runs/scale
    python bench/scale_llm.py data-sources --work runs/scale
    python bench/scale_llm.py check-data --work runs/scale
    python bench/scale_llm.py compare-runs --work runs/scale --a runs/cpt --b runs/cpt_resumed --at-step 2
    python bench/scale_llm.py final --work runs/scale --model runs/scale/it

Each step checks what it made and prints one `SCALE-RESULT {json}` line for `bench/scale.py`.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

from scale_run import emit
from scale_text import pseudo_sentences, spire_text

PIECES = 32000  # Llama-2 / TowerBase's SentencePiece vocabulary
UNITS = 5000
PADDED_ROWS = 37056  # 32000 + 5 specials + 5000 units + 2 chat specials, to a multiple of 64
# Rows of each labelled utterance in the training data: 60 s of speech is too little for a
# few packed rows per rank and step, so its ASR/ST examples are repeated (plumbing, not quality).
REPEATS = 8


def tokenizer(work: Path) -> None:
    """A 32,000-piece SentencePiece BPE model with Llama-2's settings, trained here."""
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    base = work / "base"
    base.mkdir(parents=True, exist_ok=True)
    texts = spire_text(60000, seed=0) + pseudo_sentences(160000, seed=0)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=PIECES, model_type="bpe",
        byte_fallback=True, split_digits=True, character_coverage=0.99995, unk_id=0, bos_id=1,
        eos_id=2, pad_id=-1, normalization_rule_name="identity", remove_extra_whitespaces=False,
        hard_vocab_limit=True, num_threads=2, minloglevel=2, input_sentence_size=0,
    )
    (base / "tokenizer.model").write_bytes(model.getvalue())
    tok = LlamaTokenizer.from_pretrained(str(base), add_bos_token=True, add_eos_token=False)
    tok.save_pretrained(str(base))
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    failures = []
    if sp.get_piece_size() != PIECES or len(tok) != PIECES:
        failures.append(f"the tokenizer must have {PIECES} pieces, but has {sp.get_piece_size()} ({len(tok)} in transformers)")
    if [sp.id_to_piece(i) for i in range(3)] != ["<unk>", "<s>", "</s>"]:
        failures.append("ids 0-2 must be <unk> <s> </s> as in Llama-2")
    if any(sp.piece_to_id(f"<0x{b:02X}>") == 0 for b in range(256)):
        failures.append("all 256 byte-fallback pieces must exist")
    held_out = spire_text(200, seed=1) + ["Zürich, 1987: naïve café — déjà vu ✓ 東京"]
    broken = [t for t in held_out if tok.decode(tok(t, add_special_tokens=False).input_ids) != t]
    if broken:
        failures.append(f"decode(encode(text)) must give the text back, but does not for {broken[:2]}")
    emit({"pieces": len(tok), "texts": len(texts), "chars": sum(map(len, texts))}, failures)


def base(work: Path, layers: int) -> None:
    """A Llama with TowerBase-7B's widths and vocabulary, `layers` decoder layers, random weights."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=PIECES, hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers,
        num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
        rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2)
    model.save_pretrained(str(work / "base"))
    params = sum(p.numel() for p in model.parameters())
    emit({"params": params, "layers": layers}, [])


def _tensor(folder: Path, name: str, rows: slice):
    """Rows of one saved tensor, read from the safetensors file that holds it (no full load)."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    file = json.loads(index.read_text())["weight_map"][name] if index.is_file() else "model.safetensors"
    with safe_open(str(folder / file), framework="pt") as handle:
        return handle.get_slice(name)[rows]


def _shape(folder: Path, name: str) -> list[int]:
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    file = json.loads(index.read_text())["weight_map"][name] if index.is_file() else "model.safetensors"
    with safe_open(str(folder / file), framework="pt") as handle:
        return list(handle.get_slice(name).get_shape())


def check_extend(work: Path) -> None:
    """Every unit one token, original ids and text tokenization unchanged, rows padded."""
    import torch
    from transformers import AutoTokenizer

    from spire.vocab.extend import check_unit_vocab, unit_strings

    base_dir, ext_dir = work / "base", work / "extended"
    old, new = AutoTokenizer.from_pretrained(str(base_dir)), AutoTokenizer.from_pretrained(str(ext_dir))
    failures = []
    first = check_unit_vocab(new, UNITS)
    if first != PIECES + 5:
        failures.append(f"the first unit must be id {PIECES + 5}, but is {first}")
    joined = new("".join(unit_strings(UNITS)), add_special_tokens=False).input_ids
    if joined != list(range(first, first + UNITS)):
        failures.append("5000 units written together must encode to 5000 consecutive single tokens")
    specials = {"<CLS>": 32000, "<SEP>": 32004, "<|im_end|>": 37005, "<|im_start|>": 37006}
    for text, wanted in specials.items():
        if new.convert_tokens_to_ids(text) != wanted:
            failures.append(f"{text} must be id {wanted}, but is {new.convert_tokens_to_ids(text)}")
    old_vocab, new_vocab = old.get_vocab(), new.get_vocab()
    moved = [p for p, i in old_vocab.items() if new_vocab.get(p) != i]
    if moved or len(old_vocab) != PIECES:
        failures.append(f"the {PIECES} original pieces must keep their ids, but {len(moved)} moved")
    texts = spire_text(300, seed=2) + pseudo_sentences(100, seed=2) + ["Speech: 12 <s> x\nEnglish:"]
    changed = [t for t in texts if old(t).input_ids != new(t).input_ids]
    if changed:
        failures.append(f"text must tokenize as before, but {len(changed)} texts changed, e.g. {changed[0]!r}")
    mixed = "Speech: " + "".join(unit_strings(40)[::3]) + "\nEnglish: the red dog"
    if new.decode(new(mixed, add_special_tokens=False).input_ids) != mixed:
        failures.append("units mixed with words must decode back to the same text")
    config = json.loads((ext_dir / "config.json").read_text())
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        shape = _shape(ext_dir, name)
        if shape != [PADDED_ROWS, 4096]:
            failures.append(f"{name} must be {PADDED_ROWS} x 4096, but is {shape}")
        for lo in range(0, PIECES, 8000):
            rows = slice(lo, lo + 8000)
            if not torch.equal(_tensor(base_dir, name, rows), _tensor(ext_dir, name, rows)):
                failures.append(f"{name} rows {lo}..{lo + 7999} must be unchanged by extend")
                break
    if config.get("tie_word_embeddings") or config.get("vocab_size") != PADDED_ROWS:
        failures.append(f"embeddings must be untied with {PADDED_ROWS} rows, but config says "
                        f"tie={config.get('tie_word_embeddings')} vocab_size={config.get('vocab_size')}")
    emit({"first_unit_id": first, "tokens": len(new), "rows": PADDED_ROWS,
          "architectures": config.get("architectures")}, failures)


def data_sources(work: Path) -> None:
    """Training inputs from the labelled speech: unit rows (repeated), parallel and plain text."""
    from spire.mini.grammar import realize
    from spire.mini.grammar_sampler import sample_sentence
    from units.corpus import read_labelled

    out = work / "data_sources"
    out.mkdir(parents=True, exist_ok=True)
    rows = list(read_labelled(work / "units_batched"))
    with (out / "speech.jsonl").open("w", encoding="utf-8") as handle:
        for copy in range(REPEATS):
            for row in rows:
                keep = {k: row[k] for k in ("units", "text", "de", "fr", "duration_s") if k in row}
                handle.write(json.dumps({"id": f"{row['id']}-{copy}", **keep}, ensure_ascii=False) + "\n")
    rng = random.Random(3)
    pairs = [realize(sample_sentence(rng)) for _ in range(400)]
    with (out / "en_de.jsonl").open("w", encoding="utf-8") as handle:
        for i, t in enumerate(pairs):
            handle.write(json.dumps({"id": f"p{i}", "en": t.en, "de": t.de}, ensure_ascii=False) + "\n")
    (out / "en_mono.txt").write_text("".join(realize(sample_sentence(rng)).en + "\n" for _ in range(400)))
    emit({"speech_rows": len(rows) * REPEATS, "utterances": len(rows), "parallel": len(pairs)}, [])


def check_data(work: Path, unit_lo: int = PIECES + 5) -> None:
    """Rows within seq_len and packed; CPT trains on every token, IT on answers only."""
    import datasets

    failures, facts = [], {}
    for name, seq_len in (("cpt", 2048), ("it", 4096)):
        ds = datasets.load_from_disk(str(work / "data" / name))
        lengths = [len(ids) for ids in ds["input_ids"]]
        docs = [sum(1 for p in pos if p == 0) for pos in ds["position_ids"]]
        labelled = unit_labelled = units = 0
        for ids, labels in zip(ds["input_ids"], ds["labels"]):
            for token, label in zip(ids, labels):
                is_unit = unit_lo <= token < unit_lo + UNITS
                units += is_unit
                if label != -100:
                    labelled += 1
                    unit_labelled += is_unit
        facts[name] = {"rows": len(ds), "tokens": sum(lengths), "longest": max(lengths),
                       "fill": round(sum(lengths) / (len(ds) * seq_len), 3),
                       "docs_per_row": round(sum(docs) / len(ds), 2),
                       "labelled": round(labelled / sum(lengths), 3), "unit_tokens": units}
        if max(lengths) > seq_len or len(ds) < 8:
            failures.append(f"{name}: need >= 8 rows of <= {seq_len} tokens, got {len(ds)}, longest {max(lengths)}")
        if sum(docs) <= len(ds):
            failures.append(f"{name}: rows must be packed (several documents per row), but hold {sum(docs)} in {len(ds)}")
        if units == 0:
            failures.append(f"{name}: the rows must hold unit tokens, but hold none")
        if name == "it" and unit_labelled:
            failures.append(f"it: the loss must be on answers only, but {unit_labelled} unit tokens (prompt) carry labels")
    emit(facts, failures)


def compare_runs(a: Path, b: Path, step: int) -> None:
    """Run b (killed and resumed) must equal run a (uninterrupted) at checkpoint-`step`:
    the same loss at every step, the same weights and the same AdamW moments."""
    import torch
    from safetensors.torch import load_file

    def curve(run: Path) -> dict[int, float]:
        lines = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines() if x.strip()]
        return {line["step"]: line["loss"] for line in lines if "loss" in line}

    failures = []
    ca, cb = curve(a), curve(b)
    if sorted(ca) != list(range(1, step + 1)) or sorted(cb) != sorted(ca):
        failures.append(f"both runs must log steps 1..{step}, but log {sorted(ca)} and {sorted(cb)}")
    losses = {s: (ca[s], cb.get(s)) for s in ca}
    if any(cb.get(s) is None or abs(ca[s] - cb[s]) > 1e-5 * max(1.0, abs(ca[s])) for s in ca):
        failures.append(f"the loss curves must be equal, but are {losses}")
    ka, kb = a / f"checkpoint-{step}", b / f"checkpoint-{step}"
    worst = {}
    wa, wb = load_file(str(ka / "model.safetensors")), load_file(str(kb / "model.safetensors"))
    worst["weights"] = max(float((wa[n].float() - wb[n].float()).abs().max()) for n in wa)
    del wa, wb
    oa = torch.load(ka / "optimizer.pt", weights_only=True)["state"]
    ob = torch.load(kb / "optimizer.pt", weights_only=True)["state"]
    for key in ("exp_avg", "exp_avg_sq"):
        worst[key] = max(float((oa[i][key].float() - ob[i][key].float()).abs().max()) for i in oa)
    moved = max(float(oa[i]["exp_avg"].float().abs().max()) for i in oa)
    if any(v > 0 for v in worst.values()):
        failures.append(f"resumed must equal uninterrupted exactly at step {step}, but differs by {worst}")
    if moved == 0:
        failures.append("AdamW moments must be non-zero after training steps (nothing was compared)")
    emit({"losses": losses, "max_abs_diff": worst, "largest_exp_avg": moved}, failures)


def final(model_dir: Path, clip: Path) -> None:
    """The trained folder: a plain LlamaForCausalLM for transformers (and vLLM, by its config),
    and `SpireModel.from_pretrained` transcribes raw audio with it."""
    from transformers import AutoModelForCausalLM

    from spire.inference.model import SpireModel

    failures = []
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("architectures") != ["LlamaForCausalLM"] or config.get("model_type") != "llama":
        failures.append(f"config.json must name LlamaForCausalLM, but has {config.get('architectures')}")
    if "auto_map" in config:
        failures.append("config.json must not need custom code (auto_map)")
    plain = AutoModelForCausalLM.from_pretrained(str(model_dir))
    kind = type(plain).__name__
    del plain
    if kind != "LlamaForCausalLM":
        failures.append(f"transformers must load it as LlamaForCausalLM, but gives {kind}")
    start = time.perf_counter()
    model = SpireModel.from_pretrained(str(model_dir))
    loaded_s = time.perf_counter() - start
    result = model.transcribe(str(clip), max_new_tokens=8)
    if not isinstance(result.text, str) or result.num_units <= 0:
        failures.append(f"transcribe must give text from units, but gave {result!r}")
    emit({"class": kind, "load_s": round(loaded_s, 1), "num_units": result.num_units,
          "text": result.text[:60], "transcribe_s": round(time.perf_counter() - start - loaded_s, 1)},
         failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("tokenizer", "base", "check-extend", "data-sources",
                                         "check-data", "compare-runs", "final"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--a", type=Path)
    parser.add_argument("--b", type=Path)
    parser.add_argument("--at-step", type=int, default=2, help="compare-runs: the checkpoint to compare")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--clip", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    steps = {
        "tokenizer": lambda: tokenizer(args.work),
        "base": lambda: base(args.work, args.layers),
        "check-extend": lambda: check_extend(args.work),
        "data-sources": lambda: data_sources(args.work),
        "check-data": lambda: check_data(args.work),
        "compare-runs": lambda: compare_runs(args.a, args.b, args.at_step),
        "final": lambda: final(args.model, args.clip),
    }
    steps[args.step]()
    print(f"{args.step}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
