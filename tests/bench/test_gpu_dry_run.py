"""bench/gpu.py --dry-run: the GPU benchmark's code paths (labelling, k-means on two engines,
CPT through `spire.training.recipe.train`, batched generation) on the CPU with tiny shapes."""

import re


def test_gpu_benchmark_dry_run_prints_its_table(capsys):
    import gpu

    assert gpu.main(["--dry-run"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    measured = {line.split(" | ")[0].strip("| ").split(":")[0]: line for line in table[1:]}
    assert set(measured) == {"label", "k-means faiss-GPU (dry run", "k-means faiss-CPU", "CPT", "generate"}
    assert re.search(r"RTF [0-9.]+ .* of the bf16 arithmetic bound", measured["label"])
    assert re.search(r"\| [0-9,.]+ tokens/s \| MFU [0-9]+%", measured["CPT"])
    assert re.search(r"\| [0-9,.]+ tokens/s \|", measured["generate"])


def test_gpu_benchmark_without_a_gpu_says_so(capsys):
    import gpu
    import torch

    if torch.cuda.is_available():
        return  # the message is for machines without one
    assert gpu.main([]) == 2
    assert "--dry-run" in capsys.readouterr().err
