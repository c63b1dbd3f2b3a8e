"""The presets: the paper's placement (each baseline its own lone norm), shapes that make sense,
and every network of local and ablation trainable at smoke scale."""

import dataclasses

import pytest
import torch
from torch import nn

from evonorm import GraphLayer, known_layer
from evonorm.proxy.architectures import ArchConfig
from evonorm.proxy.data import load_data
from evonorm.proxy.presets import PRESETS, get_preset
from evonorm.proxy.score import seeded_model, train_layer
from evonorm.proxy.substitution import Affine, LoneGroupNorm
from evonorm.proxy.trainer import TrainConfig


@pytest.fixture(scope="module")
def smoke_data():
    return load_data("fashion_mnist", search_size=256, rerank_size=256, fit_size=1024)


def output_sizes(model) -> list[int]:
    sizes = []
    for m in model.modules():
        if isinstance(m, GraphLayer):
            m.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
    model(torch.randn(2, 1, 28, 28))
    return sizes


def kinds(model):
    return {type(m) for m in model.modules()}


@pytest.mark.parametrize(
    ("layer", "lone"),
    [
        ("bn_relu", nn.BatchNorm2d),
        ("bn_silu", nn.BatchNorm2d),
        ("gn_relu", LoneGroupNorm),
        ("evonorm_b0", Affine),
        ("dyt", Affine),
    ],
)
def test_each_baseline_keeps_its_own_lone_norm_and_candidates_get_the_affine(layer, lone):
    model = seeded_model(known_layer(layer), "resnet", get_preset("local"), 0)
    block = model.stages[1][0]
    assert isinstance(block.bn1, GraphLayer)
    assert isinstance(block.bn3, lone) and isinstance(block.downsample[1], lone)
    assert float(block.bn3.weight.abs().sum()) == 0.0  # residual ends start at 0
    others = {nn.BatchNorm2d, LoneGroupNorm, Affine} - {lone}
    assert not kinds(model) & others


def test_min_map_keeps_late_feature_maps_and_bad_shapes_are_one_clear_error():
    config = ArchConfig(
        width=0.125, depth=0.34, stem_stride=2, in_channels=1, min_map=4, image_size=28
    )
    for arch in ("resnet", "mobilenet_v2", "vgg"):
        model = seeded_model(
            known_layer("evonorm_s0"),
            arch,
            dataclasses.replace(get_preset("smoke"), anchors=((arch, config),)),
            0,
        )
        sizes = output_sizes(model)
        assert 4 in sizes or arch == "vgg", arch
        assert min(sizes) >= 4, arch
    for bad, message in [
        ({"width": 0}, "width"),
        ({"depth": -1}, "depth"),
        ({"lone_norm": "layernorm"}, "lone_norm must be one of"),
        ({"min_map": 0}, "min_map"),
    ]:
        with pytest.raises(ValueError, match=message):
            ArchConfig(**bad)


def test_preset_revisions_tell_redesigns_apart():
    local = get_preset("local")
    assert local.revision == get_preset("local").revision
    changed = dataclasses.replace(local, rerank_steps=601)
    assert changed.revision != local.revision
    assert dataclasses.replace(local, seed_std=0.2).revision == local.revision  # measured
    assert local.rerank_protocol(["resnet", "vgg"]).endswith("/600/rerank/resnet,vgg")
    assert len({p.revision for p in PRESETS.values()}) == len(PRESETS)
    with pytest.raises(ValueError, match="seed_std"):
        dataclasses.replace(local, seed_std=1.5)


@pytest.mark.parametrize("preset", ["local", "ablation"])
def test_every_network_of_the_cpu_presets_trains_a_few_steps(preset, smoke_data):
    chosen = get_preset(preset)
    config = TrainConfig(steps=2, batch_size=16, augment=False)
    for arch in chosen.anchor_names + chosen.held_out_names:
        for layer in ("bn_relu", "evonorm_b0"):
            result = train_layer(known_layer(layer), arch, chosen, smoke_data, config, 0)
            assert result.steps == 2 and not result.reason, (arch, layer, result.reason)
