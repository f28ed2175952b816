"""Arithmetic of the SPIRE recipe at full size: parameters, FLOPs, FSDP memory, token budget.

Used by `bench/scale.py` (projection column) and `bench/gpu.py` (arithmetic bounds, MFU).
Every number here is a formula over shapes, stated once; the scale check prints the formula's
prediction for the shapes it ran next to what it measured, then the prediction for the paper's.

>>> round(LlamaShape.tower_7b(vocab_rows=32000).params() / 1e9, 2)  # Llama-2-7B
6.74
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GB = 1e9
# The paper's data (REFERENCE.md): CPT ~4.3B unit tokens from 34.7K h, mixed 5 : 0.5 : 0.5 with
# parallel and monolingual text; IT speech = 42.5K h in all minus the CPT hours, 4 epochs.
CPT_UNIT_TOKENS = 4.3e9
CPT_HOURS = 34.7e3
ALL_HOURS = 42.5e3
CPT_TEXT_SHARE = 1.0 / 5.0  # 0.5 + 0.5 text per 5 speech
IT_EPOCHS = 4


@dataclass(frozen=True)
class LlamaShape:
    """The shapes of a Llama decoder (untied embeddings, SwiGLU MLP, no biases)."""

    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int

    @classmethod
    def tower_7b(cls, *, vocab_rows: int = 37056, layers: int = 32) -> LlamaShape:
        """TowerBase-7B (Llama-2-7B) with `vocab_rows` embedding rows (37056 after extension)."""
        return cls(vocab_rows, 4096, 11008, layers, 32, 32)

    @classmethod
    def llama_1b(cls, *, vocab_rows: int = 37056) -> LlamaShape:
        """A 1B-shaped Llama (TinyLlama-1.1B's widths) with SPIRE's extended vocabulary."""
        return cls(vocab_rows, 2048, 5632, 22, 32, 4)

    def layer_params(self) -> int:
        head_dim = self.hidden // self.heads
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * head_dim
        return attention + 3 * self.hidden * self.intermediate + 2 * self.hidden

    def embedding_params(self) -> int:
        """Input embeddings plus the (untied) output head."""
        return 2 * self.vocab * self.hidden

    def params(self) -> int:
        return self.layers * self.layer_params() + self.embedding_params() + self.hidden

    def with_layers(self, layers: int) -> LlamaShape:
        return replace(self, layers=layers)


def train_flops_per_token(shape: LlamaShape, seq_len: int) -> float:
    """Model FLOPs of one trained token (PaLM's MFU convention: 6N + 12·L·h·s, no recompute;
    the input embedding is a lookup, so it is not counted)."""
    matmul_params = shape.params() - shape.vocab * shape.hidden
    return 6.0 * matmul_params + 12.0 * shape.layers * shape.hidden * seq_len


def generate_flops_per_token(shape: LlamaShape, context: int) -> float:
    """Forward FLOPs of one generated token with a KV cache of `context` tokens."""
    return 2.0 * (shape.params() - shape.vocab * shape.hidden) + 4.0 * shape.layers * shape.hidden * context


def fsdp_memory_gb(
    shape: LlamaShape,
    *,
    gpus: int,
    micro_batch: int,
    seq_len: int,
    master_bytes: int = 4,
    compute_bytes: int = 2,
) -> dict[str, float]:
    """Memory per device under FULL_SHARD with mixed precision and activation checkpointing.

    states: fp32 master weights + fp32 grads + AdamW's two moments, sharded over `gpus`;
    gathered: the bf16 root unit (embeddings, head) and two decoder layers (current + prefetch);
    activations: each layer's input kept for recompute, one layer recomputed (34·b·s·h bytes,
    attention by a fused kernel, no s² term), and the logits (bf16, their fp32 upcast and the
    fp32 log-softmax of the loss).
    """
    n = shape.params()
    tokens = micro_batch * seq_len
    states = n * (master_bytes * 2 + 8) / gpus
    gathered = compute_bytes * (shape.embedding_params() + 2 * shape.layer_params())
    kept = shape.layers * tokens * shape.hidden * compute_bytes
    recompute = 34 * tokens * shape.hidden
    logits = tokens * shape.vocab * (compute_bytes + 4 + 4)
    parts = {
        "states": states / GB,
        "gathered": gathered / GB,
        "activations": (kept + recompute) / GB,
        "logits": logits / GB,
    }
    parts["total"] = sum(parts.values())
    return parts


def replica_memory_gb(
    shape: LlamaShape, *, micro_batch: int, seq_len: int, weight_bytes: int
) -> float:
    """Memory of one DDP replica: weights, grads, DDP's gradient buckets, AdamW's moments (in
    the weights' dtype) and the same activations as `fsdp_memory_gb`."""
    n = shape.params()
    tokens = micro_batch * seq_len
    states = n * weight_bytes * 5
    activations = shape.layers * tokens * shape.hidden * 2 + 34 * tokens * shape.hidden
    logits = tokens * shape.vocab * (2 + 4 + 4)
    return (states + activations + logits) / GB


def token_budget() -> dict[str, float]:
    """Tokens of the paper's CPT (one pass) and IT (4 epochs, unit tokens only: a lower bound)."""
    cpt = CPT_UNIT_TOKENS * (1.0 + CPT_TEXT_SHARE)
    units_per_hour = CPT_UNIT_TOKENS / CPT_HOURS
    it = (ALL_HOURS - CPT_HOURS) * units_per_hour * IT_EPOCHS
    return {"cpt": cpt, "it": it, "total": cpt + it}


def hubert_flops_per_second(config: object, layers_run: int, utterance_s: float = 10.0) -> float:
    """Forward FLOPs per second of 16 kHz audio of a HuBERT/wav2vec 2.0 encoder cut after
    `layers_run` layers (conv stack, projection, positional conv, attention over the utterance)."""
    samples, flops, channels = 16000 * utterance_s, 0.0, 1
    for width, kernel, stride in zip(config.conv_dim, config.conv_kernel, config.conv_stride):
        samples = (samples - kernel) // stride + 1
        flops += 2.0 * channels * width * kernel * samples
        channels = width
    frames, hidden = samples, config.hidden_size
    flops += 2.0 * frames * channels * hidden
    groups = config.num_conv_pos_embedding_groups
    flops += 2.0 * frames * hidden * (hidden // groups) * config.num_conv_pos_embeddings
    per_layer = 2.0 * frames * (4 * hidden * hidden + 2 * hidden * config.intermediate_size)
    per_layer += 4.0 * frames * frames * hidden
    flops += layers_run * per_layer
    return flops / utterance_s


# Dense bf16 tensor-core peaks (TFLOP/s) by device name, for MFU and arithmetic bounds.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "A10G": 70.0,
    "A10": 125.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
    "A6000": 155.0,
}


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a named GPU (longest matching key), or None when unknown.

    >>> peak_tflops("NVIDIA H100 80GB HBM3")
    989.0
    """
    matches = [key for key in PEAK_BF16_TFLOPS if key.lower() in device_name.lower()]
    return PEAK_BF16_TFLOPS[max(matches, key=len)] if matches else None
