"""Rerank and transfer of a (smoke) search, with every result kept in the study."""

import dataclasses

import pytest

from evonorm.evolve import Outcome, Search, SearchConfig, SearchError, open_storage
from evonorm.evolve.after import (
    kept_layers,
    rerank_search,
    rerank_summary,
    transfer_search,
    transfer_summary,
)
from evonorm.evolve.steps import generate, record
from evonorm.proxy.presets import get_preset

SMOKE = dataclasses.replace(get_preset("smoke"), rerank_steps=6)  # the mechanics, quickly
ARCHS = ("resnet", "resnet_basic")  # one anchor, one held-out: enough to test the mechanics


@pytest.fixture(scope="module")
def data():
    return SMOKE.load_data()


def smoke_search(path, scores) -> Search:
    search = Search.open("study", open_storage(f"journal:{path}"), SearchConfig(preset="smoke"))
    for candidate, values in zip(generate(search, len(scores)), scores, strict=True):
        outcome = Outcome(
            candidate.trial, "accepted", scores=dict(zip(SMOKE.anchor_names, values, strict=True))
        )
        record(search, outcome)
    return search


def test_rerank_keeps_the_best_three_resumes_and_refuses_an_empty_search(tmp_path, data):
    search = smoke_search(
        tmp_path / "s.log",
        [(0.5, 0.5, 0.5), (0.6, 0.4, 0.5), (0.2, 0.2, 0.2), (0.3, 0.3, 0.3), (0.1, 0.1, 0.1)],
    )
    lines = []
    summary = rerank_search(
        search,
        SMOKE,
        data,
        top=4,
        seeds=(0, 1),
        archs=ARCHS,
        baselines=("bn_relu", "evonorm_s0"),
        echo=lines.append,
    )
    assert len(lines) == 6 * 2 * 2  # (4 finalists + 2 baselines) x archs x seeds
    assert [r["trial"] for r in summary["rows"] if r["kind"] == "candidate"] != []
    finalists = {r["trial"] for r in summary["rows"] if r["kind"] == "candidate"}
    assert finalists == {0, 1, 2, 3}  # the top 4 by Pareto rank then mean: trial 4 is out
    means = [r["metrics"]["rerank_accuracy"] for r in summary["rows"]]
    assert means == sorted(means, reverse=True)
    assert {r["name"] for r in summary["rows"] if r["kind"] == "baseline"} == {
        "bn_relu",
        "evonorm_s0",
    }
    assert summary["archs"] == list(ARCHS) and summary["split"] == "rerank"
    assert summary["steps"] == 6
    candidates = [r["name"] for r in summary["rows"] if r["kind"] == "candidate"]
    assert summary["kept"] == {
        "study-B0": candidates[0],
        "study-B1": candidates[1],
        "study-B2": candidates[2],
    }
    for row in summary["rows"]:
        assert all(len(v) == 2 and all(0 <= a <= 1 for a in v) for v in row["accuracy"].values())

    # Reopened from the storage alone: every training is reused, nothing retrains.
    reopened = Search.open("study", open_storage(f"journal:{tmp_path / 's.log'}"))
    again = []
    resumed = rerank_search(
        reopened,
        SMOKE,
        data,
        top=4,
        seeds=(0, 1),
        archs=ARCHS,
        baselines=("bn_relu", "evonorm_s0"),
        echo=again.append,
    )
    assert resumed == summary
    assert again == [] and rerank_summary(reopened) == summary

    empty = Search.open(
        "empty", open_storage(f"journal:{tmp_path / 'e.log'}"), SearchConfig(preset="smoke")
    )
    with pytest.raises(SearchError, match="no accepted layer"):
        rerank_search(empty, SMOKE, data, archs=ARCHS)
    with pytest.raises(SearchError, match="has not been reranked"):
        kept_layers(empty)
    with pytest.raises(KeyError, match="no architecture 'alexnet'"):
        rerank_search(search, SMOKE, data, archs=("alexnet",))


def test_transfer_results_join_the_kept_layers_metrics(tmp_path, data):
    search = smoke_search(tmp_path / "s.log", [(0.5, 0.5, 0.5), (0.6, 0.4, 0.5)])
    rerank_search(
        search, SMOKE, data, top=2, seeds=(0,), archs=("resnet",), baselines=(), echo=lambda _: None
    )
    results = transfer_search(
        search, SMOKE, data, baselines=("bn_relu",), out=str(tmp_path), echo=lambda _: None
    )
    kept = rerank_summary(search)["kept"]
    assert list(kept) == ["study-B0", "study-B1"]
    for task in ("segmentation", "gan"):
        assert set(results[task]["layers"]) == set(kept.values()) | {"bn_relu"}
    assert transfer_summary(search) == results
    layers = kept_layers(search)
    assert [name for name, _, _ in layers] == ["study-B0", "study-B1"]
    metrics = layers[0][2]
    assert {
        "rerank_accuracy",
        "rerank_resnet",
        "segmentation_box_ap",
        "segmentation_mask_ap",
        "segmentation_box_ap50",
    } <= set(metrics)
    fid = results["gan"]["layers"][kept["study-B0"]]["fid"]
    assert metrics.get("gan_fid") == fid  # absent when the GAN failed
    with pytest.raises(SearchError, match="unknown transfer tasks"):
        transfer_search(search, SMOKE, data, tasks=("detection",))
