import dataclasses
import itertools

import pytest
import torch
from torch import nn

from evonorm import LayerGraph, known_layer
from evonorm.proxy.data import load_data
from evonorm.proxy.presets import get_preset
from evonorm.proxy.trainer import TrainConfig, _optimizer, _schedule
from evonorm.reject import train_layer
from evonorm.space import Node

SMOKE = get_preset("smoke")


@pytest.fixture(scope="module")
def data():
    return load_data("fashion_mnist", search_size=512, rerank_size=256, fit_size=4096)


def test_schedule_warms_up_then_decays_to_zero():
    factors = [_schedule(s, 100, 10) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] < 0.01
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))


def test_no_weight_decay_on_norm_parameters():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decay, rest = _optimizer(model, TrainConfig()).param_groups
    assert decay["weight_decay"] > 0 and rest["weight_decay"] == 0
    assert {p.ndim for p in decay["params"]} == {2, 4} and {p.ndim for p in rest["params"]} == {1}


def test_training_learns_and_is_deterministic_on_cpu(data):
    config = dataclasses.replace(SMOKE.train, steps=40, batch_size=64)
    a = train_layer(known_layer("evonorm_s0"), "vgg", SMOKE, data, config, seed=3)
    b = train_layer(known_layer("evonorm_s0"), "vgg", SMOKE, data, config, seed=3)
    assert a.accuracy == b.accuracy and a.final_loss == b.final_loss
    assert a.accuracy > 0.4 and a.steps == 40 and not a.diverged and a.reason == ""
    c = train_layer(known_layer("evonorm_s0"), "vgg", SMOKE, data, config, seed=4)
    assert c.final_loss != a.final_loss


def test_a_diverging_layer_is_reported_not_raised(data):
    explosive = LayerGraph((Node("exp", (0,)), Node("exp", (4,)), Node("exp", (5,))))
    result = train_layer(explosive, "resnet", SMOKE, data, SMOKE.train, seed=0)
    assert result.diverged and result.accuracy == 0.0
    assert "non-finite loss" in result.reason and result.steps == 0


def test_timeout_stops_training(data):
    config = dataclasses.replace(SMOKE.train, timeout_s=0.0)
    result = train_layer(known_layer("bn_relu"), "resnet", SMOKE, data, config, seed=0)
    assert result.timed_out and not result.diverged and result.steps == 0
    assert result.reason.startswith("timeout")


def test_config_validation():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="warmup_fraction"):
        TrainConfig(warmup_fraction=1.0)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        TrainConfig(clip_grad_norm=0.0)
    assert torch.get_default_dtype() == torch.float32


def test_gradient_clipping_changes_the_update(data):
    config = dataclasses.replace(SMOKE.train, steps=3)
    plain = train_layer(known_layer("bn_relu"), "resnet", SMOKE, data, config, seed=0)
    tight = dataclasses.replace(config, clip_grad_norm=1e-3)
    clipped = train_layer(known_layer("bn_relu"), "resnet", SMOKE, data, tight, seed=0)
    assert clipped.steps == plain.steps == 3 and clipped.final_loss != plain.final_loss
