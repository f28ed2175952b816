"""`DemoConfig`: the settings of the miniature recipe, read from `configs/mini/`.

The values live only in the YAML recipe (`demo.yaml`, and `quick.yaml` on top for `--quick`);
this class gives them types, ranges and meaning. Each training stage's `TrainConfig` starts from
its own YAML there (`train_base.yaml`, `train_cpt.yaml`, `train_it.yaml`). Measurements behind
the values: docs/miniature.md.

    spire demo --config my.yaml base_epochs=3      # recipe, then a partial YAML, then key=value

>>> DemoConfig.quick().n_train < DemoConfig.load().n_train
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from spire.config import AT_LEAST_1, NON_NEGATIVE, POSITIVE, SEED, CheckedConfig, Range
from spire.errors import ConfigError

__all__ = ["RECIPE_DIR", "DemoConfig", "recipe_file"]

#: The miniature's YAML recipes: a link to the repository's `configs/mini/`, shipped inside the
#: package (package data), so a clone and an installed wheel read the same files.
RECIPE_DIR = Path(__file__).resolve().parent / "configs"


def recipe_file(name: str) -> Path:
    """The recipe file `name` (e.g. "demo.yaml"); ConfigError when it is missing.

    >>> recipe_file("demo.yaml").name
    'demo.yaml'
    """
    path = RECIPE_DIR / name
    if not path.is_file():
        raise ConfigError(name, f"must be a file in {RECIPE_DIR}, but is missing; fix: reinstall spire-speech, "
                          "or restore configs/mini/ in the clone")
    return path


@dataclass(frozen=True, kw_only=True)
class DemoConfig(CheckedConfig):
    """Settings of the miniature (values: `configs/mini/demo.yaml`; `quick()` adds `quick.yaml`).

    >>> DemoConfig.load(overrides=["n_train=100"]).n_train
    100
    """

    out_dir: str
    """Where every stage writes its outputs, the report included."""
    seed: Annotated[int, SEED]
    """Seed of the corpus, the frame sample, k-means, model initialisation and data order."""
    progress: bool
    """Show progress bars."""
    threads: Annotated[int, AT_LEAST_1] | None
    """Torch CPU threads (None: torch's default, all cores); 1 on a machine that other jobs keep busy."""

    # --- stage 1: corpus
    n_train: Annotated[int, AT_LEAST_1]
    """Training utterances of the synthetic corpus (distinct sentences matter more than passes)."""
    n_dev: Annotated[int, NON_NEGATIVE]
    """Development utterances."""
    n_test: Annotated[int, AT_LEAST_1]
    """Test utterances (unseen sentences and speaker settings)."""
    n_test_accents: Annotated[int, NON_NEGATIVE]
    """Utterances of the second test split, `test_accents`: unseen sentences spoken with English
    accents that no other split uses (`spire.mini.corpus.ACCENT_VOICES`); 0 leaves it out."""

    # --- stage 2: units
    num_units: Annotated[int, Range(ge=2)]
    """k-means clusters over MFCC frames (more than HuBERT's 100: they separate words better here)."""
    mfcc_cmvn: str
    """Per-utterance normalisation of the MFCCs; "meanvar" also equalises each coefficient's spread across voices."""
    mfcc_stack: Annotated[int, AT_LEAST_1]
    """Consecutive MFCC frames joined into one: 2 gives 25 Hz, fewer unit tokens for the same word detection."""
    mfcc_vtln: bool
    """One frequency warp per utterance (VTLN, `units.fit_vtln`), so that women's and men's voices share units."""
    vtln_frames: Annotated[int, AT_LEAST_1]
    """Frames of the training split (first utterances) that fit the VTLN codebook."""
    sample_frames: Annotated[int, AT_LEAST_1]
    """Frames sampled from the training split to fit k-means (from a seeded subset of its
    utterances with 1.25 times as many frames)."""
    kmeans_iterations: Annotated[int, AT_LEAST_1]
    """Lloyd iterations of the k-means fit."""

    # --- stage 3: the text-only base LLM (the miniature's "Tower")
    vocab_size: Annotated[int, AT_LEAST_1]
    """SentencePiece pieces of the base tokenizer (trained on the corpus' en/de/fr text)."""
    hidden_size: Annotated[int, AT_LEAST_1]
    """Width of the tiny Llama."""
    num_layers: Annotated[int, AT_LEAST_1]
    """Decoder layers of the tiny Llama."""
    base_epochs: Annotated[float, POSITIVE]
    """Passes over the base LM's text (monolingual en/de/fr + MT prompts); CPT and IT see such text again."""
    base_lr: Annotated[float, POSITIVE]
    """Peak learning rate of the base LM."""
    base_optimizer: str
    """optim.name of the base LM (spire.training.optimizers.OPTIMIZERS)."""

    # --- stage 4: extension, CPT, IT
    cpt_epochs: Annotated[float, POSITIVE]
    """Passes over the CPT mix (ASR pairs + parallel + monolingual text)."""
    cpt_lr: Annotated[float, POSITIVE]
    """Peak learning rate of CPT."""
    cpt_optimizer: str
    """`optim.name` of CPT (a name in `spire.training.optimizers.OPTIMIZERS`)."""
    muon_lr: Annotated[float, POSITIVE]
    """Peak learning rate of Muon's part (`optim.muon_lr`) in every stage that uses Muon."""
    cpt_unit_loss: bool
    """Loss on unit tokens in CPT (the paper's plain LM loss); off: at this budget the loss is better
    spent on transcripts."""
    it_epochs: Annotated[float, POSITIVE]
    """Passes over the IT data (ASR, ST to German and French, text MT); also the IT-only ablation."""
    it_lr: Annotated[float, POSITIVE]
    """Peak learning rate of IT."""
    it_optimizer: str
    """`optim.name` of IT and of the IT-only ablation."""
    it_replay: Annotated[float, NON_NEGATIVE]
    """CPT rows mixed into IT after CPT, as a multiple of the IT rows (at most all CPT rows;
    `data.replay`; not in the IT-only ablation, which must not see CPT data): without it IT erases
    much of what CPT taught."""
    it_utterances: Annotated[int, AT_LEAST_1] | None
    """Training utterances used for IT (None: all): each gives ASR, ST de, ST fr and MT de, fr examples."""
    seq_len: Annotated[int, AT_LEAST_1]
    """Tokens per packed training row."""
    micro_batch: Annotated[int, AT_LEAST_1]
    """Rows per optimizer step (small steps: many updates from little data)."""
    ablation: bool
    """Also instruction-tune the extended base without CPT (the paper's ablation)."""
    log_every: Annotated[int, AT_LEAST_1]
    """Optimizer steps between loss log lines (the loss curves' resolution)."""

    # --- stage 4b (optional): RL after IT (train_rl.yaml; spire.mini.rl)
    rl: bool
    """Run GRPO with verifiable rewards after IT (the Tower+ stage; `spire.rl`) and evaluate its model
    beside the IT model ("CPT + IT + RL")."""
    rl_utterances: Annotated[int, AT_LEAST_1]
    """Training utterances after the IT ones whose ASR, ST en->de/fr and MT en->de/fr prompts RL samples."""
    rl_steps: Annotated[int, AT_LEAST_1]
    """Optimizer steps of RL (each one generation round)."""
    rl_lr: Annotated[float, POSITIVE]
    """Learning rate of RL (AdamW, constant after a short warm-up)."""
    rl_beta: Annotated[float, NON_NEGATIVE]
    """Weight of the KL penalty against the IT model (0: no reference model)."""
    rl_num_generations: Annotated[int, Range(ge=2)]
    """Answers sampled per prompt (GRPO's group)."""
    rl_prompts_per_step: Annotated[int, AT_LEAST_1]
    """Prompts per optimizer step (each with rl_num_generations answers)."""

    # --- stage 5: evaluation
    eval_batch_size: Annotated[int, AT_LEAST_1]
    """Prompts generated together (greedy)."""
    max_new_tokens: Annotated[int, AT_LEAST_1]
    """Generation budget per answer (the corpus' sentences are short)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from spire.training.optimizers import OPTIMIZERS

        for key in ("base_optimizer", "cpt_optimizer", "it_optimizer"):
            if getattr(self, key) not in OPTIMIZERS:
                raise ConfigError(key, f"must be one of {sorted(OPTIMIZERS)}, but is {getattr(self, key)!r}")

    @classmethod
    def load(
        cls,
        *,
        quick: bool = False,
        config: str | Path | None = None,
        overrides: Sequence[str] | Mapping[str, Any] = (),
    ) -> DemoConfig:
        """`demo.yaml`, then `quick.yaml` (when `quick`), then the YAML file `config`, then
        `overrides` (`["key=value", ...]` as on the command line, or a mapping); last wins."""
        from spire.config import load_yaml, parse_overrides, resolve_config

        settings: dict[str, Any] = {}
        if quick:
            settings.update(load_yaml(recipe_file("quick.yaml")))
        if config is not None:
            settings.update(load_yaml(config))
        settings.update(overrides if isinstance(overrides, Mapping) else parse_overrides(overrides))
        return resolve_config(cls, recipe_file("demo.yaml"), settings)

    @classmethod
    def quick(cls, **overrides: Any) -> DemoConfig:
        """The CI-sized run (`quick.yaml` on top of `demo.yaml`), then `overrides`.

        >>> DemoConfig.quick(n_train=7).n_train
        7
        """
        return cls.load(quick=True, overrides=overrides)
