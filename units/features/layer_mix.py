"""Several encoder layers mixed with fixed weights, for `SSLFeaturizer(model, layer=[20, 22])`.

ManagerTower's idea: a frozen expert's levels carry different information, so a fixed mix of
a few layers can describe speech better than one. The mix is the weighted sum of the hidden
states after each chosen layer (``hidden_states[i]`` of transformers, no final encoder norm);
the encoder runs only up to the deepest one. Weights default to the mean and are used as given
otherwise (pass weights summing to 1 for a weighted mean). Off by default: one layer, as in SPIRE.

>>> deepest, mix = parse_layers([22, 20], None, num_layers=24, name="hubert-large")
>>> deepest, mix.layers, mix.weights
(22, (20, 22), (0.5, 0.5))
>>> parse_layers(22, None, num_layers=24, name="hubert-large")
(22, None)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from units.features.base import FeaturizerConfigError

__all__ = ["LayerMix", "LayerTap", "parse_layers"]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class LayerMix:
    """Layers (ascending, distinct) and their fixed weights.

    >>> LayerMix((20, 22), (0.25, 0.75)).record()
    {'layer': [20, 22], 'layer_weights': [0.25, 0.75]}
    """

    layers: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def deepest(self) -> int:
        """The layer the encoder is cut after."""
        return self.layers[-1]

    def record(self) -> dict[str, Any]:
        """What provenance and featurizer.json hold: the layers (as `layer`) and the weights."""
        return {"layer": list(self.layers), "layer_weights": list(self.weights)}

    def tap(self, encoder_layers: nn.ModuleList) -> LayerTap:
        """Hooks that keep the chosen hidden states while the encoder runs (a context manager)."""
        return LayerTap(encoder_layers, self)


def parse_layers(
    layer: int | Sequence[int],
    layer_weights: Sequence[float] | None,
    *,
    num_layers: int,
    name: str,
) -> tuple[int, LayerMix | None]:
    """(deepest layer, mix) for a `layer` given as one int or several; the mix is None for one.

    >>> parse_layers([3], None, num_layers=4, name="enc")
    (3, None)
    """
    several = isinstance(layer, Sequence) and not isinstance(layer, str)
    layers = list(layer) if several else [layer]
    for value in layers:
        if not _is_int(value) or not 0 <= value <= num_layers:
            raise FeaturizerConfigError(
                "layer",
                f"layer must be between 0 and {num_layers} (the hidden state after that many "
                f"encoder layers of {name}), or a list of such layers, but is {layer!r}; fix: pass "
                f"layer=0..{num_layers} (SPIRE uses 22 of HuBERT-large's 24)",
            )
    if not layers or len(set(int(v) for v in layers)) != len(layers):
        raise FeaturizerConfigError(
            "layer",
            f"layer must list distinct layers, but is {layer!r}; fix: name each layer once",
        )
    if len(layers) == 1 and layer_weights is None:
        return int(layers[0]), None
    if layer_weights is None:
        weights = [1.0 / len(layers)] * len(layers)
    else:
        weights = [float(w) for w in layer_weights] if _numbers(layer_weights) else []
        if len(weights) != len(layers) or not all(math.isfinite(w) for w in weights):
            raise FeaturizerConfigError(
                "layer_weights",
                f"layer_weights must be {len(layers)} finite numbers, one per layer of {layers}, "
                f"but is {layer_weights!r}; fix: pass one weight per layer, or none for the mean",
            )
        if len(layers) == 1 or not any(weights):
            raise FeaturizerConfigError(
                "layer_weights",
                f"layer_weights must weigh several layers, not all by zero, but is "
                f"{layer_weights!r} for layers {layers}; fix: pass several layers with weights, "
                "or one layer without weights",
            )
    pairs = sorted(zip((int(v) for v in layers), weights))
    mix = LayerMix(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
    return mix.deepest, mix


def _numbers(values: Any) -> bool:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return False
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)


class LayerTap:
    """Forward hooks on an encoder's layer list that keep the hidden states a `LayerMix` needs.

    Hidden state 0 is the input of the first layer; hidden state i >= 1 the output of layer i.
    Padded frames are kept too (the caller reads only valid ones).
    """

    def __init__(self, encoder_layers: nn.ModuleList, mix: LayerMix) -> None:
        self.mix = mix
        self.captured: dict[int, torch.Tensor] = {}
        self._layers = encoder_layers
        self._handles: list[Any] = []

    def __enter__(self) -> LayerTap:
        self.captured = {}
        for index in self.mix.layers:
            if index == 0:
                handle = self._layers[0].register_forward_pre_hook(
                    self._keep_input, with_kwargs=True
                )
            else:
                handle = self._layers[index - 1].register_forward_hook(partial(self._keep, index))
            self._handles.append(handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _keep_input(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.captured[0] = args[0] if args else kwargs["hidden_states"]

    def _keep(self, index: int, module: nn.Module, args: tuple, output: Any) -> None:
        self.captured[index] = output[0] if isinstance(output, (tuple, list)) else output

    def mixed(self) -> torch.Tensor:
        """The weighted sum of the kept hidden states, in float32: (batch, frames, dim)."""
        missing = [i for i in self.mix.layers if i not in self.captured]
        if missing:
            raise RuntimeError(f"layers {missing} did not run: hooks out of step with the encoder")
        total = None
        for index, weight in zip(self.mix.layers, self.mix.weights):
            part = self.captured[index].float() * weight
            total = part if total is None else total + part
        self.captured = {}
        return total
