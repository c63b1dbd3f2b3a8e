"""Does the proxy reward a network's nonlinearity? Linear normalisers (BN without its
activation, ``x / std_batch(x)``) against BN-ReLU, BN-SiLU and EvoNorm-B0 on the `ablation`
preset's networks at its rerank budget, with Fashion-MNIST as it is (28 x 28) or with each item
placed at a fixed seeded random position on a larger zero canvas (``--size 40``).

On 28 x 28 images the proxy budgets are too short for nonlinearity to pay: a linear probe on the
pixels matches the networks, and linear normalisers score like BN-ReLU on the mobile anchors
(docs/proxy.md, "Linear layers and the canvas"). Translating the items breaks what a linear
model can do; this bench measures whether it separates the linear layers without losing the
known ones. Exploration for the next preset revision, not a preset yet.

Every training appends one row to ``results/canvas_linearity.jsonl``; a rerun skips the rows the
log holds, so it resumes after a kill.

    .venv/bin/python bench/canvas_linearity.py --size 40 --archs resnet,mobilenet_v2 --seeds 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

import torch
from torch import nn

from evonorm import known_layer
from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import train_layer
from evonorm.proxy.trainer import train
from evonorm.space.graph import LayerGraph, Node

X = 0  # the input node
LOG = Path("results/canvas_linearity.jsonl")
ANCHORS = ("resnet", "mobilenet_v2", "efficientnet_b0")
NETWORKS = (*ANCHORS, "resnet_basic", "vgg")


def _graph(*nodes: tuple) -> LayerGraph:
    return LayerGraph(tuple(Node(op, tuple(inputs)) for op, *inputs in nodes), space="B")


def _without_activation(name: str) -> LayerGraph:
    """A known layer with its last node (the activation) dropped."""
    layer = known_layer(name)
    return LayerGraph(layer.nodes[:-1], space=layer.space)


LAYERS = {
    "bn_relu": known_layer("bn_relu"),
    "bn_silu": known_layer("bn_silu"),
    "evonorm_b0": known_layer("evonorm_b0"),
    "bn_linear": _without_activation("bn_relu"),  # v1 * (x - mean_batch(x)) / std_batch(x) + v0
    "x/std_b": _graph(("std_batch", X), ("div", X, 4)),
}


def on_canvas(data: ProxyData, size: int, seed: int = 0) -> ProxyData:
    """Every image of every split pasted at a seeded random position on a ``size``² zero
    canvas (fixed per image, so held-out scores stay comparable); normalisation statistics
    rescaled to the canvas."""
    generator = torch.Generator().manual_seed(seed)
    images = {}
    for split, items in data.images.items():
        n, c, h, w = items.shape
        canvas = torch.zeros(n, c, size, size, dtype=items.dtype)
        dy = torch.randint(0, size - h + 1, (n,), generator=generator)
        dx = torch.randint(0, size - w + 1, (n,), generator=generator)
        for i in range(n):
            canvas[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] = items[i]
        images[split] = canvas
    covered = (data.spec.size / size) ** 2
    mean = data.spec.mean[0] * covered
    second = (data.spec.std[0] ** 2 + data.spec.mean[0] ** 2) * covered
    spec = dataclasses.replace(
        data.spec, size=size, mean=(mean,), std=((second - mean * mean) ** 0.5,)
    )
    return ProxyData(spec=spec, images=images, labels=data.labels, device=data.device)


def done() -> dict:
    rows = {}
    if LOG.exists():
        for line in LOG.read_text().splitlines():
            row = json.loads(line)
            rows[(row["size"], row["layer"], row["arch"], row["seed"])] = row["acc"]
    return rows


def report(rows: dict) -> None:
    for size in sorted({k[0] for k in rows}):
        archs = [a for a in NETWORKS if any(k[2] == a for k in rows)]
        probe = rows.get((size, "probe", "linear", 0))
        shown = f"{100 * probe:.1f} %" if probe is not None else "not run"
        print(f"\n{size} x {size}, linear probe on the pixels: {shown}\n")
        print("| layer | " + " | ".join(archs) + " | anchor mean |")
        print("|---|" + "---:|" * (len(archs) + 1))
        for layer in LAYERS:

            def cell(arch, layer=layer, size=size):
                values = [v for k, v in rows.items() if k[:3] == (size, layer, arch)]
                return statistics.fmean(values) if values else None

            cells = [cell(a) for a in archs]
            anchors = [cell(a) for a in ANCHORS]
            mean = statistics.fmean(anchors) if None not in anchors else None
            shown = [f"{100 * c:.1f}" if c is not None else "–" for c in [*cells, mean]]
            print(f"| {layer} | " + " | ".join(shown) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40, help="canvas side (28: the images as is)")
    parser.add_argument("--archs", default=",".join(NETWORKS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--report", action="store_true", help="print the log's tables only")
    args = parser.parse_args()
    rows = done()
    if not args.report:
        torch.set_num_threads(2)
        preset = get_preset("ablation")
        data = preset.load_data(seed=0)
        if args.size != data.spec.size:
            data = on_canvas(data, args.size)
        config = dataclasses.replace(preset.rerank_train, eval_split="search")
        with LOG.open("a") as log:

            def record(layer, arch, seed, accuracy):
                log.write(
                    json.dumps(
                        {
                            "size": args.size,
                            "layer": layer,
                            "arch": arch,
                            "seed": seed,
                            "acc": accuracy,
                        }
                    )
                    + "\n"
                )
                log.flush()
                rows[(args.size, layer, arch, seed)] = accuracy

            if (args.size, "probe", "linear", 0) not in rows:
                torch.manual_seed(0)
                probe = nn.Sequential(nn.Flatten(), nn.Linear(args.size**2, 10))
                probe_config = dataclasses.replace(config, lr=0.05, weight_decay=0.0)
                record("probe", "linear", 0, train(probe, data, probe_config, seed=0).accuracy)
            for seed in (int(s) for s in args.seeds.split(",")):
                for arch in args.archs.split(","):
                    for name, graph in LAYERS.items():
                        if (args.size, name, arch, seed) not in rows:
                            result = train_layer(graph, arch, preset, data, config, seed)
                            record(name, arch, seed, result.accuracy)
    report(rows)


if __name__ == "__main__":
    main()
