"""Muon + AdamW: the orthogonalisation, the parameter split, checkpoints; optimizers chosen by name."""

import io
from types import SimpleNamespace

import pytest
import torch

from spire.errors import ConfigError
from spire.training.optimizers import (
    OPTIMIZERS,
    MuonAdamW,
    build_muon,
    get_optimizer,
    muon_param_groups,
    orthogonalize,
)


def _polar(matrix: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    return u @ vh


@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 48, 16), (2, 16, 48)])
def test_orthogonalize_approaches_the_polar_factor(shape):
    torch.manual_seed(0)
    stack = torch.randn(*shape)
    result = orthogonalize(stack)
    assert result.shape == stack.shape
    for matrix, ortho in zip(stack, result):
        singular = torch.linalg.svdvals(ortho)
        # Muon's quintic iteration pushes singular values into roughly [0.7, 1.2], not exactly to 1;
        # the smallest ones of a random square matrix need more than 5 iterations to get there.
        assert singular.max() < 1.3 and (singular > 0.6).float().mean() > 0.9
        cosine = torch.nn.functional.cosine_similarity(ortho.flatten(), _polar(matrix).flatten(), dim=0)
        assert cosine > 0.95


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False))


def test_param_groups_put_only_the_decoder_matrices_on_muon():
    model = _tiny_llama()
    groups = muon_param_groups(model, lr=1e-3, muon_lr=0.02, weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    muon = {names[id(p)] for g in groups if g["muon"] for p in g["params"]}
    adam = {names[id(p)]: g["weight_decay"] for g in groups if not g["muon"] for p in g["params"]}
    assert muon == {n for n, p in model.named_parameters() if p.ndim == 2 and "embed" not in n and "lm_head" not in n}
    assert len(muon) == 2 * 7  # q, k, v, o, gate, up, down per layer
    assert adam["model.embed_tokens.weight"] == adam["lm_head.weight"] == 0.1
    assert {n for n, decay in adam.items() if decay == 0.0} == {n for n, p in model.named_parameters() if p.ndim == 1}
    assert len(muon) + len(adam) == len(list(model.parameters()))
    assert next(g for g in groups if g["muon"])["lr"] == 0.02


def test_state_dict_round_trip_continues_identically():
    def make():
        model = _tiny_llama()
        return model, MuonAdamW(muon_param_groups(model, lr=1e-3, muon_lr=0.02, weight_decay=0.0), lr=1e-3)

    ids = torch.randint(0, 50, (2, 12))

    def step(model, opt):
        opt.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()

    first, opt_first = make()
    for _ in range(3):
        step(first, opt_first)
    second, opt_second = make()
    second.load_state_dict(first.state_dict())
    saved = io.BytesIO()  # through bytes, as a checkpoint goes (a live state_dict shares its tensors)
    torch.save(opt_first.state_dict(), saved)
    saved.seek(0)
    opt_second.load_state_dict(torch.load(saved, weights_only=True))
    step(first, opt_first)
    step(second, opt_second)
    for (name, a), b in zip(first.named_parameters(), second.parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_muon_lowers_the_loss_of_a_tiny_lm():
    model = _tiny_llama()
    opt = MuonAdamW(muon_param_groups(model, lr=3e-3, muon_lr=0.02, weight_decay=0.0), lr=3e-3)
    ids = torch.randint(0, 50, (4, 16), generator=torch.Generator().manual_seed(1))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_momentum_is_refused():
    with pytest.raises(ValueError, match="momentum"):
        MuonAdamW([torch.nn.Parameter(torch.zeros(2, 2))], lr=1e-3, momentum=1.5)


def test_optimizers_are_chosen_by_name():
    assert get_optimizer("adamw") is None  # the Trainer's own AdamW
    assert get_optimizer("muon") is build_muon
    with pytest.raises(ConfigError, match="adamw") as info:
        get_optimizer("sgd")
    assert info.value.key == "optim.name" and set(OPTIMIZERS) == {"adamw", "muon"}


def test_build_muon_takes_adamw_settings_from_the_trainer_arguments():
    model = _tiny_llama()
    args = SimpleNamespace(learning_rate=2e-3, weight_decay=0.1, adam_beta1=0.8, adam_beta2=0.99, adam_epsilon=1e-6)
    opt = build_muon(model, args, SimpleNamespace(muon_lr=0.03, muon_momentum=0.9))
    adam, muon = [g for g in opt.param_groups if not g["muon"]], [g for g in opt.param_groups if g["muon"]]
    assert [g["lr"] for g in adam] == [2e-3, 2e-3] and muon[0]["lr"] == 0.03
    assert muon[0]["momentum"] == 0.9 and adam[0]["betas"] == (0.8, 0.99) and adam[0]["eps"] == 1e-6
    assert adam[0]["weight_decay"] == 0.1 and adam[1]["weight_decay"] == 0.0
