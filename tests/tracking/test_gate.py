"""The champion gate: only a layer that beat BN-ReLU in its own rerank is crowned."""

import statistics

import pytest

from evonorm.proxy.presets import get_preset
from evonorm.tracking.gate import RerankEvidence, evidence_from_rerank, verdict

BN = {"resnet": 0.84, "resnet_basic": 0.86, "vgg": 0.87}


def evidence(layer, *, bn_relu=BN, held_out=("resnet_basic", "vgg"), seed_std=0.005):
    return RerankEvidence(
        search="s",
        protocol="local@x/600/rerank/resnet,resnet_basic,vgg",
        layer=layer,
        bn_relu=bn_relu,
        held_out=held_out,
        seed_std=seed_std,
    )


def test_a_layer_that_beats_bn_relu_everywhere_passes():
    gate = verdict(evidence({"resnet": 0.85, "resnet_basic": 0.87, "vgg": 0.88}))
    assert gate.passed and "beats BN-ReLU by 1.00 points" in gate.reason


@pytest.mark.parametrize(
    ("layer", "kwargs", "reason"),
    [
        # a win within seed noise is no win
        ({"resnet": 0.845, "resnet_basic": 0.865, "vgg": 0.874}, {}, "does not exceed"),
        # a higher mean does not excuse a network it breaks (the VGG case of make search)
        ({"resnet": 0.95, "resnet_basic": 0.95, "vgg": 0.84}, {}, "vgg 84.00% is more than 2"),
        ({"resnet": 0.9, "resnet_basic": 0.9, "vgg": 0.9}, {"held_out": ()}, "no held-out"),
        ({"resnet": 0.9, "resnet_basic": 0.9, "vgg": 0.9}, {"bn_relu": None}, "not reranked"),
        ({"resnet": 0.9, "resnet_basic": 0.9, "vgg": 0.9}, {"seed_std": 0.2}, "seed std"),
    ],
)
def test_the_gate_fails_with_its_reason(layer, kwargs, reason):
    gate = verdict(evidence(layer, **kwargs))
    assert not gate.passed and reason in gate.reason


def test_no_evidence_or_unmeasured_noise_never_passes():
    assert not verdict(None).passed
    unmeasured = verdict(evidence({a: v + 0.05 for a, v in BN.items()}, seed_std=None))
    assert not unmeasured.passed and "not measured" in unmeasured.reason


def test_evidence_comes_from_a_stored_rerank_summary():
    summary = {
        "preset": "local",
        "archs": ["resnet", "vgg"],
        "seeds": [0, 1],
        "protocol": "p",
        "rows": [
            {"name": "trial 3", "accuracy": {"resnet": [0.9, 0.92], "vgg": [0.8, 0.8]}},
            {"name": "bn_relu", "accuracy": {"resnet": [0.84, 0.86], "vgg": [0.86, 0.88]}},
        ],
    }
    found = evidence_from_rerank(summary, "trial 3", "demo")
    assert found.layer == pytest.approx({"resnet": 0.91, "vgg": 0.8})
    assert found.bn_relu == pytest.approx({"resnet": 0.85, "vgg": 0.87})
    assert found.held_out == ("vgg",) and found.protocol == "p" and found.search == "demo"
    # two seeds measured BN-ReLU means of 85 and 87 %: a sample std of 1.4 points, larger than
    # the preset's figure
    spread = statistics.stdev([0.85, 0.87])
    assert found.seed_std == pytest.approx(max(spread, get_preset("local").seed_std or 0.0))
    assert not verdict(found).passed  # vgg is 7 points below BN-ReLU
