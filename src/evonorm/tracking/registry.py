"""Publish evolved layers to the MLflow Model Registry and pull them into any model.

A registered model version of a layer holds plain files, never pickles:

- ``graph.json`` — the layer graph (schema ``evonorm.graph/v1``): the layer's truth;
- ``formula.txt`` and ``graph.png`` — for people;
- ``metrics.json`` — the rerank / transfer numbers it was published with;
- ``<name>.py`` — a standalone PyTorch module (imports only torch) generated from the graph.

Aliases, not stages: a new version takes ``champion`` only when its ``rerank_accuracy`` beats the
current champion's (or there is none); otherwise it becomes ``challenger``. Recurring searches
publish every run and rely on this to move the champion only forward.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from torch import nn

from evonorm.compile import build_layer, standalone_source
from evonorm.space import GraphError, LayerGraph
from evonorm.tracking.plots import graph_figure
from evonorm.tracking.tracker import experiment_id

__all__ = [
    "CHAMPION_METRIC",
    "LayerNotFound",
    "class_name",
    "load_layer",
    "publish_layer",
    "pull_layer",
]

CHAMPION_METRIC = "rerank_accuracy"
REGISTRY_EXPERIMENT = "evonorm-registry"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class LayerNotFound(LookupError):
    """A model, version or alias that the registry does not have (one line, says which)."""


def class_name(name: str) -> str:
    """A Python class name for a registered name: ``study-B0`` → ``StudyB0``."""
    words = re.split(r"[^0-9a-zA-Z]+", name)
    text = "".join(w[:1].upper() + w[1:] for w in words if w)
    return text if text[:1].isalpha() else f"Layer{text}"


def publish_layer(
    graph: LayerGraph,
    name: str,
    *,
    tracking_uri: str | None = None,
    metrics: dict[str, float] | None = None,
    alias: str | None = None,
) -> int:
    """Register ``graph`` as a new version of model ``name``; returns the version number.
    ``alias=None`` applies the champion rule (module docstring); an explicit alias is set as
    given."""
    client = MlflowClient(tracking_uri)
    metrics = {k: float(v) for k, v in (metrics or {}).items()}
    run = client.create_run(experiment_id(client, REGISTRY_EXPERIMENT), run_name=f"publish-{name}",
                            tags={"evonorm.role": "publish", "evonorm.layer": name})  # fmt: skip
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "layer"
        folder.mkdir()
        (folder / "graph.json").write_text(graph.to_json(indent=2) + "\n")
        (folder / "formula.txt").write_text(graph.formula() + "\n")
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        source = standalone_source(graph, class_name=class_name(name), title=f"Layer {name}.")
        (folder / f"{_module_name(name)}.py").write_text(source)
        figure = graph_figure(graph, title=f"{name}: {graph.formula()}"[:120])
        figure.savefig(folder / "graph.png", dpi=120)
        plt.close(figure)
        client.log_artifacts(run_id, str(folder), "layer")
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.set_terminated(run_id)

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="An evolved norm-activation layer.")
    tags = {"formula": graph.formula()[:5000], "hash": graph.structural_hash()}
    tags.update({f"metric.{k}": repr(v) for k, v in metrics.items()})
    version = client.create_model_version(
        name, source=f"runs:/{run_id}/layer", run_id=run_id, tags=tags
    )
    number = int(version.version)
    chosen = alias or _champion_or_challenger(client, name, metrics)
    client.set_registered_model_alias(name, chosen, number)
    return number


def _champion_or_challenger(client: MlflowClient, name: str, metrics: dict[str, float]) -> str:
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return "champion"
    current = champion.tags.get(f"metric.{CHAMPION_METRIC}")
    new = metrics.get(CHAMPION_METRIC)
    if new is not None and (current is None or new > float(current)):
        return "champion"
    return "challenger"


def _module_name(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_").lower() or "layer"


def _resolve(uri: str, client: MlflowClient):
    """The model version for ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    match = _URI.match(uri)
    if not match:
        raise LayerNotFound(
            f"{uri!r} is not a model URI: use models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise LayerNotFound(f"no registered layer named {name!r}") from None
    try:
        if alias:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, version)
    except MlflowException:
        what = f"alias {alias!r}" if alias else f"version {version}"
        raise LayerNotFound(f"registered layer {name!r} has no {what}") from None


def pull_layer(uri: str, out: str | Path, *, tracking_uri: str | None = None) -> Path:
    """Download the version's files (graph JSON, standalone module, …) into ``out``."""
    client = MlflowClient(tracking_uri)
    version = _resolve(uri, client)
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        # The version's source is the publishing run's "layer" folder (runs:/ID/layer).
        folder = Path(client.download_artifacts(version.run_id, "layer", tmp))
        out.mkdir(parents=True, exist_ok=True)
        for path in folder.iterdir():
            shutil.copyfile(path, out / path.name)
    return out


def load_layer(uri: str, *, tracking_uri: str | None = None) -> Callable[..., nn.Module]:
    """A norm-act factory for the registered layer (``norm_layer=`` in torchvision): reads
    only ``graph.json``, never unpickles anything."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = pull_layer(uri, tmp, tracking_uri=tracking_uri)
        try:
            graph = LayerGraph.from_json((folder / "graph.json").read_text())
        except (OSError, GraphError) as error:
            raise LayerNotFound(f"{uri}: no valid graph.json in the version ({error})") from None
    return functools.partial(build_layer, graph)
