"""Continued-pretraining data: documents, mixing proportions, packing, bad input, accounting."""

import itertools
import json

import pytest
from datasets import load_from_disk
from transformers import AutoTokenizer

from spire.cli import main as spire_main
from spire.data.cpt import CptDataConfig, build_cpt, cpt_rows, monolingual_documents
from spire.data.output import BuildSummary
from spire.data.packing import IGNORE_INDEX
from spire.data.sources import ParallelSource, SpeechSource, TextSource, vocab_info
from spire.errors import DataError
from spire.prompts import cpt_asr_text, cpt_parallel_text
from spire.testing import fake_unit_rows, sample_sentences

NUM_UNITS = 200  # as in conftest.py


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def _documents(ds, tokenizer):
    """Token lists of the documents in a dataset built with long_documents="drop"."""
    docs = []
    for row in ds:
        ids, pos = row["input_ids"], row["position_ids"]
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(ids)]
        for a, b in zip(starts, starts[1:]):
            segment = ids[a:b]
            if segment[-1] == tokenizer.eos_token_id:  # a document (padding tails never end in EOS)
                docs.append(segment)
    return docs


@pytest.fixture
def corpus(tmp_path):
    rows = fake_unit_rows(120, num_units=NUM_UNITS, seed=1)
    rows[5]["text"] = "   "
    rows[6]["units"] = ""
    del rows[7]["text"]
    manifest = _write_jsonl(tmp_path / "units.jsonl", rows)
    mono = tmp_path / "mono.txt"
    mono.write_text("\n".join(sample_sentences(150, seed=2)[:-1] + [""]) + "\n")
    return rows, manifest, mono


def _config(tiny_extended, manifest, mono, **overrides):
    return CptDataConfig(
        tokenizer=str(tiny_extended),
        speech=[SpeechSource(path=str(manifest))],
        parallel=[
            ParallelSource(
                path=str(manifest), source_lang="en", target_lang="fr", source_field="text"
            )
        ],
        monolingual=[TextSource(path=str(mono))],
        **overrides,
    )


def test_all_documents_packed_and_labelled(tiny_extended, corpus, tmp_path):
    rows, manifest, mono = corpus
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    config = _config(
        tiny_extended, manifest, mono, stop="all_exhausted", long_documents="drop", seq_len=256
    )
    summary = build_cpt(config, tmp_path / "out", progress=False)
    ds = load_from_disk(str(tmp_path / "out"))
    assert ds.column_names == ["input_ids", "labels", "position_ids"]
    for row in ds:
        assert len(row["input_ids"]) == 256
        for token, label in zip(row["input_ids"], row["labels"]):
            assert label == token or (label == IGNORE_INDEX and token == tokenizer.pad_token_id)
    good = [r for i, r in enumerate(rows) if i not in (5, 6, 7)]
    texts = [cpt_asr_text(r["units"], r["text"]) for r in good]
    texts += [
        cpt_parallel_text(r["text"], r["fr"], "en", "fr") for r in rows if r.get("text", "").strip()
    ]
    texts += sample_sentences(150, seed=2)[:-1]
    expected = [ids + [tokenizer.eos_token_id] for ids in tokenizer(texts)["input_ids"]]
    assert sorted(_documents(ds, tokenizer)) == sorted(expected)
    assert summary.dropped == {
        "empty_transcript": 1,
        "empty_units": 1,
        "missing_transcript": 1,
        "empty_text": 3,
    }
    assert (
        summary.kept == len(expected)
        and summary.kept + sum(summary.dropped.values()) == summary.total
    )
    assert summary.total == summary.rows_read == 2 * len(rows) + 150
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["kept"] == summary.kept


