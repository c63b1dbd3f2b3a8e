"""Rerank: retrain finalist layers and baselines, longer, on data and networks the search never
scored, and rank them by mean held-out accuracy.

The search scored layers on the ``search`` split with the anchors at the preset's training
budget; reranking trains every entry on the anchors **and** the held-out architectures with
``Preset.rerank_train`` (a longer budget, scored on the ``rerank`` split), for several seeds.
Candidates and baselines go through the same loop in the same run, so the table compares like
with like. Every finished training is handed to ``on_result`` and can be passed back in as
``done`` — a rerank interrupted half-way continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from evonorm.proxy.baselines import Cell
from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import Preset
from evonorm.proxy.score import train_layer
from evonorm.proxy.trainer import TrainResult
from evonorm.space import LayerGraph

__all__ = ["Entry", "RerankRow", "ResultKey", "rerank", "result_from_dict", "result_to_dict"]

ResultKey = tuple[str, str, int]  # (structural hash, architecture, seed)


@dataclass(frozen=True)
class Entry:
    """One layer to rerank: a finalist of the search (``trial`` set) or a baseline."""

    name: str
    graph: LayerGraph
    kind: str = "candidate"  # "candidate" | "baseline"
    trial: int | None = None


@dataclass(frozen=True)
class RerankRow:
    entry: Entry
    cells: dict[str, Cell]  # architecture -> results over seeds

    @property
    def mean(self) -> float:
        """The rerank metric: mean over architectures of the mean over seeds."""
        return statistics.fmean(cell.mean for cell in self.cells.values())

    def metrics(self) -> dict[str, float]:
        """``rerank_accuracy`` and ``rerank_<arch>`` (fractions in [0, 1])."""
        out = {"rerank_accuracy": self.mean}
        out.update({f"rerank_{arch}": cell.mean for arch, cell in self.cells.items()})
        return out


def result_to_dict(result: TrainResult) -> dict:
    data = dataclasses.asdict(result)
    if not math.isfinite(data["final_loss"]):
        data["final_loss"] = None
    return data


def result_from_dict(data: Mapping) -> TrainResult:
    data = dict(data)
    if data.get("final_loss") is None:
        data["final_loss"] = math.nan
    return TrainResult(**data)


def rerank(
    entries: Sequence[Entry],
    preset: Preset,
    data: ProxyData,
    *,
    archs: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1),
    done: Mapping[ResultKey, TrainResult] | None = None,
    on_result: Callable[[ResultKey, TrainResult], None] | None = None,
    echo: Callable[[str], None] = print,
) -> list[RerankRow]:
    """Train every entry on ``archs`` (default: anchors + held-out) × ``seeds``; rows best
    first. Results in ``done`` are reused, new ones are passed to ``on_result``."""
    archs = tuple(archs or preset.anchor_names + tuple(a for a, _ in preset.held_out))
    for arch in archs:
        preset.arch(arch)  # KeyError naming the preset's architectures
    if not seeds:
        raise ValueError("rerank needs at least one seed")
    config = preset.rerank_train
    done = dict(done or {})
    rows = []
    for entry in entries:
        cells = {}
        for arch in archs:
            results = []
            for seed in seeds:
                key = (entry.graph.structural_hash(), arch, seed)
                if key not in done:
                    result = train_layer(entry.graph, arch, preset, data, config, seed)
                    echo(
                        f"rerank {entry.name:24} {arch:16} seed {seed}: {result.accuracy:.2%} "
                        f"in {result.seconds:.1f} s {result.reason}"
                    )
                    done[key] = result
                    if on_result is not None:
                        on_result(key, result)
                results.append(done[key])
            cells[arch] = Cell(tuple(results))
        rows.append(RerankRow(entry, cells))
    return sorted(rows, key=lambda row: -row.mean)
