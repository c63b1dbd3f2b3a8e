"""After the search: rerank the finalists beside the baselines, keep the best three, test them
for transfer — every result kept in the study itself.

- **Finalists**: the top-K accepted layers (Pareto rank, then mean anchor accuracy).
- **Rerank** (:func:`evonorm.proxy.rerank.rerank`): finalists and baselines retrained on the
  anchors and the held-out architectures with the longer rerank budget, on the ``rerank``
  split, for several seeds. Every training is stored as soon as it ends (study attribute
  ``evonorm.rerank/<preset>/<steps>/<hash>/<arch>/<seed>``), so an interrupted rerank resumes;
  the table goes to ``evonorm.rerank``. The best three candidates are kept and named after the
  study and space, like the paper's: ``<study>-B0``, ``-B1``, ``-B2`` (``-S0`` … in the S
  space).
- **Transfer** results of the kept layers and the baselines go to ``evonorm.transfer``.
- :func:`kept_layers` gives what publishing needs: name, graph and metrics of each kept layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evonorm.evolve.search import Search, SearchError
from evonorm.evolve.selection import pareto_indices
from evonorm.proxy.data import ProxyData, load_data
from evonorm.proxy.presets import Preset
from evonorm.proxy.rerank import Entry, rerank, result_from_dict, result_to_dict
from evonorm.space import BASELINES, KNOWN_LAYERS, LayerGraph
from evonorm.transfer import TASKS

__all__ = [
    "BASELINES",
    "baseline_entries",
    "finalists",
    "kept_layers",
    "ranked",
    "rerank_search",
    "rerank_summary",
    "save_transfer",
    "transfer_data",
    "transfer_search",
    "transfer_summary",
]

RERANK_ATTR = "evonorm.rerank"
TRANSFER_ATTR = "evonorm.transfer"
KEEP = 3


def ranked(records) -> list:
    """Accepted (non-duplicate) layers by Pareto rank (fronts peeled one by one), then by
    mean accuracy."""
    pool = [r for r in records if r.status == "accepted" and r.values]
    order = []
    while pool:
        front = [pool[i] for i in pareto_indices([r.values for r in pool])]
        order += sorted(front, key=lambda r: -float(np.mean(r.values)))
        pool = [r for r in pool if r not in front]
    return order


def finalists(search: Search, top: int) -> list[Entry]:
    """The search's ``top`` best accepted layers as rerank entries named ``trial-<number>``."""
    return [
        Entry(f"trial-{r.number}", LayerGraph.from_dict(r.attrs["graph"]), "candidate", r.number)
        for r in ranked(search.records())[:top]
    ]


def baseline_entries(names: Sequence[str] = BASELINES) -> list[Entry]:
    unknown = [n for n in names if n not in KNOWN_LAYERS]
    if unknown:
        raise SearchError(f"unknown baseline layers {unknown}; known: {', '.join(KNOWN_LAYERS)}")
    return [Entry(name, KNOWN_LAYERS[name], "baseline") for name in names]


def _result_prefix(preset: Preset) -> str:
    return f"{RERANK_ATTR}/{preset.name}/{preset.rerank_train.steps}/"


def rerank_search(
    search: Search,
    preset: Preset,
    data: ProxyData,
    *,
    top: int = 10,
    seeds: Sequence[int] = (0, 1),
    archs: Sequence[str] | None = None,
    baselines: Sequence[str] = BASELINES,
    echo: Callable[[str], None] = print,
) -> dict:
    """Rerank the search's top ``top`` layers beside ``baselines``; store and return the
    summary (see :func:`rerank_summary`)."""
    if top < 1:
        raise SearchError(f"rerank top must be >= 1, got {top}")
    entries = finalists(search, top)
    if not entries:
        raise SearchError(
            f"search {search.name!r} has no accepted layer to rerank yet; run `evonorm evolve` "
            "with a larger --budget first"
        )
    prefix = _result_prefix(preset)
    done = {}
    for key, value in search.notes(prefix).items():
        layer_hash, arch, seed = key[len(prefix) :].rsplit("/", 2)
        done[(layer_hash, arch, int(seed))] = result_from_dict(value)

    def keep(key, result) -> None:
        search.save_note(prefix + "/".join(map(str, key)), result_to_dict(result))

    rows = rerank(
        entries + baseline_entries(baselines),
        preset,
        data,
        archs=archs,
        seeds=seeds,
        done=done,
        on_result=keep,
        echo=echo,
    )
    space = search.config.space
    best = [row for row in rows if row.entry.kind == "candidate"][:KEEP]
    summary = {
        "preset": preset.name,
        "steps": preset.rerank_train.steps,
        "split": preset.rerank_train.eval_split,
        "archs": list(rows[0].cells),
        "seeds": list(seeds),
        "protocol": preset.rerank_protocol(list(rows[0].cells)),
        "rows": [
            {
                "name": row.entry.name,
                "kind": row.entry.kind,
                "trial": row.entry.trial,
                "formula": row.entry.graph.formula(),
                "graph": row.entry.graph.to_dict(),
                "accuracy": {a: [r.accuracy for r in c.results] for a, c in row.cells.items()},
                "failed": sum(
                    r.diverged or r.timed_out for c in row.cells.values() for r in c.results
                ),
                "metrics": row.metrics(),
            }
            for row in rows
        ],
        "kept": {f"{search.name}-{space}{i}": row.entry.name for i, row in enumerate(best)},
    }
    search.save_note(RERANK_ATTR, summary)
    return summary


