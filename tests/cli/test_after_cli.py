"""After a (smoke) search, from the command line: rerank, transfer, publish, pull, report —
the whole path from a study to a layer inside someone else's torchvision model."""

import importlib.util
import os
import subprocess
import sys

import pytest
import torch
import torchvision

import evonorm
from evonorm.evolve import Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.after import rerank_summary
from evonorm.evolve.steps import generate, record
from evonorm.tracking.gate import evidence_from_rerank, verdict


def evonorm_cli(cwd, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "evonorm", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.timeout(900)
def test_a_smoke_study_reranked_transferred_published_and_pulled(tmp_path):
    early = evonorm_cli(tmp_path, "publish", "demo")
    assert early.returncode == 2 and "no study storage" in early.stderr

    # A study with five accepted candidates (random graphs with made-up search scores): the
    # search itself is tested elsewhere; here the scores only decide the finalists.
    search = Search.open(
        "demo",
        open_storage(f"journal:{tmp_path / 'runs/demo/optuna.log'}"),
        SearchConfig(preset="smoke"),
    )
    for i, candidate in enumerate(generate(search, 5)):
        scores = dict.fromkeys(search.config.anchors, 0.1 * (i + 1))
        record(search, Outcome(candidate.trial, "accepted", scores=scores))

    unranked = evonorm_cli(tmp_path, "publish", "demo")
    assert unranked.returncode == 2
    assert unranked.stderr.strip() == (
        "evonorm: error: search 'demo' has not been reranked; run `evonorm rerank demo`"
    )

    reranked = evonorm_cli(
        tmp_path,
        "rerank",
        "demo",
        "--top",
        "3",
        "--seeds",
        "0",
        "--archs",
        "resnet",
        "resnet_basic",
    )
    assert reranked.returncode == 0, reranked.stderr
    table = reranked.stdout
    for name in (
        "**demo-B0**",
        "**demo-B1**",
        "**demo-B2**",
        "bn_relu",
        "gn_relu",
        "evonorm_b0",
        "evonorm_s0",
    ):
        assert name in table
    assert table.count("*(baseline)*") == 4

    transferred = evonorm_cli(tmp_path, "transfer", "demo")
    assert transferred.returncode == 0, transferred.stderr
    assert "## Transfer: instance segmentation" in transferred.stdout
    assert "## Transfer: GAN" in transferred.stdout
    assert (tmp_path / "runs/demo/transfer/gan_bn_relu.png").exists()

    published = evonorm_cli(tmp_path, "publish", "demo")
    assert published.returncode == 0, published.stderr
    versions = [line for line in published.stdout.splitlines() if line.startswith("models:/")]
    assert [line.split()[0] for line in versions] == [
        "models:/demo-B0/1",
        "models:/demo-B1/1",
        "models:/demo-B2/1",
    ]
    # The registry's aliases are the champion gate's verdicts on the stored rerank.
    search = Search.open("demo", open_storage(f"journal:{tmp_path / 'runs/demo/optuna.log'}"))
    summary = rerank_summary(search)
    gates = {
        n: verdict(evidence_from_rerank(summary, row, "demo")) for n, row in summary["kept"].items()
    }
    for line, (name, gate) in zip(versions, gates.items(), strict=True):
        assert ("(champion)" in line) == gate.passed and name in line
    crowned = any(g.passed for g in gates.values())
    assert ("no layer of search 'demo' passed the champion gate" in published.stdout) != crowned
    alias = "champion" if gates["demo-B0"].passed else "challenger"
    uri = f"sqlite:///{tmp_path / 'runs/demo/mlflow.db'}"
    factory = evonorm.load_layer(f"models:/demo-B0@{alias}", tracking_uri=uri)
    torch.manual_seed(0)
    model = evonorm.place_layer(torchvision.models.resnet18(num_classes=10), factory)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.requires_grad for p in model.parameters()) > 0

    pulled = evonorm_cli(
        tmp_path, "layer", "pull", f"demo-B0@{alias}", "-o", "pulled", "--tracking-uri", uri
    )
    assert pulled.returncode == 0, pulled.stderr
    spec = importlib.util.spec_from_file_location("demo_b0", tmp_path / "pulled/demo_b0.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layer = module.DemoB0(8)
    assert layer(torch.randn(4, 8, 5, 5)).shape == (4, 8, 5, 5)

    reported = evonorm_cli(tmp_path, "report", "demo")
    assert reported.returncode == 0, reported.stderr
    text = (tmp_path / "runs/demo/report/report.md").read_text()
    for heading in ("## Rerank", "## Transfer: instance segmentation", "## Transfer: GAN"):
        assert heading in text
    assert (tmp_path / "runs/demo/report/rerank.png").stat().st_size > 1000
