"""Compiled known layers against hand-written modules and torch's own norms: outputs and
gradients, train mode and eval mode after running-statistics updates, C divisible by 32 or not."""

import copy

import pytest
import torch
from torch import nn

from evonorm import build_layer, known_layer
from references import EvoNormB0Reference, EvoNormS0Reference

CHANNELS = [64, 40, 24]  # divisible by 32; 40 -> 20 groups; 24 -> 24 groups


def perturb(module: nn.Module) -> None:
    """Move every parameter off its initial value so that each one matters in the comparison."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))


def copy_params(compiled: nn.Module, reference: nn.Module, mapping: dict[str, str]) -> None:
    with torch.no_grad():
        for mine, theirs in mapping.items():
            getattr(compiled, mine).copy_(reference.get_parameter(theirs))


def compare(compiled, reference, shape, steps=3, atol=1e-5, rtol=1e-4):
    """Train steps (outputs, input and parameter gradients, buffers), then eval mode."""
    for _ in range(steps):
        x = (1.5 * torch.randn(shape) + 0.2).requires_grad_(True)
        x2 = x.detach().clone().requires_grad_(True)
        y, y_ref = compiled(x), reference(x2)
        torch.testing.assert_close(y, y_ref, atol=atol, rtol=rtol)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        torch.testing.assert_close(x.grad, x2.grad, atol=atol, rtol=rtol)
    compiled.eval()
    reference.eval()
    x = torch.randn(shape)
    torch.testing.assert_close(compiled(x), reference(x), atol=atol, rtol=rtol)


@pytest.mark.parametrize("channels", CHANNELS)
def test_b0_matches_hand_written(channels):
    reference = EvoNormB0Reference(channels)
    perturb(reference)
    layer = build_layer(known_layer("evonorm_b0"), channels)
    copy_params(layer, reference, {"v1": "v1", "weight": "weight", "bias": "bias"})
    compare(layer, reference, (8, channels, 5, 5))
    torch.testing.assert_close(layer.running_var_4, reference.running_var)
    assert not torch.equal(reference.running_var, torch.ones(channels))
    for mine, theirs in (("v1", "v1"), ("weight", "weight"), ("bias", "bias")):
        torch.testing.assert_close(
            getattr(layer, mine).grad, reference.get_parameter(theirs).grad, rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize("channels", CHANNELS)
def test_s0_matches_hand_written(channels):
    reference = EvoNormS0Reference(channels)
    perturb(reference)
    layer = build_layer(known_layer("evonorm_s0"), channels)
    assert layer.groups == reference.groups == {64: 32, 40: 20, 24: 24}[channels]
    copy_params(layer, reference, {"v1": "v1", "weight": "weight", "bias": "bias"})
    compare(layer, reference, (6, channels, 7, 7))
    for name in ("v1", "weight", "bias"):
        torch.testing.assert_close(
            getattr(layer, name).grad, reference.get_parameter(name).grad, rtol=1e-4, atol=1e-4
        )


class NormThenAct(nn.Module):
    def __init__(self, norm: nn.Module, act: nn.Module):
        super().__init__()
        self.norm, self.act = norm, act

    def forward(self, x):
        return self.act(self.norm(x))


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("bn_relu", lambda c: NormThenAct(nn.BatchNorm2d(c), nn.ReLU())),
        ("bn_silu", lambda c: NormThenAct(nn.BatchNorm2d(c), nn.SiLU())),
        ("gn_relu", lambda c: NormThenAct(nn.GroupNorm(20 if c == 40 else 32, c), nn.ReLU())),
    ],
)
@pytest.mark.parametrize("channels", [64, 40])
def test_baselines_match_torch_norms(name, make, channels):
    """At initialisation (v1 = gamma = 1, v0 = beta = 0) the graphs are exactly torch's norms
    followed by the activation, running statistics included."""
    layer = build_layer(known_layer(name), channels)
    reference = make(channels)
    compare(layer, reference, (8, channels, 6, 6))
    if name.startswith("bn"):
        torch.testing.assert_close(layer.running_mean_4, reference.norm.running_mean)
        torch.testing.assert_close(layer.running_var_7, reference.norm.running_var)


def formula_b1(x, v, eps, std_b):
    return x / torch.maximum(std_b, (x + 1) * x.pow(2).mean((2, 3), keepdim=True).sqrt())


def formula_b2(x, v, eps, std_b):
    return x / torch.maximum(std_b, x.pow(2).mean((2, 3), keepdim=True).sqrt() - x)


def group_stat(x, groups, fn):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    return fn(g).expand(n, groups, c // groups).reshape(n, c, 1, 1)


@pytest.mark.parametrize("channels", [64, 40])
@pytest.mark.parametrize("name", ["evonorm_b1", "evonorm_b2"])
def test_b1_b2_follow_their_formulas(name, channels):
    layer = build_layer(known_layer(name), channels)
    formula = formula_b1 if name == "evonorm_b1" else formula_b2
    x = torch.randn(8, channels, 5, 5)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    torch.testing.assert_close(layer(x), formula(x, None, 1e-5, (var + 1e-5).sqrt()))
    n = 8 * 25
    torch.testing.assert_close(layer.running_var_4, 0.9 + 0.1 * var.view(-1) * n / (n - 1))
    layer.eval()
    running = layer.running_var_4.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), formula(x, None, 1e-5, (running + 1e-5).sqrt()))


@pytest.mark.parametrize("channels", [64, 40])
def test_s1_s2_follow_their_formulas(channels):
    groups = 32 if channels == 64 else 20
    x = torch.randn(4, channels, 5, 5)
    std = group_stat(x, groups, lambda g: (g.var(2, unbiased=False, keepdim=True) + 1e-5).sqrt())
    rms = group_stat(x, groups, lambda g: g.pow(2).mean(2, keepdim=True).sqrt())
    s1 = build_layer(known_layer("evonorm_s1"), channels)
    s2 = build_layer(known_layer("evonorm_s2"), channels)
    torch.testing.assert_close(s1(x), x * torch.sigmoid(x) / std)
    torch.testing.assert_close(s2(x), x * torch.sigmoid(x) / rms)


def test_state_dict_round_trip_and_deepcopy():
    layer = build_layer(known_layer("bn_relu"), 16)
    perturb(layer)
    layer(torch.randn(4, 16, 3, 3))
    other = build_layer(known_layer("bn_relu"), 16)
    other.load_state_dict(layer.state_dict())
    x = torch.randn(4, 16, 3, 3)
    layer.eval(), other.eval()
    torch.testing.assert_close(layer(x), other(x))
    twin = copy.deepcopy(layer)
    torch.testing.assert_close(twin(x), layer(x))
    assert set(layer.state_dict()) == {
        "weight",
        "bias",
        "v0",
        "v1",
        "running_mean_4",
        "running_var_7",
    }
    layer.reset_parameters()
    assert torch.equal(layer.v1, torch.ones(16)) and torch.equal(
        layer.running_var_7, torch.ones(16)
    )
