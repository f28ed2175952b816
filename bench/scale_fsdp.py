"""FSDP2 as configs/accelerate/fsdp.yaml asks for it, on CPU: shard, train a step, gather.

    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 2 \\
        bench/scale_fsdp.py --model runs/scale/extended --data runs/scale/data/it

Accelerate applies its FSDP plugin only to GPU-type runs: on CPU (gloo) it silently trains DDP
(`AcceleratorState.distributed_type` = MULTI_CPU), so `spire train` cannot shard there. This
script records that, then does what accelerate would do on GPUs, with torch's own FSDP2 on CPU:
it builds accelerate's `FullyShardedDataParallelPlugin` from the launcher's environment (that
is, from the YAML), wraps every `fsdp_transformer_layer_cls_to_wrap` module and the root with
`fully_shard` and the plugin's reshard and bf16 mixed-precision policy, keeps fp32 master
weights, trains optimizer steps on packed rows of the IT data with AdamW, and gathers the full
state dict (FULL_STATE_DICT). Rank 0 prints one `SCALE-RESULT` line.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from scale_run import emit


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--lr", type=float, default=7e-6)
    args = parser.parse_args()

    import datasets
    import torch
    import torch.distributed as dist
    from accelerate import Accelerator
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    from torch.distributed.fsdp import fully_shard
    from transformers import AutoModelForCausalLM

    from spire.data.collate import PackedCollator

    accelerator = Accelerator(cpu=True)  # what `spire train` (use_cpu: true) gets here
    fallback = {
        "distributed_type": str(accelerator.distributed_type.value),
        "fsdp_applied": getattr(accelerator.state, "fsdp_plugin", None) is not None,
        "use_fsdp_env": os.environ.get("ACCELERATE_USE_FSDP"),
    }
    plugin = FullyShardedDataParallelPlugin()  # read from the FSDP_* variables the YAML set
    plugin.set_mixed_precision(os.environ.get("ACCELERATE_MIXED_PRECISION", "bf16"))
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(args.model), dtype=torch.float32)
    model.gradient_checkpointing_enable()  # the recipes' model.gradient_checkpointing: true
    model.config.use_cache = False
    total = sum(p.numel() for p in model.parameters())
    wrap = set(plugin.transformer_cls_names_to_wrap or [])
    plugin.set_auto_wrap_policy(model)
    policy = fsdp2_prepare_auto_wrap_policy(plugin, model)  # accelerate's own choice of units
    kwargs = {"reshard_after_forward": plugin.reshard_after_forward, "mp_policy": plugin.mixed_precision_policy}
    units = [m for m in model.modules() if policy(m)]
    for module in units:
        fully_shard(module, **kwargs)
    fully_shard(model, **kwargs)
    local = sum(p.to_local().numel() for p in model.parameters())
    load_s = time.perf_counter() - start

    rows = datasets.load_from_disk(str(args.data))
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    collate = PackedCollator(pad_token_id=pad)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    losses, step_s, tokens = [], [], 0
    for step in range(args.steps):
        batch = collate([rows[(step * world + rank) % len(rows)]])
        batch.pop("num_tokens", None)
        tokens += int(batch["input_ids"].numel())
        began = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_s.append(time.perf_counter() - began)
        losses.append(float(loss.detach()))
    train_peak = _peak_gb()
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    shapes = {name: list(t.shape) for name, t in full.items()} if rank == 0 else {}
    mine = {"rank": rank, "local_params": local, "peak_gb": round(train_peak, 2), "step_s": step_s,
            "loss": losses, "tokens": tokens}
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        failures = []
        embed = shapes.get("model.embed_tokens.weight")
        if len(shapes) != len(model.state_dict()) or embed is None or embed[0] % 64:
            failures.append(f"the gathered full state dict must hold every tensor, but has {len(shapes)}")
        for other in gathered:
            if abs(other["local_params"] - total / world) > 0.01 * total:
                failures.append(f"rank {other['rank']} must hold 1/{world} of {total} parameters, but holds {other['local_params']}")
            if not all(x == x and abs(x) < 1e4 for x in other["loss"]):
                failures.append(f"rank {other['rank']} loss must be finite, but is {other['loss']}")
        emit({"accelerate_on_cpu": fallback, "wrapped_units": len(units),
              "wrap": sorted(wrap), "reshard_after_forward": plugin.reshard_after_forward,
              "mp_policy": str(plugin.mixed_precision_policy), "state_dict_type": str(plugin.state_dict_type),
              "params": total, "ranks": gathered, "load_shard_s": round(load_s, 1),
              "gathered_tensors": len(shapes), "embed_shape": embed}, failures)
    dist.barrier()


if __name__ == "__main__":
    main()
