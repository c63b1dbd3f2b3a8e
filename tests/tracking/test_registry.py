"""Publish and pull layers through a real MLflow registry (SQLite store)."""

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
import torchvision
from mlflow.tracking import MlflowClient

import evonorm
from evonorm import build_layer, known_layer
from evonorm.tracking import LayerNotFound, pull_layer
from evonorm.tracking.gate import RerankEvidence


@pytest.fixture
def uri(tmp_path):
    return f"sqlite:///{tmp_path / 'registry.db'}"


def aliases(uri, name):
    model = MlflowClient(uri).get_registered_model(name)
    return {alias: int(version) for alias, version in model.aliases.items()}


BN = {"resnet": 0.84, "resnet_basic": 0.86, "vgg": 0.87}


def rerank(gain, *, protocol="local@aaa/600/rerank/resnet,resnet_basic,vgg", drop=None):
    """Evidence of a layer ``gain`` above BN-ReLU on every network (``drop``: one it breaks)."""
    layer = {arch: value + gain for arch, value in BN.items()}
    if drop:
        layer[drop] = 0.1
    return RerankEvidence(
        search="demo",
        protocol=protocol,
        layer=layer,
        bn_relu=BN,
        held_out=("resnet_basic", "vgg"),
        seed_std=0.005,
    )


