"""evonorm publish / the pipeline's register: both gate paths through a real study and MLflow
registry. The rerank summary is written as rerank_search stores it, with chosen accuracies, so
that one kept layer beats BN-ReLU and the other breaks a held-out network."""

from mlflow.tracking import MlflowClient

from evonorm import known_layer
from evonorm.evolve import Search, SearchConfig, open_storage
from evonorm.evolve.after import RERANK_ATTR
from evonorm.proxy.presets import get_preset
from evonorm.tracking.registry import publish_search

ARCHS = ["resnet", "resnet_basic", "vgg"]


def row(name, kind, graph, accuracy):
    per_arch = {a: [v - 0.001, v + 0.001] for a, v in zip(ARCHS, accuracy, strict=True)}
    return {
        "name": name,
        "kind": kind,
        "trial": None,
        "formula": graph.formula(),
        "graph": graph.to_dict(),
        "accuracy": per_arch,
        "failed": 0,
        "metrics": {"rerank_accuracy": sum(accuracy) / 3},
    }


def test_publish_crowns_only_the_layer_that_beat_bn_relu(tmp_path):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="local")
    )
    preset = get_preset("local")
    summary = {
        "preset": "local",
        "steps": 600,
        "split": "rerank",
        "archs": ARCHS,
        "seeds": [0, 1],
        "protocol": preset.rerank_protocol(ARCHS),
        "rows": [
            row("trial 1", "candidate", known_layer("evonorm_b0"), [0.86, 0.88, 0.89]),
            row("trial 2", "candidate", known_layer("dyt"), [0.95, 0.95, 0.80]),
            row("bn_relu", "baseline", known_layer("bn_relu"), [0.84, 0.86, 0.87]),
        ],
        "kept": {"s-B0": "trial 1", "s-B1": "trial 2"},
    }
    search.save_note(RERANK_ATTR, summary)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    published = {p.name: p for p in publish_search(search, uri)}
    assert published["s-B0"].aliases == ("champion",) and published["s-B0"].verdict.passed
    assert published["s-B1"].aliases == ("challenger",)
    assert (
        "vgg 80.00% is more than 2 points below BN-ReLU's 87.00%"
        in published["s-B1"].verdict.reason
    )
    client = MlflowClient(uri)
    version = client.get_model_version("s-B1", "1")
    assert version.tags["evonorm.gate"] == "failed"
    assert version.tags["evonorm.protocol"] == preset.rerank_protocol(ARCHS)
    assert "Champion gate failed" in version.description
    assert "No version has passed" in client.get_registered_model("s-B1").description
