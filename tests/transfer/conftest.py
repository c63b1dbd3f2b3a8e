import pytest

from evonorm.proxy.presets import get_preset
from evonorm.space import LayerGraph, Node


@pytest.fixture(scope="session")
def nan_layer() -> LayerGraph:
    """exp(x / (x - x)): division by the ops' floor, then exp overflows to inf, which the next
    convolution turns into NaN — training must stop and report it."""
    nodes = (Node("neg", (0,)), Node("add", (0, 4)), Node("div", (0, 5)), Node("exp", (6,)))
    return LayerGraph(nodes)


@pytest.fixture(scope="session")
def smoke_data():
    return get_preset("smoke").load_data()
