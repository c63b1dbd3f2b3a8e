import math

import pytest

from evonorm import KNOWN_LAYERS, LayerGraph, known_layer
from evonorm.proxy.data import load_data
from evonorm.proxy.presets import StabilityConfig, get_preset
from evonorm.proxy.score import seeded_model
from evonorm.reject import worst_case_grad_norm
from evonorm.space import Node

SMOKE = get_preset("smoke")
EXPLOSIVE = {
    "exp(exp(x))": (("exp", 0), ("exp", 4)),
    "x / (x - x)": (("neg", 0), ("add", 0, 4), ("div", 0, 5)),
    "exp(x)*exp(x)": (("exp", 0), ("mul", 4, 4)),
}


@pytest.fixture(scope="module")
def data():
    return load_data("fashion_mnist", search_size=256, rerank_size=256, fit_size=1024)


def norm_on(graph, arch, data, config=SMOKE.stability):
    return worst_case_grad_norm(seeded_model(graph, arch, SMOKE, 0), data, config)


@pytest.mark.parametrize("name", sorted(KNOWN_LAYERS))
def test_known_layers_pass_on_every_anchor(name, data):
    for arch in SMOKE.anchor_names:
        value = norm_on(known_layer(name), arch, data)
        assert math.isfinite(value) and 0 < value <= SMOKE.stability.max_grad_norm, (arch, value)


@pytest.mark.parametrize("formula", sorted(EXPLOSIVE))
def test_explosive_layers_exceed_the_threshold(formula, data):
    graph = LayerGraph(tuple(Node(op, tuple(ins)) for op, *ins in EXPLOSIVE[formula]))
    assert graph.formula() == formula
    assert norm_on(graph, "resnet", data) > SMOKE.stability.max_grad_norm


def test_ascent_finds_larger_norms_than_the_start(data):
    start = norm_on(known_layer("bn_relu"), "vgg", data, StabilityConfig(steps=0, batch_size=8))
    walked = norm_on(known_layer("bn_relu"), "vgg", data, StabilityConfig(steps=4, batch_size=8))
    assert walked >= start > 0


def test_config_validation():
    with pytest.raises(ValueError, match="max_grad_norm"):
        StabilityConfig(max_grad_norm=0)
