"""Publish evolved layers to the MLflow Model Registry and pull them into any model.

A registered model version of a layer holds plain files, never pickles:

- ``graph.json`` — the layer graph (schema ``evonorm.graph/v1``): the layer's truth;
- ``formula.txt`` and ``graph.png`` — for people;
- ``metrics.json`` — the rerank / transfer numbers it was published with;
- ``<name>.py`` — a standalone PyTorch module (imports only torch) generated from the graph.

Aliases, not stages. A new version takes ``champion`` only when it passes the champion gate
(:mod:`evonorm.tracking.gate`: it beat BN-ReLU in its own rerank, held-out networks included)
and its ``rerank_accuracy`` beats the current champion's, if that one was scored under the same
rerank protocol (preset revision, budget, split, networks); a champion from another protocol
neither blocks nor counts. Otherwise it becomes ``challenger``, with the gate's reason in its
tags. Recurring searches publish every run and rely on this to move the champion only forward.
An explicit ``alias="champion"`` overrides the gate and is recorded as such in the tags.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from torch import nn

from evonorm.compile import build_layer, standalone_source
from evonorm.errors import first_line
from evonorm.space import GraphError, LayerGraph
from evonorm.tracking.gate import GateDecision, RerankEvidence, verdict
from evonorm.tracking.plots import graph_figure
from evonorm.tracking.reach import TrackingError, check_tracking, make_store_folder
from evonorm.tracking.tracker import experiment_id

__all__ = [
    "CHAMPION_METRIC",
    "LayerNotFound",
    "Published",
    "class_name",
    "load_layer",
    "load_line",
    "publish_layer",
    "publish_search",
    "pull_layer",
    "registry_lines",
    "version_description",
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
    evidence: RerankEvidence | None = None,
    alias: str | None = None,
) -> int:
    """Register ``graph`` as a new version of model ``name``; returns the version number.
    ``alias=None`` applies the champion gate to ``evidence`` and then the champion rule (module
    docstring); an explicit alias is set as given (``"champion"`` then overrides the gate, and
    the tags say so)."""
    client = MlflowClient(tracking_uri)
    metrics = {k: float(v) for k, v in (metrics or {}).items()}
    if evidence is not None:
        metrics.setdefault(CHAMPION_METRIC, evidence.mean)
    run = client.create_run(
        experiment_id(client, REGISTRY_EXPERIMENT),
        run_name=f"publish-{name}",
        tags={"evonorm.role": "publish", "evonorm.layer": name},
    )
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
        try:
            client.log_artifacts(run_id, str(folder), "layer")
        except (OSError, MlflowException) as error:  # a full or unwritable artifact store
            client.set_terminated(run_id, "FAILED")  # no version points at a half-written run
            where = client.get_run(run_id).info.artifact_uri
            raise TrackingError(
                f"could not store layer {name!r} in the artifact store {where} "
                f"({first_line(error)}); nothing was registered: free space there (or point the "
                "tracking server at another artifact root) and publish again"
            ) from None
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.set_terminated(run_id)

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=_model_description(name, None))
    gate = verdict(evidence)
    gate_tag = "passed" if gate.passed else "failed"
    if alias == "champion" and not gate.passed:
        gate_tag = "overridden"
    tags = {
        "formula": graph.formula()[:5000],
        "hash": graph.structural_hash(),
        "evonorm.gate": gate_tag,
        "evonorm.gate.reason": gate.reason[:5000],
    }
    if evidence is not None:
        tags.update({"evonorm.protocol": evidence.protocol, "evonorm.search": evidence.search})
        tags.update({f"bn_relu.{a}": repr(v) for a, v in (evidence.bn_relu or {}).items()})
    tags.update({f"metric.{k}": repr(v) for k, v in metrics.items()})
    version = client.create_model_version(
        name, source=f"runs:/{run_id}/layer", run_id=run_id, tags=tags
    )
    number = int(version.version)
    description = version_description(f"models:/{name}/{number}", graph, evidence, gate)
    client.update_model_version(name, str(number), description=description)
    chosen = alias or _champion_or_challenger(client, name, metrics, evidence, gate)
    client.set_registered_model_alias(name, chosen, number)
    if chosen == "champion":
        client.update_registered_model(name, description=_model_description(name, description))
    return number


def _champion_or_challenger(
    client: MlflowClient,
    name: str,
    metrics: dict[str, float],
    evidence: RerankEvidence | None,
    gate: GateDecision,
) -> str:
    if not gate.passed:
        return "challenger"
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return "champion"
    if champion.tags.get("evonorm.protocol") != evidence.protocol:
        return "champion"  # scored under another protocol: it neither blocks nor counts
    current = champion.tags.get(f"metric.{CHAMPION_METRIC}")
    new = metrics.get(CHAMPION_METRIC)
    if new is not None and (current is None or new > float(current)):
        return "champion"
    return "challenger"


def load_line(uri: str) -> str:
    """The one line that puts a registered layer into a torchvision model, as searched."""
    return f'model = evonorm.place_layer(model, evonorm.load_layer("{uri}"))'


def version_description(
    uri: str, graph: LayerGraph, evidence: RerankEvidence | None, gate: GateDecision
) -> str:
    """What the MLflow UI shows for the version ``uri`` (``models:/NAME/N``): formula, origin,
    rerank beside BN-ReLU, the gate's verdict, and how to load it."""
    lines = [f"Layer: `{graph.formula()}`", ""]
    if evidence is None:
        lines.append("Not reranked beside BN-ReLU.")
    else:
        lines.append(f"From search `{evidence.search}`, rerank protocol `{evidence.protocol}`.")
        lines += ["", "| network | this layer | BN-ReLU |", "|---|---:|---:|"]
        bn_relu = evidence.bn_relu or {}
        for arch, accuracy in evidence.layer.items():
            held = " (held out)" if arch in evidence.held_out else ""
            reference = f"{bn_relu[arch]:.2%}" if arch in bn_relu else "not run"
            lines.append(f"| {arch}{held} | {accuracy:.2%} | {reference} |")
        mean = f"{evidence.bn_relu_mean:.2%}" if evidence.bn_relu_mean is not None else "not run"
        lines.append(f"| mean | {evidence.mean:.2%} | {mean} |")
    state = "passed" if gate.passed else "failed"
    lines += ["", f"Champion gate {state}: {gate.reason}.", "", "Load it as searched:", ""]
    return "\n".join([*lines, f"    {load_line(uri)}"])