def test_split_mode_concatenates_documents_without_loss(tiny_extended, corpus, tmp_path):
    rows, manifest, mono = corpus
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    config = _config(
        tiny_extended, manifest, mono, stop="all_exhausted", seq_len=64, long_documents="split"
    )
    summary = build_cpt(config, tmp_path / "out", progress=False)
    ds = load_from_disk(str(tmp_path / "out"))
    flat = [t for row in ds for t in row["input_ids"]]
    real = flat[: summary.tokens]
    assert all(t == tokenizer.pad_token_id for t in flat[summary.tokens :])
    assert summary.padding_tokens == len(flat) - summary.tokens < 64
    assert sum(summary.tokens_by_source.values()) == summary.tokens
    assert real.count(tokenizer.eos_token_id) >= summary.kept  # one EOS closes every document
    for row in ds:  # positions restart after every EOS inside a row
        for j in range(1, 64):
            after_eos = row["input_ids"][j - 1] == tokenizer.eos_token_id
            if row["input_ids"][j] != tokenizer.pad_token_id:
                assert (row["position_ids"][j] == 0) == after_eos


def test_pack_mode_keeps_pairs_whole_and_cuts_only_long_text(tiny_extended, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    rows = fake_unit_rows(40, num_units=NUM_UNITS, seed=8, max_units=150)
    manifest = _write_jsonl(tmp_path / "units.jsonl", rows)
    long_text = " ".join(sample_sentences(40, seed=9))
    mono = tmp_path / "mono.txt"
    mono.write_text("\n".join([long_text] + sample_sentences(30, seed=10)) + "\n")
    config = CptDataConfig(
        tokenizer=str(tiny_extended),
        speech=[SpeechSource(path=str(manifest))],
        monolingual=[TextSource(path=str(mono))],
        stop="all_exhausted",
        seq_len=96,
    )
    assert config.long_documents == "pack"  # the default
    summary = build_cpt(config, tmp_path / "out", progress=False)
    ds = load_from_disk(str(tmp_path / "out"))
    pair_lengths = [
        len(tokenizer(cpt_asr_text(r["units"], r["text"]))["input_ids"]) + 1 for r in rows
    ]
    long_ids = tokenizer(long_text)["input_ids"] + [tokenizer.eos_token_id]
    assert len(long_ids) > 2 * 96 and any(n > 96 for n in pair_lengths)
    segments = []
    for row in ds:
        pos = row["position_ids"]
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
        segments += [row["input_ids"][a:b] for a, b in zip(starts, starts[1:])]
    segments = [seg for seg in segments if set(seg) != {tokenizer.pad_token_id}]
    # Every ASR pair that fits sits whole in one row: units and transcript together.
    expected_pairs = sorted(
        tokenizer(cpt_asr_text(r["units"], r["text"]))["input_ids"] + [tokenizer.eos_token_id]
        for r, n in zip(rows, pair_lengths)
        if n <= 96
    )
    pairs = [seg for seg in segments if "\nEnglish: " in tokenizer.decode(seg)]
    assert sorted(pairs) == expected_pairs
    # The long text document is cut into row-sized pieces, in order, and nothing else is cut.
    pieces = [long_ids[i : i + 96] for i in range(0, len(long_ids), 96)]
    assert all(piece in segments for piece in pieces)
    assert summary.dropped == {"too_long": sum(n > 96 for n in pair_lengths)}
    assert summary.kept + summary.dropped["too_long"] == summary.total == 40 + 31


def test_unit_loss_off_masks_exactly_the_unit_tokens(tiny_extended, corpus, tmp_path):
    rows, manifest, mono = corpus
    vocab = vocab_info(tiny_extended)
    unit_ids = range(vocab.first_unit_id, vocab.first_unit_id + vocab.num_units)
    on = _config(tiny_extended, manifest, mono, stop="all_exhausted", seq_len=128)
    off = _config(tiny_extended, manifest, mono, stop="all_exhausted", seq_len=128, unit_loss=False)
    build_cpt(on, tmp_path / "on", progress=False)
    build_cpt(off, tmp_path / "off", progress=False)
    with_loss, without = load_from_disk(str(tmp_path / "on")), load_from_disk(str(tmp_path / "off"))
    assert with_loss["input_ids"] == without["input_ids"]
    units_seen = 0
    for row_on, row_off in zip(with_loss, without):
        for token, label_on, label_off in zip(row_on["input_ids"], row_on["labels"], row_off["labels"]):
            if token in unit_ids:
                units_seen += 1
                assert label_off == IGNORE_INDEX and label_on == token
            else:
                assert label_off == label_on  # transcripts, prompts and text keep their loss
    assert units_seen > 1000


def test_mix_follows_token_proportions(tiny_extended, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    rows = fake_unit_rows(150, num_units=NUM_UNITS, seed=3, languages=("de",))
    manifest = _write_jsonl(tmp_path / "units.jsonl", rows)
    big = _write_jsonl(
        tmp_path / "text.jsonl",
        [{"text": s, "en": s, "de": s[::-1]} for s in sample_sentences(3000, seed=4)],
    )
    config = CptDataConfig(
        tokenizer=str(tiny_extended),
        speech=[SpeechSource(path=str(manifest))],
        parallel=[ParallelSource(path=str(big), source_lang="en", target_lang="de")],
        monolingual=[TextSource(path=str(big))],
        proportions={"speech": 2.0, "parallel": 1.0, "monolingual": 1.0},
        long_documents="drop",
        seq_len=512,
    )
    summary = build_cpt(config, tmp_path / "out", progress=False)
    counts = {"speech": 0, "parallel": 0, "monolingual": 0}
    for doc in _documents(load_from_disk(str(tmp_path / "out")), tokenizer):
        text = tokenizer.decode(doc, skip_special_tokens=True).lstrip()
        kind = (
            "speech"
            if text.startswith("Speech:")
            else "parallel"
            if text.startswith("English:")
            else "monolingual"
        )
        counts[kind] += len(doc)
    total = sum(counts.values())
    assert counts == summary.tokens_by_source
    for name, share in {"speech": 0.5, "parallel": 0.25, "monolingual": 0.25}.items():
        assert abs(counts[name] / total - share) < 0.02, counts
    assert summary.kept + sum(summary.dropped.values()) == summary.total


def test_sources_of_a_category_take_turns_when_the_mix_stops_early(tiny_extended, tmp_path):
    """Chained, the text share ran out inside the first source: no en->fr pair, no French text."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    rows = fake_unit_rows(40, num_units=NUM_UNITS, seed=3, languages=("de", "fr"))
    manifest = _write_jsonl(tmp_path / "units.jsonl", rows)
    big = _write_jsonl(
        tmp_path / "text.jsonl",
        [{"text": s, "de": f"DE {s}", "fr": f"FR {s}"} for s in sample_sentences(2000, seed=4)],
    )
    config = CptDataConfig(
        tokenizer=str(tiny_extended),
        speech=[SpeechSource(path=str(manifest))],
        parallel=[
            ParallelSource(path=str(big), source_lang="en", target_lang=lang, source_field="text")
            for lang in ("de", "fr")
        ],
        monolingual=[TextSource(path=str(big), text_field=name) for name in ("de", "fr")],
        long_documents="drop",
        seq_len=512,
    )
    summary = build_cpt(config, tmp_path / "out", progress=False)
    texts = [
        tokenizer.decode(doc, skip_special_tokens=True).lstrip()
        for doc in _documents(load_from_disk(str(tmp_path / "out")), tokenizer)
    ]
    kinds = {
        "en->de": [t for t in texts if t.startswith("English:") and "\nGerman:" in t],
        "en->fr": [t for t in texts if t.startswith("English:") and "\nFrench:" in t],
        "de": [t for t in texts if t.startswith("DE ")],
        "fr": [t for t in texts if t.startswith("FR ")],
    }
    assert summary.tokens_by_source["parallel"] < 0.2 * summary.tokens  # stopped early
    for first, second in (("en->de", "en->fr"), ("de", "fr")):
        assert kinds[first] and abs(len(kinds[first]) - len(kinds[second])) <= 1, kinds


def test_streams_from_an_endless_generator(tiny_extended):
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    pulled = []

    def endless():
        for n in itertools.count():
            pulled.append(n)
            yield {"text": f"document number {n} of an endless stream"}

    config = CptDataConfig(
        tokenizer=str(tiny_extended),
        seq_len=128,
        max_tokens=5000,
        tokenize_batch=32,
        long_documents="split",
    )
    summary = BuildSummary(kind="cpt", seq_len=128, packed=True)
    docs = monolingual_documents(endless(), source=TextSource(path="-"), summary=summary)
    rows = list(cpt_rows({"monolingual": docs}, tokenizer, config, summary))
    kept_tokens = sum(summary.tokens_by_source.values())
    assert 5000 <= kept_tokens < 5000 + 64 and len(rows) == -(-kept_tokens // 128)
    assert len(pulled) < 1000 and summary.kept + sum(
        summary.dropped.values()
    ) == summary.total == len(pulled)


@pytest.mark.parametrize("bad", ["\U000f0001x\U000f0002", chr(983040 + NUM_UNITS), [1, NUM_UNITS]])
def test_units_outside_the_vocabulary_name_the_example(tiny_extended, tmp_path, bad):
    rows = fake_unit_rows(10, num_units=NUM_UNITS, seed=5)
    rows[4]["units"] = bad
    manifest = _write_jsonl(tmp_path / "units.jsonl", rows)
    config = CptDataConfig(tokenizer=str(tiny_extended), speech=[SpeechSource(path=str(manifest))])
    with pytest.raises(DataError, match="utt00004"):
        build_cpt(config, tmp_path / "out", progress=False)


def test_transcripts_joined_from_a_tsv_and_overlong_dropped(tiny_extended, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    rows = fake_unit_rows(30, num_units=NUM_UNITS, seed=6, max_units=200)
    tsv = tmp_path / "transcripts.tsv"
    tsv.write_text("".join(f"{r['id']}\tjoined {r['id']}\n" for r in rows[:-1]))
    manifest = _write_jsonl(
        tmp_path / "units.jsonl", [{"id": r["id"], "units": r["units"]} for r in rows]
    )
    source = SpeechSource(path=str(manifest), transcripts=str(tsv))
    config = CptDataConfig(
        tokenizer=str(tiny_extended), speech=[source], long_documents="drop", seq_len=128
    )
    summary = build_cpt(config, tmp_path / "out", progress=False)
    docs = [
        tokenizer.decode(d, skip_special_tokens=True)
        for d in _documents(load_from_disk(str(tmp_path / "out")), tokenizer)
    ]
    lengths = [
        len(tokenizer(cpt_asr_text(r["units"], f"joined {r['id']}"))["input_ids"]) + 1
        for r in rows[:-1]
    ]
    assert summary.dropped == {"missing_transcript": 1, "too_long": sum(n > 128 for n in lengths)}
    assert summary.kept == len(docs) == sum(n <= 128 for n in lengths) > 0
    assert all(d.rstrip().split("\nEnglish: ")[1].startswith("joined utt") for d in docs)


def test_cli_builds_cpt(tiny_extended, corpus, tmp_path):
    _, manifest, _ = corpus
    out = tmp_path / "cli"
    args = [
        "build-data",
        "cpt",
        "--tokenizer",
        str(tiny_extended),
        "--speech",
        str(manifest),
        "--out",
        str(out),
    ]
    assert spire_main(args + ["--quiet", "seq_len=128"]) == 0
    assert (out / "summary.json").is_file() and (out / "config.yaml").is_file()
    assert len(load_from_disk(str(out))[0]["input_ids"]) == 128
    assert spire_main(args + ["--quiet", "no_such_key=1"]) == 2
    assert spire_main(args + ["--quiet", "proportions={speeech: 1.0}"]) == 2


def test_reads_labeller_shards_and_saved_datasets(tmp_path):
    import gzip

    import pyarrow as pa
    from datasets import Dataset

    from spire.data.sources import read_records

    rows = fake_unit_rows(9, num_units=NUM_UNITS, seed=8)
    folder = tmp_path / "labels"
    folder.mkdir()
    with gzip.open(folder / "units-00000-of-00002.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows[:5])
    table = pa.Table.from_pylist(rows[5:])
    with pa.OSFile(str(folder / "units-00001-of-00002.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    _write_jsonl(folder / "rejects-00000-of-00002.jsonl", [{"id": "bad", "reason": "silent"}])
    (folder / "summary.json").write_text("{}")
    assert list(read_records(folder)) == rows
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    assert list(read_records(tmp_path / "saved")) == rows
    with pytest.raises(DataError, match="does not exist"):
        list(read_records(tmp_path / "missing.jsonl"))
