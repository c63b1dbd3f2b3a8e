"""Train the known layers on a preset's anchors and write the table (``evonorm baselines``).

The table is also the preset's discrimination check: it reports BN-ReLU's seed-to-seed spread
on each anchor beside the spread of the known layers' means. Differences the search acts on
must exceed the first.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import Preset
from evonorm.proxy.score import train_layer
from evonorm.proxy.trainer import TrainResult
from evonorm.space import KNOWN_LAYERS


@dataclass(frozen=True)
class Cell:
    results: tuple[TrainResult, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(r.accuracy for r in self.results)

    @property
    def std(self) -> float:
        """The sample std over seeds, as the ablation and the champion gate take it."""
        values = [r.accuracy for r in self.results]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def text(self) -> str:
        failed = sum(r.diverged or r.timed_out for r in self.results)
        note = f" ({failed} failed)" if failed else ""
        return f"{100 * self.mean:.2f} ± {100 * self.std:.2f}{note}"


def run_baselines(
    preset: Preset,
    data: ProxyData,
    *,
    layers: Sequence[str] = tuple(KNOWN_LAYERS),
    seeds: Sequence[int] = (0, 1),
    archs: Sequence[str] | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, dict[str, Cell]]:
    """``{layer: {arch: Cell}}`` from full-budget training runs."""
    table: dict[str, dict[str, Cell]] = {}
    for layer in layers:
        table[layer] = {}
        for arch in archs or preset.anchor_names:
            runs = []
            for seed in seeds:
                result = train_layer(KNOWN_LAYERS[layer], arch, preset, data, preset.train, seed)
                echo(
                    f"{layer:12} {arch:16} seed {seed}: {result.accuracy:.2%} "
                    f"in {result.seconds:.1f} s {result.reason}"
                )
                runs.append(result)
            table[layer][arch] = Cell(tuple(runs))
    return table


def markdown(
    table: dict[str, dict[str, Cell]],
    preset: Preset,
    *,
    command: str,
    seeds: Sequence[int],
    wall_seconds: float,
) -> str:
    archs = list(next(iter(table.values())))
    lines = [
        f"# Baselines: known layers on the `{preset.name}` preset",
        "",
        f"Held-out accuracy (%) on the `search` split ({preset.search_size} training images never "
        f"trained on), mean ± std over seeds {list(seeds)}; {preset.train.steps} steps, batch "
        f"{preset.train.batch_size}, dataset `{preset.dataset}`.",
        "",
        "| layer | " + " | ".join(archs) + " | s / run |",
        "|---|" + "---:|" * (len(archs) + 1),
    ]
    for layer, row in table.items():
        seconds = statistics.fmean(r.seconds for cell in row.values() for r in cell.results)
        cells = " | ".join(row[a].text() for a in archs)
        lines.append(f"| {layer} | {cells} | {seconds:.0f} |")
    lines += ["", "## Does the preset discriminate?", ""]
    lines.append("| architecture | BN-ReLU seed-to-seed std | spread of known-layer means |")
    lines.append("|---|---:|---:|")
    for arch in archs:
        means = [row[arch].mean for row in table.values()]
        noise = table["bn_relu"][arch].std if "bn_relu" in table else float("nan")
        lines.append(f"| {arch} | {100 * noise:.2f} | {100 * (max(means) - min(means)):.2f} |")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    lines += [
        "",
        f"Command: `{command}`",
        "",
        f"Wall time: {wall_seconds / 60:.1f} min on {machine}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
    ]
    return "\n".join(lines)


def write_baselines(path: Path, text: str) -> None:
    """Write atomically: a crash leaves the previous file, never half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