def _model_description(name: str, champion: str | None) -> str:
    head = f"Evolved norm-activation layers registered as `{name}` by evonorm."
    if champion is None:
        return f"{head} No version has passed the champion gate (beat BN-ReLU) yet."
    load = load_line(f"models:/{name}@champion")
    return f"{head} Load the champion as searched:\n\n    {load}\n\nThe champion:\n\n{champion}"


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
    """Download the version's files (graph JSON, standalone module, …) into ``out``. A store
    that is not there is a :class:`~evonorm.tracking.reach.TrackingError`, never created."""
    client = MlflowClient(check_tracking(tracking_uri, must_exist=True))
    version = _resolve(uri, client)
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        # The version's source is the publishing run's "layer" folder (runs:/ID/layer).
        folder = Path(client.download_artifacts(version.run_id, "layer", tmp))
        out.mkdir(parents=True, exist_ok=True)
        for path in folder.iterdir():
            shutil.copyfile(path, out / path.name)
    return out


def load_graph(uri: str, *, tracking_uri: str | None = None) -> LayerGraph:
    """The registered version's graph (its ``graph.json``; nothing is unpickled)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = pull_layer(uri, tmp, tracking_uri=tracking_uri)
        try:
            return LayerGraph.from_json((folder / "graph.json").read_text())
        except (OSError, GraphError) as error:
            raise LayerNotFound(f"{uri}: no valid graph.json in the version ({error})") from None


def load_layer(uri: str, *, tracking_uri: str | None = None) -> Callable[..., nn.Module]:
    """A norm-act factory for the registered layer (``norm_layer=`` in torchvision): reads
    only ``graph.json``, never unpickles anything."""
    return functools.partial(build_layer, load_graph(uri, tracking_uri=tracking_uri))


def seed_graphs(seed_layers, *, tracking_uri: str | None) -> dict[str, dict]:
    """The graphs behind the registry URIs among a search's seed layers (``models:/NAME@champion``
    makes "improve my champion" a warm start), read once when the search is created; known
    layer names need no lookup. A store or version that is not there is one clear error."""
    uris = [name for name in seed_layers if name.startswith("models:/")]
    return {uri: load_graph(uri, tracking_uri=tracking_uri).to_dict() for uri in uris}


@dataclass(frozen=True)
class Published:
    """One version :func:`publish_search` registered."""

    name: str
    version: int
    aliases: tuple[str, ...]
    verdict: GateDecision  # the champion gate's, whatever alias it got

    def line(self) -> str:
        alias = "champion" if "champion" in self.aliases else "challenger"
        gate = "passed" if self.verdict.passed else f"failed: {self.verdict.reason}"
        return f"models:/{self.name}/{self.version} ({alias}); champion gate {gate}"


def publish_search(search, tracking_uri: str) -> list[Published]:
    """Publish a reranked search's kept layers (``evonorm publish``, the pipeline's
    ``register``): each with its rerank beside BN-ReLU as the gate's evidence."""
    from evonorm.evolve.after import kept_layers, rerank_summary
    from evonorm.tracking.gate import kept_evidence

    layers = kept_layers(search)  # raises before any store is touched when not reranked
    evidences = kept_evidence(rerank_summary(search), search.name)
    client = MlflowClient(make_store_folder(check_tracking(tracking_uri)))
    published = []
    for name, graph, metrics in layers:
        evidence = evidences[name]
        version = publish_layer(
            graph, name, tracking_uri=tracking_uri, metrics=metrics, evidence=evidence
        )
        aliases = tuple(sorted(client.get_model_version(name, str(version)).aliases))
        published.append(Published(name, version, aliases, verdict(evidence)))
    return published


def registry_lines(search, tracking_uri: str) -> list[str]:
    """Where each kept layer of ``search`` stands in the registry, one line per layer (what
    ``pipeline run-local`` prints when it ends)."""
    from evonorm.evolve.after import rerank_summary
    from evonorm.tracking.gate import kept_evidence

    summary = rerank_summary(search) or {}
    if not summary.get("kept"):
        return ["champion: none yet: no layer was accepted; run again to continue the search"]
    client = MlflowClient(tracking_uri)
    verdicts = {name: verdict(e) for name, e in kept_evidence(summary, search.name).items()}
    lines = []
    for name, gate in verdicts.items():
        if not gate.passed:
            failed = f"champion gate failed: {gate.reason}"
            lines.append(f"layer:    models:/{name}@challenger ({failed})")
            continue
        try:
            version = client.get_model_version_by_alias(name, "champion")
            lines.append(f"champion: models:/{name}@champion (version {version.version})")
        except MlflowException:
            lines.append(f"layer:    models:/{name} (passed the gate; not registered yet)")
    if not any(gate.passed for gate in verdicts.values()):
        lines.append(
            f"champion gate: no layer of search {search.name!r} beat BN-ReLU in its rerank; "
            "nothing was crowned"
        )
    return lines