def rerank_summary(search: Search) -> dict | None:
    """The stored rerank table: ``preset``, ``steps``, ``split``, ``archs``, ``seeds``,
    ``rows`` (best first: name, kind, trial, formula, graph, per-seed ``accuracy`` per arch,
    ``failed``, ``metrics``) and ``kept`` (published name -> row name); None before a rerank."""
    return search.notes(RERANK_ATTR).get(RERANK_ATTR)


def transfer_data(preset: Preset) -> ProxyData:
    """The data both transfer tasks run on: Fashion-MNIST cut like ``preset``'s splits (also for
    presets whose proxy dataset is CIFAR-10)."""
    return load_data(
        "fashion_mnist",
        search_size=preset.search_size,
        rerank_size=preset.rerank_size,
        fit_size=preset.fit_size,
    )


def transfer_search(
    search: Search,
    preset: Preset,
    data: ProxyData,
    *,
    tasks: Sequence[str] = TASKS,
    baselines: Sequence[str] = BASELINES,
    seed: int = 0,
    out: str | None = None,
    coco: tuple | None = None,
    coco_limit: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the transfer ``tasks`` (at ``preset``'s scale) on the kept layers and ``baselines``,
    all on the same data and seed; store each task's results as it finishes and return them.
    ``data`` must be Fashion-MNIST (both tasks are defined on it); ``coco`` ((train, val)
    :class:`~evonorm.transfer.coco.CocoSplit`) moves segmentation to COCO."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SearchError(f"unknown transfer tasks {unknown}; known: {', '.join(TASKS)}")
    # Imported here, not with this module: they load torchvision's detection models and
    # torchmetrics, which no other step of a search needs.
    from evonorm.transfer.gan import GAN, run_gan
    from evonorm.transfer.segmentation import SEGMENTATION, run_segmentation

    summary = rerank_summary(search)
    if not summary:
        raise SearchError(
            f"search {search.name!r} has not been reranked; run `evonorm rerank {search.name}`"
        )
    rows = {row["name"]: row for row in summary["rows"]}
    layers = {name: LayerGraph.from_dict(rows[name]["graph"]) for name in summary["kept"].values()}
    layers.update({e.name: e.graph for e in baseline_entries(baselines)})
    results = {}
    for task in tasks:
        if task == "segmentation":
            results[task] = run_segmentation(
                layers,
                data,
                SEGMENTATION[preset.name],
                seed=seed,
                coco=coco,
                coco_limit=coco_limit,
                echo=echo,
            )
        else:
            results[task] = run_gan(layers, data, GAN[preset.name], seed=seed, out=out, echo=echo)
        results[task]["kept"] = dict(summary["kept"])
        save_transfer(search, task, results[task])
    return {task: transfer_summary(search)[task] for task in tasks}  # as stored (JSON types)


def save_transfer(search: Search, task: str, results: dict) -> None:
    """Store one transfer task's results: ``{layer name: {metric: value}}`` plus settings."""
    stored = dict(transfer_summary(search))
    stored[task] = results
    search.save_note(TRANSFER_ATTR, stored)


def transfer_summary(search: Search) -> dict:
    """``{task: {...}}`` of the stored transfer results ({} before any)."""
    return dict(search.notes(TRANSFER_ATTR).get(TRANSFER_ATTR) or {})


def kept_layers(search: Search) -> list[tuple[str, LayerGraph, dict[str, float]]]:
    """(published name, graph, metrics) of each kept layer, best first: the rerank metrics plus
    the transfer metrics as ``<task>_<metric>``."""
    summary = rerank_summary(search)
    if not summary:
        raise SearchError(
            f"search {search.name!r} has not been reranked; run `evonorm rerank {search.name}`"
        )
    rows = {row["name"]: row for row in summary["rows"]}
    transfer = transfer_summary(search)
    out = []
    for name, row_name in summary["kept"].items():
        row = rows[row_name]
        metrics = {k: float(v) for k, v in row["metrics"].items()}
        for task, results in transfer.items():
            for metric, value in (results.get("layers", {}).get(row_name) or {}).items():
                if isinstance(value, int | float):
                    metrics[f"{task}_{metric}"] = float(value)
        out.append((name, LayerGraph.from_dict(row["graph"]), metrics))
    return out
