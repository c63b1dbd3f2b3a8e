"""Train one layer graph in one architecture of a preset: the unit of every proxy score."""

from __future__ import annotations

import dataclasses
import functools

import torch
from torch import nn

from evonorm.compile import build_layer
from evonorm.proxy.architectures import build_model
from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import Preset
from evonorm.proxy.substitution import own_lone_norm
from evonorm.proxy.trainer import TrainConfig, TrainResult, train
from evonorm.space import LayerGraph


def seeded_model(graph: LayerGraph, arch: str, preset: Preset, seed: int) -> nn.Module:
    """``arch`` (shaped by ``preset``) with ``graph`` in its norm-act slots, initialised from
    ``seed``."""
    torch.manual_seed(seed)
    factory = functools.partial(build_layer, graph)
    return build_model(arch, preset.arch(arch), factory, lone_norm=own_lone_norm(graph))


def train_layer(
    graph: LayerGraph, arch: str, preset: Preset, data: ProxyData, config: TrainConfig, seed: int
) -> TrainResult:
    """Initialise ``arch`` with ``graph`` in its norm-act slots (seeded) and train it, at the
    architecture's own learning rate when its shape sets one."""
    lr = preset.arch(arch).lr
    if lr is not None:
        config = dataclasses.replace(config, lr=lr)
    return train(seeded_model(graph, arch, preset, seed), data, config, seed=seed)
