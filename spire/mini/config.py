"""`DemoConfig`: every setting of the miniature recipe, with the full and the CI-sized (`quick`) values.

    spire demo --config configs/mini/demo.yaml base_epochs=3      # YAML and key=value overrides

>>> DemoConfig.quick().n_train < DemoConfig().n_train
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["DemoConfig"]


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """Settings of the miniature; `quick()` gives the CI-sized variant.

    >>> DemoConfig(n_train=100).n_train
    100
    """

    out_dir: str = "demo_out"
    """Where every stage writes its outputs, the report included."""
    seed: int = 0
    """Seed of the corpus, the frame sample, k-means, model initialisation and data order."""
    progress: bool = True
    """Show progress bars."""
    threads: int | None = None
    """Torch CPU threads (None: torch's default, all cores). On an idle 2-core machine two threads
    train the tiny models about 2x faster than one; on a machine that other jobs keep busy, pass
    threads=1 (threads that wait for each other can slow a step many times over)."""

    # --- stage 1: corpus
    n_train: int = 16000
    """Training utterances of the synthetic corpus. Distinct sentences matter more than passes:
    with 8000 utterances x 3.5 CPT epochs the CPT model transcribed its training sentences at
    4.9% WER but unseen ones at 27%; 16000 x 1.75 epochs (the same CPT tokens): 7.3% on unseen
    sentences by unseen voices (CPT prompt, 120 test utterances)."""
    n_dev: int = 200
    """Development utterances."""
    n_test: int = 200
    """Test utterances (unseen sentences and speaker settings)."""

    # --- stage 2: units
    num_units: int = 1000
    """k-means clusters over MFCC frames. HuBERT's first iteration used 100; on this corpus more
    separate words far better (bag-of-units word detection, dev mAP at 50 Hz: 0.72 at 100,
    0.90 at 500; at 25 Hz: 0.84 at 500, 0.89 at 1000; with VTLN at 25 Hz: 0.95 at 500, 0.965 at
    1000, 0.96 at 2000)."""
    mfcc_cmvn: str = "meanvar"
    """Per-utterance normalisation of the MFCCs: "meanvar" also equalises each coefficient's
    spread across voices (mAP 0.77 vs 0.72 with "mean" at k=100)."""
    mfcc_stack: int = 2
    """Consecutive MFCC frames joined into one (25 Hz): about 24 units per second instead of 40
    after dedup, so the LM reads 40% fewer unit tokens per utterance for the same word
    detection (mAP 0.89 at k=1000 vs 0.90 at 50 Hz, k=500). Three frames per unit (16 Hz) lose
    more than the shorter sequences win back (with VTLN, k=1000: mAP 0.943 vs 0.965; WER 37.5%
    vs 34.3% with CPT epochs raised to the same CPT time)."""
    mfcc_vtln: bool = True
    """One frequency warp per utterance (VTLN, `units.features.vtln_fit.fit_vtln`), so that women's and
    men's voices share units: word detection mAP 0.92 -> 0.97 at k=1000; the default run's WER
    46.1% -> 32.3% and 34.3% (two runs), ST BLEU 10.5 / 13.4 -> 12.9 / 16.1, for 27 s more."""
    vtln_frames: int = 100_000
    """Frames of the training split (first utterances) that fit the VTLN codebook."""
    sample_frames: int = 200_000
    """Frames sampled from the training split to fit k-means (from a seeded subset of its
    utterances with 1.25 times as many frames)."""
    kmeans_iterations: int = 20
    """Lloyd iterations of the k-means fit."""

    # --- stage 3: the text-only base LLM (the miniature's "Tower")
    vocab_size: int = 2000
    """SentencePiece pieces of the base tokenizer (trained on the corpus' en/de/fr text)."""
    hidden_size: int = 192
    """Width of the tiny Llama."""
    num_layers: int = 4
    """Decoder layers of the tiny Llama."""
    base_epochs: float = 0.25
    """Passes over the base LM's text (monolingual en/de/fr + MT prompts en->de, en->fr): 194
    steps. CPT and IT train on the same kind of text again; with IT replaying 1.5x its rows from
    CPT, 0.25 instead of 0.5 epochs gave ASR WER 9.7% vs 8.2%, ST BLEU 31.4 / 37.4 vs 30.8 / 38.1,
    for 60 s less. A full pass (770 steps) gives a much stronger base (MT BLEU 64 / 71 instead of
    ~11 / 20) but does not fit the 20 minutes."""
    base_lr: float = 2e-3
    """Peak learning rate of the base LM."""

    # --- stage 4: extension, CPT, IT
    cpt_epochs: float = 1.5
    """Passes over the CPT mix (ASR pairs + parallel + monolingual text)."""
    cpt_lr: float = 1.5e-3
    """Peak learning rate of CPT."""
    cpt_optimizer: Literal["adamw", "muon"] = "muon"
    """"muon": Muon on the decoder's weight matrices, AdamW on embeddings, head and norms
    (`spire.training.optimizers`); "adamw": AdamW on all (the paper's). CPT-only probe on 8000 utterances, 2
    epochs, same data and tokens: ASR WER 32.5% with Muon vs 42.6% with AdamW; Muon's steps cost
    ~20% more time here (its Newton-Schulz products on the 192-wide matrices)."""
    muon_lr: float = 0.01
    """Peak learning rate of Muon's part (0.02, the usual value, gave 46.2% in the probe above)."""
    cpt_unit_loss: bool = False
    """Loss on unit tokens in CPT (the paper's plain LM loss). Off in the miniature: units are
    ~85% of its CPT tokens, and at this budget the loss is better spent on transcripts."""
    it_epochs: float = 1.0
    """Passes over the IT data (ASR, ST to German and French, text MT); also the IT-only ablation."""
    it_lr: float = 7e-4
    """Peak learning rate of IT."""
    it_optimizer: Literal["adamw", "muon"] = "muon"
    """Optimizer of IT and of the IT-only ablation ("adamw" or "muon", as `cpt_optimizer`). After
    the same Muon CPT (16000 utterances): ST BLEU en->de / en->fr 40.8 / 39.8 with Muon IT vs
    29.0 / 29.9 with AdamW IT, ASR WER 15.4% vs 15.6%, MT en->fr 64.6 vs 51.9."""
    it_replay: float = 1.5
    """CPT rows mixed into IT after CPT, as a multiple of the IT rows (at most all CPT rows;
    `data.replay`; not in the IT-only ablation, which must not see CPT data). Without replay IT
    erased much of what CPT taught: the CPT model transcribed test utterances at 8.9% WER with its
    own prompt, the IT model at 20.6% (52.7% when given the CPT prompt). Replaying 0.2 / 0.5 / 1.0
    of the IT rows: 16.6% / 14.4% / 8.3% (ST BLEU 27.6 / 26.5 -> 34.7 / 35.6 at 1.0). With other
    units, 1.0 -> 1.5: 11.0% -> 8.2% (ST 28.8 / 35.4 -> 30.8 / 38.1), IT 251 -> 311 s. Fewer CPT
    epochs for it (1.25 instead of 1.5, replay 1.0) lost more than they saved: 12.8%."""
    it_utterances: int | None = 1500
    """Training utterances used for IT (None: all): each gives ASR, ST de, ST fr and MT de, fr examples."""
    seq_len: int = 256
    """Tokens per packed training row."""
    micro_batch: int = 8
    """Rows per optimizer step (small steps: many updates from little data)."""
    ablation: bool = True
    """Also instruction-tune the extended base without CPT (the paper's ablation)."""
    log_every: int = 10
    """Optimizer steps between loss log lines (the loss curves' resolution)."""

    # --- stage 5: evaluation
    eval_batch_size: int = 32
    """Prompts generated together (greedy)."""
    max_new_tokens: int = 48
    """Generation budget per answer (the corpus' sentences are short)."""

    @classmethod
    def quick(cls, **overrides: Any) -> DemoConfig:
        """A CI-sized run (about 10 minutes on 2 cores): a budget at which the transcripts
        measurably follow the audio (measured with IT replaying all 1336 CPT rows: WER 38.4%
        against 100.0% for other utterances' references, ST BLEU 9.8 / 10.2 against 1.0 / 1.8;
        9.9 min of stages)."""
        settings: dict[str, Any] = dict(
            n_train=4000, n_dev=20, n_test=40, num_units=1000, sample_frames=100_000,
            vocab_size=1000, hidden_size=192, num_layers=4, micro_batch=8,
            base_epochs=1.0, base_lr=3e-3, cpt_epochs=4.0, cpt_lr=1.5e-3,
            it_epochs=1.0, it_lr=7e-4, it_utterances=1000, ablation=False,
        )
        settings.update(overrides)
        return cls(**settings)
