"""Does a cheap preset rank layers like a costlier one? Train the graphs of a reference log
(``bench/rejection_cost.py --log``, which trained seeded random graphs on every anchor of its
preset) with another preset's search budget, and compare the two rankings.

    .venv/bin/python bench/preset_fidelity.py --preset ablation \
        --reference results/rejection_cost_local.jsonl --log results/preset_fidelity_ablation.jsonl

Prints, per graph, the mean anchor accuracy under both presets, then the Spearman and Kendall
rank correlations over all graphs and over the graphs that learn (reference mean above
``--learns``), and how often a pair the reference separates by more than ``--margin`` points is
ordered the same way. The log makes the run resumable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from evonorm import known_layer, random_graph
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import train_layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="ablation")
    parser.add_argument(
        "--reference", type=Path, default=Path("results/rejection_cost_local.jsonl")
    )
    parser.add_argument("--log", type=Path, help="JSON-lines file: append rows, resume from it")
    parser.add_argument("--learns", type=float, default=0.5, help="reference mean that learns")
    parser.add_argument("--margin", type=float, default=0.02, help="reference gap of a clear pair")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reference = [json.loads(line) for line in args.reference.read_text().splitlines()]
    graphs_ref = [r for r in reference if r["kind"] == "graph"]
    base_ref = next(r for r in reference if r["kind"] == "baseline")
    first = graphs_ref[0]
    rng = np.random.default_rng(first["seed"])
    graphs = {}
    for i in range(max(r["index"] for r in graphs_ref) + 1):
        graphs[i] = random_graph(rng, first["space"])  # the reference's draws, in order
    preset = get_preset(args.preset)
    data = preset.load_data()
    logged = {}
    if args.log and args.log.exists():
        for line in args.log.read_text().splitlines():
            row = json.loads(line)
            if row["preset"] == preset.name:
                logged[row["name"]] = row

    def measure(name: str, graph) -> dict:
        if name in logged:
            return logged[name]["accuracy"]
        start = time.perf_counter()
        accuracy = {
            a: train_layer(graph, a, preset, data, preset.train, 0).accuracy
            for a in preset.anchor_names
        }
        row = {
            "preset": preset.name,
            "name": name,
            "formula": graph.formula(),
            "accuracy": accuracy,
            "seconds": round(time.perf_counter() - start, 1),
        }
        if args.log:
            args.log.parent.mkdir(parents=True, exist_ok=True)
            with args.log.open("a") as f:
                f.write(json.dumps(row) + "\n")
        print(f"{name:8} {graph.formula()[:50]:50} {row['seconds']:6.1f} s", flush=True)
        return accuracy

    pairs = [
        (
            "bn_relu",
            statistics.fmean(base_ref["accuracy"].values()),
            statistics.fmean(measure("bn_relu", known_layer("bn_relu")).values()),
        )
    ]
    for r in graphs_ref:
        graph = graphs[r["index"]]
        if graph.formula() != r["formula"]:
            raise SystemExit(f"graph {r['index']} differs from the reference: {r['formula']}")
        mine = measure(f"g{r['index']}", graph)
        pairs.append(
            (
                r["formula"],
                statistics.fmean(r["accuracy"].values()),
                statistics.fmean(mine.values()),
            )
        )
    print(f"\n{'layer':50} {first['preset']:>8} {preset.name:>8}")
    for name, ref, mine in sorted(pairs, key=lambda p: -p[1]):
        print(f"{name[:50]:50} {ref:8.2%} {mine:8.2%}")
    ref, mine = np.array([p[1] for p in pairs]), np.array([p[2] for p in pairs])
    learn = ref > args.learns
    for label, mask in (("all", np.ones_like(learn)), (f"learning (> {args.learns:.0%})", learn)):
        rho = stats.spearmanr(ref[mask], mine[mask]).statistic
        tau = stats.kendalltau(ref[mask], mine[mask]).statistic
        print(f"{label:24} n={int(mask.sum()):3d}  Spearman {rho:.3f}  Kendall {tau:.3f}")
    clear = [
        (i, j) for i, j in combinations(range(len(pairs)), 2) if abs(ref[i] - ref[j]) > args.margin
    ]
    same = sum(np.sign(ref[i] - ref[j]) == np.sign(mine[i] - mine[j]) for i, j in clear)
    print(
        f"pairs the reference separates by > {100 * args.margin:.0f} points: {len(clear)}, "
        f"ordered alike: {same} ({same / max(1, len(clear)):.1%})"
    )


if __name__ == "__main__":
    main()
