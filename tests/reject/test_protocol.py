import dataclasses

import pytest

from evonorm import LayerGraph, known_layer
from evonorm.proxy.data import load_data
from evonorm.proxy.presets import QualityConfig, get_preset
from evonorm.reject import RejectionChain, evaluate
from evonorm.space import Node

SMOKE = get_preset("smoke")


@pytest.fixture(scope="module")
def data():
    return load_data("fashion_mnist", search_size=256, rerank_size=256, fit_size=2048)


def test_known_layer_is_accepted_and_trained_on_every_anchor(data):
    result = evaluate(known_layer("evonorm_s0"), RejectionChain(SMOKE, data))
    assert result.verdict.accepted and result.verdict.stage == "accepted"
    assert set(result.results) == set(SMOKE.anchor_names)
    assert all(r.steps == SMOKE.train.steps for r in result.results.values())
    summary = result.to_dict()
    assert set(summary["accuracy"]) == set(SMOKE.anchor_names) and summary["seconds"] > 0
    assert {f"grad_norm/{a}" for a in SMOKE.anchor_names} <= set(summary["metrics"])


def test_duplicates_are_reported_with_what_they_duplicate(data):
    s0 = known_layer("evonorm_s0")
    chain = RejectionChain(SMOKE, data, seen_hashes={s0.structural_hash(): "trial 3"})
    verdict = chain.run(s0)
    assert (verdict.accepted, verdict.stage, verdict.reason) == (
        False,
        "structural",
        "duplicate: same structure as trial 3",
    )
    from evonorm.reject import fingerprint

    chain = RejectionChain(SMOKE, data, seen_fingerprints={fingerprint(s0).digest: "trial 5"})
    reordered = LayerGraph(
        (
            Node("std_group", (0,)),
            Node("mul", (0, 3)),
            Node("sigmoid", (5,)),
            Node("mul", (6, 0)),
            Node("div", (7, 4)),
        ),
        space="S",
    )
    verdict = chain.run(reordered)
    assert verdict.stage == "fingerprint" and "trial 5" in verdict.reason


def test_stages_reject_with_reasons(data):
    chain = RejectionChain(SMOKE, data)
    constant = LayerGraph((Node("neg", (0,)), Node("add", (0, 4))))
    assert chain.run(constant).reason == "output does not depend on the input"
    explosive = LayerGraph((Node("neg", (0,)), Node("add", (0, 4)), Node("div", (0, 5))))
    verdict = chain.run(explosive)
    assert verdict.stage == "stability" and "worst-case gradient norm" in verdict.reason
    chain = RejectionChain(dataclasses.replace(SMOKE, reject_affine=True), data)
    verdict = chain.run(explosive)  # x / (x - x): x times a huge constant, affine
    assert verdict.stage == "fingerprint" and verdict.reason.startswith("affine in x")
    assert verdict.metrics["normaliser"] is False  # its spread follows x's: not a near miss


def test_affine_layers_are_rejected_before_any_training_where_the_preset_asks(data):
    x_over_std = LayerGraph((Node("std_batch", (0,)), Node("div", (0, 4))))
    verdict = RejectionChain(dataclasses.replace(SMOKE, reject_affine=True), data).run(x_over_std)
    assert (verdict.stage, verdict.reason) == (
        "fingerprint",
        "affine in x at every position: a normaliser with no activation",
    )
    assert not any(key.startswith(("grad_norm/", "quality/")) for key in verdict.metrics)
    assert verdict.metrics["normaliser"] is True  # a near miss: searches may breed from it
    assert get_preset("local").reject_affine and get_preset("ablation").reject_affine
    assert not get_preset("paper").reject_affine  # the paper leaves them to its training
    assert RejectionChain(SMOKE, data).run(x_over_std).stage != "fingerprint"


def test_quality_thresholds_absolute_and_relative(data):
    strict = dataclasses.replace(SMOKE, quality=QualityConfig(steps=2, min_accuracy=0.99))
    verdict = RejectionChain(strict, data).run(known_layer("bn_relu"))
    assert verdict.stage == "quality" and verdict.reason.startswith("resnet: accuracy")
    relative = dataclasses.replace(SMOKE, quality=QualityConfig(steps=2, min_relative=1.0))
    chain = RejectionChain(relative, data, references={"resnet": 0.95})
    verdict = chain.run(known_layer("evonorm_s0"))
    assert verdict.stage == "quality" and "< 95.0%" in verdict.reason
    chain = RejectionChain(relative, data)
    chain.reference("resnet")
    assert 0.0 <= chain.references["resnet"] <= 1.0  # BN-ReLU trained once, at the quality budget


def test_quality_config_validation():
    with pytest.raises(ValueError, match="min_relative"):
        QualityConfig(min_relative=1.5)
    assert QualityConfig(min_accuracy=0.2, min_relative=0.5).threshold(0.8) == pytest.approx(0.4)
    assert QualityConfig(min_accuracy=0.2, min_relative=0.5).threshold(None) == 0.2
