"""Optimizers chosen by name (`optim.name` in a `TrainConfig`), and Muon.

`OPTIMIZERS` maps each name to a builder `(model, args, optim) -> torch.optim.Optimizer`, or to
None for the Trainer's own optimizer:

    "adamw"   transformers' AdamW from the TrainingArguments (the paper's)
    "muon"    `MuonAdamW`: Muon on the decoder's weight matrices, AdamW on everything else

Muon (Jordan et al., 2024) replaces each hidden matrix's momentum by its nearest semi-orthogonal
matrix (a few Newton-Schulz iterations), so every direction of the update moves at the same rate.
Embeddings, the LM head, norms and biases stay on AdamW, as Muon's authors prescribe. The
Trainer's schedule scales both parts' learning rates alike.

A new optimizer: a builder and one line in `OPTIMIZERS`.

>>> sorted(OPTIMIZERS)
['adamw', 'muon']
>>> import torch
>>> layer = torch.nn.Linear(8, 8, bias=False)
>>> opt = MuonAdamW([{"params": [layer.weight], "muon": True, "lr": 0.02}], lr=1e-3)
>>> layer(torch.ones(1, 8)).sum().backward(); opt.step()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
from torch.optim.adamw import adamw

from spire.errors import ConfigError

__all__ = ["OPTIMIZERS", "MuonAdamW", "MuonSettings", "OptimizerBuilder", "build_muon", "get_optimizer",
           "muon_param_groups", "orthogonalize"]

# Quintic Newton-Schulz coefficients tuned by Muon's authors: fast convergence of the singular
# values towards ~1 (not exactly 1, which does not matter for an update direction).
_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(matrices: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The nearest semi-orthogonal matrices (approximately) to a stack `(n, rows, cols)` or one matrix."""
    a, b, c = _NS_COEFFICIENTS
    x = matrices / (matrices.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    tall = x.size(-2) > x.size(-1)
    if tall:  # iterate on the smaller Gram matrix
        x = x.mT
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


def muon_param_groups(model: torch.nn.Module, *, lr: float, muon_lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """Split `model`'s trainable parameters: 2-D matrices of the decoder body on Muon, the rest on AdamW.

    Input/output embeddings are matrices too, but they are lookup tables and a classifier: Muon's
    orthogonalisation suits neither.
    """
    output = model.get_output_embeddings()
    input_ = model.get_input_embeddings()
    skip = {id(p) for module in (output, input_) if module is not None for p in module.parameters()}
    muon, decayed, plain = [], [], []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        if param.ndim == 2 and id(param) not in skip:
            muon.append(param)
        else:  # as the Trainer does: no decay on norms and biases
            (decayed if param.ndim >= 2 else plain).append(param)
    groups = [{"params": params, "muon": False, "lr": lr, "weight_decay": decay}
              for params, decay in ((decayed, weight_decay), (plain, 0.0)) if params]
    if muon:
        groups.append({"params": muon, "muon": True, "lr": muon_lr, "weight_decay": weight_decay})
    return groups


class MuonAdamW(torch.optim.Optimizer):
    """Muon on the groups flagged `muon=True`, AdamW on the others.

    Muon step: momentum buffer `m = mu * m + g`, Nesterov direction `g + mu * m`, orthogonalised
    and scaled by `sqrt(max(1, rows / cols))` so that tall and wide matrices move alike; matrices of
    one shape are orthogonalised together in one batched product.
    """

    def __init__(self, params: Iterable[Any], *, lr: float, momentum: float = 0.95, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, ns_steps: int = 5) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), but is {momentum}")
        defaults = dict(lr=lr, muon=False, momentum=momentum, betas=betas, eps=eps, weight_decay=weight_decay,
                        ns_steps=ns_steps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["muon"]:
                self._muon_step(group)
            else:
                self._adamw_step(group)
        return loss

    def _muon_step(self, group: dict[str, Any]) -> None:
        by_shape: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = defaultdict(list)
        mu = group["momentum"]
        for param in group["params"]:
            if param.grad is None:
                continue
            state = self.state[param]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(param)
            buffer = state["momentum_buffer"]
            buffer.mul_(mu).add_(param.grad)
            by_shape[tuple(param.shape)].append((param, param.grad.add(buffer, alpha=mu)))
        for shape, pairs in by_shape.items():
            updates = orthogonalize(torch.stack([direction for _, direction in pairs]), group["ns_steps"])
            scale = max(1.0, shape[0] / shape[1]) ** 0.5
            for (param, _), update in zip(pairs, updates):
                if group["weight_decay"]:
                    param.mul_(1 - group["lr"] * group["weight_decay"])
                param.add_(update.to(param.dtype), alpha=-group["lr"] * scale)

    def _adamw_step(self, group: dict[str, Any]) -> None:
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for param in group["params"]:
            if param.grad is None:
                continue
            state = self.state[param]
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(param)
                state["exp_avg_sq"] = torch.zeros_like(param)
            params.append(param)
            grads.append(param.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if not params:
            return
        beta1, beta2 = group["betas"]
        adamw(params, grads, exp_avgs, exp_avg_sqs, [], steps, foreach=True, amsgrad=False,
              beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
              eps=group["eps"], maximize=False)


class MuonSettings(Protocol):
    """What `build_muon` reads from the `optim` section (`spire.training.config.OptimConfig`)."""

    muon_lr: float
    muon_momentum: float


def build_muon(model: torch.nn.Module, args: Any, optim: MuonSettings) -> MuonAdamW:
    """`MuonAdamW` over `model`: AdamW's part takes the rate, decay, betas and eps of the Trainer's
    `args` (TrainingArguments), Muon's part `optim.muon_lr` and `optim.muon_momentum`."""
    groups = muon_param_groups(model, lr=args.learning_rate, muon_lr=optim.muon_lr, weight_decay=args.weight_decay)
    return MuonAdamW(groups, lr=args.learning_rate, momentum=optim.muon_momentum,
                     betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon,
                     weight_decay=args.weight_decay)


#: `(model, TrainingArguments, optim section) -> optimizer`.
OptimizerBuilder = Callable[[torch.nn.Module, Any, Any], torch.optim.Optimizer]

#: name -> builder; None = the Trainer's own optimizer from its TrainingArguments (AdamW).
OPTIMIZERS: dict[str, OptimizerBuilder | None] = {
    "adamw": None,
    "muon": build_muon,
}


def get_optimizer(name: str) -> OptimizerBuilder | None:
    """The builder registered as `name` (None: the Trainer's own); ConfigError naming `optim.name`
    when there is none.

    >>> get_optimizer("muon") is build_muon
    True
    """
    if name not in OPTIMIZERS:
        raise ConfigError("optim.name", f"must be one of {sorted(OPTIMIZERS)}, but is {name!r}")
    return OPTIMIZERS[name]
