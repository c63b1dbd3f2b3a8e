"""Train one layer graph in one architecture of a preset: the unit of every proxy score."""

from __future__ import annotations

import functools

import torch

from evonorm.compile import build_layer
from evonorm.proxy.architectures import build_model
from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import Preset
from evonorm.proxy.trainer import TrainConfig, TrainResult, train
from evonorm.space import LayerGraph


def train_layer(
    graph: LayerGraph, arch: str, preset: Preset, data: ProxyData, config: TrainConfig, seed: int
) -> TrainResult:
    """Initialise ``arch`` with ``graph`` in its norm-act slots (seeded) and train it."""
    torch.manual_seed(seed)
    model = build_model(arch, preset.arch(arch), functools.partial(build_layer, graph))
    return train(model, data, config, seed=seed)
