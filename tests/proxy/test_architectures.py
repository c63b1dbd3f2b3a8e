import functools
import itertools

import pytest
import torch
from torch import nn

from evonorm import KNOWN_LAYERS, GraphLayer, build_layer, known_layer
from evonorm.proxy.architectures import (
    ANCHORS,
    ARCHITECTURES,
    HELD_OUT,
    ArchConfig,
    NormActBottleneck,
    build_model,
)
from evonorm.proxy.substitution import Affine

SMALL = ArchConfig(width=0.125, depth=0.34, stem_stride=1, in_channels=1)


def factory(name):
    return functools.partial(build_layer, known_layer(name))


def test_registry_has_three_anchors_and_held_out_families():
    assert ANCHORS == ("resnet", "mobilenet_v2", "efficientnet_b0")
    assert len(HELD_OUT) >= 2 and not set(HELD_OUT) & set(ANCHORS)
    assert set(ARCHITECTURES) == set(ANCHORS) | set(HELD_OUT)
    with pytest.raises(KeyError, match="unknown architecture 'alexnet'"):
        build_model("alexnet", SMALL, factory("bn_relu"))
    with pytest.raises(ValueError, match="stem_stride"):
        ArchConfig(stem_stride=3)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("layer", sorted(KNOWN_LAYERS))
def test_every_architecture_hosts_every_known_layer(arch, layer):
    torch.manual_seed(0)
    model = build_model(arch, SMALL, factory(layer))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, GraphLayer) for m in model.modules())
    y = model(torch.randn(6, 1, 28, 28))
    assert y.shape == (6, 10) and torch.isfinite(y).all()
    y.logsumexp(dim=1).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_substitution_rule_in_a_bottleneck():
    model = build_model("resnet", SMALL, factory("evonorm_b0"))
    block = next(m for m in model.modules() if isinstance(m, NormActBottleneck))
    assert isinstance(block.bn1, GraphLayer) and isinstance(block.bn2, GraphLayer)
    assert isinstance(block.bn3, Affine) and block.bn3.zero_init
    assert torch.equal(block.bn3.weight, torch.zeros_like(block.bn3.weight))
    assert isinstance(block.relu, nn.ReLU)  # the ReLU after the addition stays
    shortcut = block.downsample[1]
    assert isinstance(shortcut, Affine) and not shortcut.zero_init  # projection: affine, gamma 1
    stem = model.stem
    assert isinstance(stem[1], GraphLayer) and isinstance(stem[2], nn.Identity)


def test_substitution_rule_in_mobile_blocks():
    for arch in ("mobilenet_v2", "efficientnet_b0", "mnasnet"):
        model = build_model(arch, SMALL, factory("evonorm_s0"))
        residual = [
            m
            for m in model.modules()
            if getattr(m, "use_res_connect", False) or getattr(m, "apply_residual", False)
        ]
        assert residual, arch
        for block in residual:
            last = [m for m in block.modules() if isinstance(m, Affine | GraphLayer)][-1]
            assert isinstance(last, Affine) and last.zero_init, arch
        # no activation survives directly after a candidate layer
        for seq in (m for m in model.modules() if isinstance(m, nn.Sequential)):
            items = list(seq)
            for a, b in itertools.pairwise(items):
                if isinstance(a, GraphLayer):
                    assert not isinstance(b, nn.ReLU | nn.ReLU6 | nn.SiLU), arch


def test_stem_adapts_to_small_images():
    for arch in ANCHORS:
        model = build_model(
            arch, ArchConfig(width=0.125, depth=0.34, in_channels=1), factory("bn_relu")
        )
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        assert first.in_channels == 1 and first.stride == (1, 1), arch
    assert not any(
        isinstance(m, nn.MaxPool2d)
        for m in build_model("resnet", SMALL, factory("bn_relu")).modules()
    )


def test_lone_norms_can_stay_batch_norms():
    config = ArchConfig(width=0.125, depth=0.34, in_channels=1, lone_norm="batchnorm")
    model = build_model("resnet", config, factory("evonorm_s0"))
    block = next(m for m in model.modules() if isinstance(m, NormActBottleneck))
    assert isinstance(block.bn1, GraphLayer) and isinstance(block.bn3, nn.BatchNorm2d)
    assert torch.equal(block.bn3.weight, torch.zeros_like(block.bn3.weight))
    assert isinstance(block.downsample[1], nn.BatchNorm2d) and block.downsample[1].weight[0] == 1
    assert not any(isinstance(m, Affine) for m in model.modules())
    with pytest.raises(ValueError, match="lone_norm"):
        build_model("vgg", ArchConfig(lone_norm="none"), factory("bn_relu"))
