"""place_layer: a pulled layer in a torchvision model sits where the search and rerank put it."""

import functools

import pytest
import torch
import torchvision
from torch import nn

import evonorm
from evonorm import build_layer, known_layer
from evonorm.compile import GraphLayer
from evonorm.proxy.architectures import ARCHITECTURES, ArchConfig
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import seeded_model
from evonorm.proxy.substitution import Affine
from evonorm.tracking.gate import RerankEvidence

BN = {"resnet": 0.8, "vgg": 0.8}


def count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_torchvision_resnet18_gets_the_searched_placement():
    torch.manual_seed(0)
    layer = functools.partial(build_layer, known_layer("evonorm_b0"))
    model = evonorm.place_layer(torchvision.models.resnet18(num_classes=10), layer)
    assert count(model, nn.BatchNorm2d) == 0
    assert count(model, GraphLayer) == 1 + 8  # the stem, and each block's first norm
    assert count(model, Affine) == 8 + 3  # each block's last norm, the projection shortcuts
    assert isinstance(model.relu, nn.Identity)  # the stem's ReLU went with its BN
    block = model.layer2[0]
    assert block.bn2.zero_init and not block.downsample[1].zero_init
    nn.init.normal_(block.bn2.weight)  # so that the branch counts
    x = torch.randn(4, 64, 8, 8)
    by_hand = torch.relu(block.bn2(block.conv2(block.bn1(block.conv1(x)))) + block.downsample(x))
    torch.testing.assert_close(block(x), by_hand)  # layer, no ReLU after it; ReLU after the add
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("arch", ["mobilenet_v2", "vgg", "resnet_basic"])
def test_a_pulled_layer_computes_what_the_rerank_trained(arch, tmp_path):
    graph = known_layer("evonorm_s0")
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    evidence = RerankEvidence(
        search="s",
        protocol="p",
        layer={a: 0.9 for a in BN},
        bn_relu=BN,
        held_out=("vgg",),
        seed_std=0.005,
    )
    evonorm.publish_layer(graph, "place-S0", tracking_uri=uri, evidence=evidence)
    pulled = evonorm.load_layer("models:/place-S0@champion", tracking_uri=uri)
    preset = get_preset("smoke")
    config: ArchConfig = preset.arch(arch)
    torch.manual_seed(3)
    users = evonorm.place_layer(ARCHITECTURES[arch](config), pulled)  # default BNs, then placed
    reranked = seeded_model(graph, arch, preset, 3)  # what rerank_search trains
    assert [type(m) for m in users.modules()] == [type(m) for m in reranked.modules()]
    x = torch.randn(8, 1, 28, 28)
    for mode in ("train", "eval"):
        getattr(users, mode)()
        getattr(reranked, mode)()
        torch.testing.assert_close(users(x), reranked(x))
