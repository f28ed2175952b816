"""The arithmetic behind the scale check's projections: parameter counts, FLOPs, memory, budget."""

import pytest
from scale_projection import (
    LlamaShape,
    fsdp_memory_gb,
    hubert_flops_per_second,
    peak_tflops,
    token_budget,
    train_flops_per_token,
)


def test_parameter_counts_match_the_released_shapes():
    from transformers import LlamaConfig, LlamaForCausalLM

    assert LlamaShape.tower_7b(vocab_rows=32000).params() == 6_738_415_616  # Llama-2-7B
    assert LlamaShape.tower_7b().params() == 6_738_415_616 + 2 * 5056 * 4096  # 37056 rows, untied
    tiny = LlamaShape(512, 64, 160, 3, 4, 2)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    assert tiny.params() == sum(p.numel() for p in LlamaForCausalLM(config).parameters())


def test_hubert_large_layer_22_flops_per_audio_second():
    from scale_speech import HUBERT_LARGE
    from transformers import HubertConfig

    flops = hubert_flops_per_second(HubertConfig(**HUBERT_LARGE), 22)
    # 22 layers x 50 frames x 2 x 12.6M weights = 27.7 GFLOP, plus conv stack and attention.
    assert 30e9 < flops < 40e9
    assert hubert_flops_per_second(HubertConfig(**HUBERT_LARGE), 11) < 0.6 * flops


def test_fsdp_memory_and_budget_at_the_papers_sizes():
    tower = LlamaShape.tower_7b()
    four = fsdp_memory_gb(tower, gpus=4, micro_batch=12, seq_len=4096)
    # fp32 weights + grads + two AdamW moments = 16 bytes per parameter, over 4 GPUs.
    assert four["states"] == pytest.approx(tower.params() * 16 / 4 / 1e9)
    assert four["total"] == pytest.approx(sum(v for k, v in four.items() if k != "total"))
    assert fsdp_memory_gb(tower, gpus=8, micro_batch=12, seq_len=4096)["states"] == pytest.approx(four["states"] / 2)
    assert train_flops_per_token(tower, 4096) == pytest.approx(6 * (tower.params() - 37056 * 4096) + 12 * 32 * 4096 * 4096)
    budget = token_budget()
    assert budget["cpt"] == pytest.approx(4.3e9 * 1.2) and budget["total"] > budget["cpt"]


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0),
                                        ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0),
                                        ("Tesla T4", None)])
def test_gpu_peaks_by_name(name, peak):
    assert peak_tflops(name) == peak
