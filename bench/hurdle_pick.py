"""Would a longer second training pick better layers from a search's top k? (the hurdle question)

A search names its best by one short, noisy score, and its top layers are mostly one lineage's
near-equal variants. A hurdle would give the top few a longer training before one is named.
Before building one, this asks whether it would pick differently and better. For each study
(``ROOT/ARM-sSEED.log``), its ``--top`` best accepted layers by search score among the first
``--n`` candidates (one per structural hash) are trained on the anchors at the rerank budget
and at ``--budget`` × its steps, and on the preset's held-out networks at ``--budget`` ×, the
truth asked about; ``--reference`` (BN-ReLU) is trained alike. Protocol and log are
bench/lr_fit.py's (data of seed 0, `rerank` split, preset rates, one thread per training; a
training in ``results/lr_fit.jsonl`` is not repeated).

The report gives, per study, the held-out mean of the layer each rule names: the search score
(what the ablation names), a fresh training on the anchors at the rerank budget (like the
ablation's rerank pick), the long training on the anchors (the hurdle), and the best of the k
(what no rule can beat).

    .venv/bin/python bench/hurdle_pick.py results/ablation/ablation-G/improved-s{0,1}.log \\
        results/ablation/ablation-E/improved-s{0,1,2}.log --top 4 --workers 1
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import numpy as np

from ablation_progress import copied_records  # bench/ is the script's folder
from evonorm import known_layer
from evonorm.proxy.presets import get_preset
from evonorm.space.graph import LayerGraph
from lr_fit import PRESET, logged, train_missing


def top_layers(study: Path, top: int, n: int) -> list[tuple[str, float, LayerGraph]]:
    """``(hash prefix, search score, graph)`` of the ``top`` best accepted layers among the
    first ``n`` finished candidates of ``study``, read from a copy of its journal."""
    records = [r for r in copied_records(study) if r.status is not None][:n]
    best: dict[str, tuple[str, float, LayerGraph]] = {}
    for r in records:
        if r.status == "accepted" and r.values:
            prefix, score = r.attrs["hash"][:10], float(np.mean(r.values))
            if prefix not in best or score > best[prefix][1]:
                best[prefix] = (prefix, score, LayerGraph.from_dict(r.attrs["graph"]))
    return sorted(best.values(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path, help="ROOT/ARM-sSEED.log journals")
    parser.add_argument("--top", type=int, default=4, help="layers per study")
    parser.add_argument("--n", type=int, default=600, help="candidates of each study to read")
    parser.add_argument("--budget", type=float, default=4.0, help="the long stage's step multiple")
    parser.add_argument("--seeds", nargs="+", type=int, default=[100])
    parser.add_argument("--workers", type=int, default=2, help="one-thread training processes")
    parser.add_argument("--reference", default="bn_relu", help="a known layer trained alike")
    parser.add_argument("--report", action="store_true", help="print the log's tables only")
    args = parser.parse_args()
    for study in args.studies:
        if not study.is_file():
            parser.error(f"{study}: no such study journal (name ROOT/ARM-sSEED.log)")
    try:
        known_layer(args.reference)
    except KeyError as error:
        parser.error(f"--reference: {error.args[0]}")
    preset = get_preset(PRESET)
    anchors, held_out = list(preset.anchor_names), list(preset.held_out_names)
    tops = {f"{s.parent.name}/{s.stem}": top_layers(s, args.top, args.n) for s in args.studies}
    reference = [(args.reference, float("nan"), known_layer(args.reference))]
    plan = [(anchors, 1.0), (anchors, args.budget), (held_out, args.budget)]
    rows = logged()
    if not args.report:
        layers = {p: graph for found in [reference, *tops.values()] for p, _, graph in found}
        jobs = [
            (prefix, arch, 1.0, seed, budget)
            for found in [reference, *tops.values()]
            for prefix, _, _ in found
            for seed in args.seeds
            for nets, budget in plan
            for arch in nets
            if (prefix, arch, 1.0, seed, budget) not in rows
        ]
        train_missing(layers, jobs, rows, args.workers)

    def mean(prefix: str, nets: list[str], budget: float) -> float | None:
        keys = [(prefix, a, 1.0, s, budget) for a in nets for s in args.seeds]
        return statistics.fmean(rows[k] for k in keys) if all(k in rows for k in keys) else None

    def cell(value: float | None) -> str:
        return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"

    b = f"{args.budget:g}×"
    print(f"\nTop {args.top} of each study by search score; accuracy %, seeds {args.seeds}\n")
    print(f"| study | layer | search score | anchors 1× | anchors {b} | held-out {b} | formula |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name, found in [("reference", reference), *tops.items()]:
        for prefix, score, graph in found:
            print(
                f"| {name} | {prefix} | {cell(score)} | {cell(mean(prefix, anchors, 1.0))} | "
                f"{cell(mean(prefix, anchors, args.budget))} | "
                f"{cell(mean(prefix, held_out, args.budget))} | `{graph.formula()[:50]}` |"
            )
    print(f"\nHeld-out mean at {b} steps of the layer each rule names (lead over the search")
    print("score's pick)\n")
    print(f"| study | search score | anchors 1× | anchors {b} (hurdle) | best of {args.top} |")
    print("|---|---:|---:|---:|---:|")
    for name, found in tops.items():
        truth = {p: mean(p, held_out, args.budget) for p, _, _ in found}
        if None in truth.values() or not found:
            print(f"| {name} | (not trained yet) | | | |")
            continue
        by_short = max(found, key=lambda f: mean(f[0], anchors, 1.0) or 0.0)[0]
        by_long = max(found, key=lambda f: mean(f[0], anchors, args.budget) or 0.0)[0]
        base = truth[found[0][0]]
        cells = [
            f"{100 * truth[p]:.1f} ({100 * (truth[p] - base):+.1f})"
            for p in (by_short, by_long, max(truth, key=truth.get))
        ]
        print(f"| {name} | {100 * base:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