def test_champion_needs_the_gate_and_moves_only_when_beaten(uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the working folder (MLflow's ./mlruns)
    b0, s0 = known_layer("evonorm_b0"), known_layer("evonorm_s0")
    client = MlflowClient(uri)
    assert evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, evidence=rerank(0.02)) == 1
    assert aliases(uri, "demo-B0") == {"champion": 1}
    evonorm.publish_layer(s0, "demo-B0", tracking_uri=uri, evidence=rerank(0.01))
    assert aliases(uri, "demo-B0") == {"champion": 1, "challenger": 2}
    evonorm.publish_layer(s0, "demo-B0", tracking_uri=uri, evidence=rerank(0.03))
    assert aliases(uri, "demo-B0") == {"champion": 3, "challenger": 2}
    # A higher mean that breaks a held-out network does not pass the gate: challenger, reason kept.
    evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, evidence=rerank(0.2, drop="vgg"))
    assert aliases(uri, "demo-B0") == {"champion": 3, "challenger": 4}
    tags = client.get_model_version("demo-B0", "4").tags
    assert (
        tags["evonorm.gate"] == "failed"
        and "vgg 10.00% is more than 2" in tags["evonorm.gate.reason"]
    )
    # No rerank at all, whatever the metrics say: challenger.
    evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, metrics={"rerank_accuracy": 0.99})
    assert aliases(uri, "demo-B0")["champion"] == 3
    assert client.get_model_version("demo-B0", "5").tags["evonorm.gate"] == "failed"
    # A champion of another rerank protocol (an older preset) neither blocks nor counts.
    newer = "local@bbb/600/rerank/resnet,resnet_basic,vgg"
    evonorm.publish_layer(s0, "demo-B0", tracking_uri=uri, evidence=rerank(0.01, protocol=newer))
    assert aliases(uri, "demo-B0")["champion"] == 6
    # An explicit override crowns a failing layer, and its tags say so.
    evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, alias="champion", evidence=rerank(-0.05))
    assert aliases(uri, "demo-B0")["champion"] == 7
    assert client.get_model_version("demo-B0", "7").tags["evonorm.gate"] == "overridden"
    evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, alias="baseline")
    assert aliases(uri, "demo-B0")["baseline"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlartifacts", "registry.db"]


def test_descriptions_say_formula_origin_rerank_beside_bn_relu_and_how_to_load(uri):
    graph = known_layer("evonorm_b0")
    evonorm.publish_layer(graph, "demo-B0", tracking_uri=uri, evidence=rerank(0.02))
    client = MlflowClient(uri)
    text = client.get_model_version("demo-B0", "1").description
    assert graph.formula() in text and "search `demo`" in text
    assert "| vgg (held out) | 89.00% | 87.00% |" in text and "Champion gate passed" in text
    assert 'evonorm.place_layer(model, evonorm.load_layer("models:/demo-B0/1"))' in text
    model_text = client.get_registered_model("demo-B0").description
    assert graph.formula() in model_text and "models:/demo-B0@champion" in model_text
    evonorm.publish_layer(graph, "demo-S0", tracking_uri=uri, evidence=rerank(-0.01))
    assert (
        "No version has passed the champion gate"
        in client.get_registered_model("demo-S0").description
    )


def test_load_layer_gives_a_norm_layer_factory_matching_the_graph(uri):
    graph = known_layer("evonorm_s0")
    evonorm.publish_layer(graph, "demo-S0", tracking_uri=uri, evidence=rerank(0.02))
    for ref in ("models:/demo-S0@champion", "models:/demo-S0/1"):
        factory = evonorm.load_layer(ref, tracking_uri=uri)
        model = torchvision.models.resnet18(num_classes=10, norm_layer=factory)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    layer, reference = factory(8), build_layer(graph, 8)
    x = torch.randn(4, 8, 5, 5)
    torch.testing.assert_close(layer(x), reference(x))


def test_pulled_files_and_standalone_module_match_the_compiled_layer(uri, tmp_path):
    graph = known_layer("evonorm_b0")
    evonorm.publish_layer(
        graph, "demo-B0", tracking_uri=uri, metrics={"mask_ap": 0.3}, evidence=rerank(0.02)
    )
    folder = pull_layer("models:/demo-B0@champion", tmp_path / "out", tracking_uri=uri)
    files = {p.name for p in folder.iterdir()}
    assert files == {"graph.json", "formula.txt", "metrics.json", "graph.png", "demo_b0.py"}
    assert json.loads((folder / "metrics.json").read_text())["mask_ap"] == 0.3
    assert evonorm.LayerGraph.from_json((folder / "graph.json").read_text()) == graph
    # The module imports only torch: run it in a fresh interpreter without evonorm on the path.
    check = (
        "import sys, importlib.util, torch\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(folder / 'demo_b0.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "assert not [k for k in sys.modules if k.startswith('evonorm')]\n"
        "print(m.DemoB0(6))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    spec = importlib.util.spec_from_file_location("demo_b0", folder / "demo_b0.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    standalone, compiled = module.DemoB0(6), build_layer(graph, 6)
    x = torch.randn(4, 6, 7, 7)
    for mode in ("train", "eval"):
        getattr(standalone, mode)()
        getattr(compiled, mode)()
        torch.testing.assert_close(standalone(x), compiled(x))


def test_missing_model_version_or_alias_is_one_clear_error(uri):
    evonorm.publish_layer(known_layer("bn_relu"), "demo", tracking_uri=uri)
    for ref, message in [
        ("models:/nothing@champion", "no registered layer named 'nothing'"),
        ("models:/demo@gone", "has no alias 'gone'"),
        ("models:/demo/7", "has no version 7"),
        ("demo", "not a model URI"),
    ]:
        with pytest.raises(LayerNotFound, match=message):
            evonorm.load_layer(ref, tracking_uri=uri)


def test_layer_pull_cli(uri, tmp_path):
    evonorm.publish_layer(
        known_layer("evonorm_s0"), "cli-S0", tracking_uri=uri, evidence=rerank(0.02)
    )
    run = [sys.executable, "-m", "evonorm", "layer", "pull", "--tracking-uri", uri]
    done = subprocess.run(
        [*run, "cli-S0", "-o", str(tmp_path / "o")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "cli_s0.py").exists() and (tmp_path / "o" / "graph.json").exists()
    bad = subprocess.run(
        [*run, "cli-S0@nope", "-o", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "evonorm: error: registered layer 'cli-S0' has no alias 'nope'"
    assert not (tmp_path / "x").exists()


def test_a_registered_champion_warm_starts_a_search_and_resume_keeps_it(uri, tmp_path, capsys):
    """``--seed-layers models:/NAME@champion``: the champion's graph is read once, when the
    search is created, and proposed first; an alias that moves later does not change the
    search; a URI not read yet, a malformed one or a missing model is one clear error."""
    import optuna

    from evonorm.cli import main
    from evonorm.evolve import Search, SearchConfig, SearchError, open_storage
    from evonorm.evolve.steps import generate
    from evonorm.tracking.registry import seed_graphs

    b0, s0 = known_layer("evonorm_b0"), known_layer("evonorm_s0")
    evonorm.publish_layer(b0, "demo-B0", tracking_uri=uri, evidence=rerank(0.02))
    seeds = ("bn_relu", "models:/demo-B0@champion")
    graphs = seed_graphs(seeds, tracking_uri=uri)
    assert graphs == {"models:/demo-B0@champion": b0.to_dict()}  # known names need no lookup
    config = SearchConfig(preset="smoke", seed_layers=seeds, seed_graphs=graphs)
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    first = generate(Search.open("w", storage, config), 3)
    assert [c.graph for c in first[:2]] == [known_layer("bn_relu"), b0]
    assert [c.origin for c in first] == ["seed", "seed", "random"]

    evonorm.publish_layer(s0, "demo-B0", tracking_uri=uri, evidence=rerank(0.03))
    moved = seed_graphs(seeds, tracking_uri=uri)  # the champion is now s0
    assert moved["models:/demo-B0@champion"] == s0.to_dict()
    resumed = Search.open(
        "w", storage, SearchConfig(preset="smoke", seed_layers=seeds, seed_graphs=moved)
    )
    assert resumed.config.seed_graphs == graphs  # still the layer it started from
    assert [c.origin for c in generate(resumed, 1)] == ["random"]

    with pytest.raises(SearchError, match="registry URIs not read yet"):
        Search.open("new", storage, SearchConfig(preset="smoke", seed_layers=seeds))
    assert "new" not in optuna.get_all_study_names(storage)
    with pytest.raises(ValueError, match="is not a registry URI"):
        SearchConfig(preset="smoke", seed_layers=("models:/demo-B0",))
    args = ["evolve", "--preset", "smoke", "--budget", "1", "--no-tracking", "--quiet"]
    args += ["--runs", str(tmp_path / "runs"), "--seed-layers", "models:/nope@champion"]
    capsys.readouterr()  # MLflow's own logging of the publishing above
    assert main([*args, "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0], err
    assert not (tmp_path / "runs").exists()
