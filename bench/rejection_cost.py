"""What the rejection chain saves, and what it gets wrong.

On ``--count`` seeded random graphs: run the rejection chain **and** the full evaluation (all
anchors, the preset's full budget) on every one, whatever the verdict. Report the fraction
rejected at each stage, the mean CPU-seconds per candidate with the chain (chain + full
training of the accepted) against full training of all, that saving projected to the paper's
100 : 2000 quality-to-full step ratio, good layers wrongly rejected (mean full accuracy within
1 point of BN-ReLU's) and bad layers caught (5 or more points below).

Random graphs are almost never good, so ``--good`` adds :data:`GOOD_LAYERS`: the known
normalisers and one-node edits of them (EvoNorm and BN mutants), each given the same chain and
full training. Which of them *are* good is measured, not assumed: the wrongly-rejected count
covers every layer of both sets whose full accuracy comes within 1 point of BN-ReLU's. Rows
logged since the good set was added also hold wall-clock seconds, and the summary turns them
into candidates per hour of one search worker at the measured acceptance rate.

    .venv/bin/python bench/rejection_cost.py --preset local --count 50 [--good] [--space B]
        [--seed 0] [--log runs/rejection_cost.jsonl] [--threads N]

With ``--log``, every graph's row is appended to a JSON-lines file as soon as it is measured and
a re-run skips the graphs already there (same preset, space and seed), so the measurement can be
spread over several sittings; the summary covers all logged rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from evonorm import known_layer, random_graph
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import train_layer
from evonorm.reject import RejectionChain
from evonorm.space.graph import LayerGraph, Node

PAPER_RATIO = 2000 / 100  # full-training steps per quality step in the paper


X, ZERO, V0, V1 = 0, 1, 2, 3


def _edit(name: str, index: int, op: str, *inputs: int, space: str = "") -> LayerGraph:
    """Known layer ``name`` with node ``index`` replaced by ``op(inputs)``."""
    base = known_layer(name)
    nodes = list(base.nodes)
    nodes[index - 4] = Node(op, inputs)
    return LayerGraph(tuple(nodes), space=space or base.space)


# Known normalisers and one-node edits of them. Node numbers follow space/known.py: BN-ReLU is
# 4 mean_b, 5 neg, 6 x - mean, 7 s_b, 8 xhat, 9 v1*xhat, 10 z = 9 + v0, 11 max(z, 0);
# EvoNorm-B0 4 s_b, 5 v1*x, 6 s_i, 7 5 + 6, 8 max(4, 7), 9 x / 8; EvoNorm-S0 4 v1*x,
# 5 sigmoid, 6 x*5, 7 s_g, 8 6 / 7.
GOOD_LAYERS: dict[str, LayerGraph] = {
    **{
        name: known_layer(name)
        for name in (
            "bn_relu",
            "bn_silu",
            "evonorm_b0",
            "evonorm_b1",
            "evonorm_b2",
            "evonorm_s0",
            "evonorm_s1",
            "evonorm_s2",
        )
    },
    "bn_tanh": _edit("bn_relu", 11, "tanh", 10),
    "bn_max_v0": _edit("bn_relu", 11, "max", 10, V0),
    "bn_relu_uncentred": _edit("bn_relu", 6, "add", X, ZERO),
    "bn_relu_group_std": _edit("bn_relu", 7, "std_group", X),
    "bn_silu_tanh_gate": _edit("bn_silu", 11, "tanh", 10),
    "b0_layer_std": _edit("evonorm_b0", 6, "std_layer", X),
    "b0_group_std": _edit("evonorm_b0", 6, "std_group", X),
    "b0_no_v1": _edit("evonorm_b0", 5, "add", X, ZERO),
    "b2_layer_rms": _edit("evonorm_b2", 5, "sqmean_layer", X),
    "s0_batch_std": _edit("evonorm_s0", 7, "std_batch", X, space="B"),
    "s0_layer_std": _edit("evonorm_s0", 7, "std_layer", X),
    "s0_tanh_gate": _edit("evonorm_s0", 5, "tanh", 4),
}


def timed(fn):
    """``fn()``, its CPU-seconds (all threads) and its wall-clock seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--good", action="store_true", help="also measure GOOD_LAYERS")
    parser.add_argument("--space", choices=["B", "S"], default="B")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, help="JSON-lines file: append rows, resume from it")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    key = {"preset": args.preset, "space": args.space, "seed": args.seed}
    logged = {}
    if args.log and args.log.exists():
        for line in args.log.read_text().splitlines():
            row = json.loads(line)
            if all(row.get(k) == v for k, v in key.items()):
                logged[row["kind"], row.get("index")] = row
    preset = get_preset(args.preset)
    data = preset.load_data()
    anchors = preset.anchor_names

    def full(graph):
        return {a: train_layer(graph, a, preset, data, preset.train, args.seed) for a in anchors}

    def log(row: dict) -> None:
        if args.log:
            args.log.parent.mkdir(parents=True, exist_ok=True)
            with args.log.open("a") as f:
                f.write(json.dumps({**key, **row}) + "\n")

    if ("baseline", None) in logged:
        baseline_row = logged["baseline", None]
    else:
        results = full(known_layer("bn_relu"))
        baseline_row = {"kind": "baseline", "accuracy": {a: r.accuracy for a, r in results.items()}}
        log(baseline_row)
    baseline = statistics.fmean(baseline_row["accuracy"].values())
    chain = RejectionChain(preset, data, seed=args.seed, references=baseline_row.get("quality", {}))
    for arch in anchors:
        chain.reference(arch)  # BN-ReLU at the quality budget: a one-off cost, not per candidate
    if "quality" not in baseline_row:
        baseline_row["quality"] = dict(chain.references)
        log(baseline_row)
    rng = np.random.default_rng(args.seed)
    todo = [("graph", i, random_graph(rng, args.space)) for i in range(args.count)]
    if args.good:
        todo += [("good", name, graph) for name, graph in GOOD_LAYERS.items()]
    rows = []
    for kind, index, graph in todo:
        row = logged.get((kind, index))
        if row is None:
            verdict, chain_cpu, chain_wall = timed(lambda g=graph: chain.run(g))
            results, full_cpu, full_wall = timed(lambda g=graph: full(g))
            row = {
                "kind": kind,
                "index": index,
                "formula": graph.formula(),
                "stage": verdict.stage,
                "reason": verdict.reason,
                "chain_cpu": chain_cpu,
                "full_cpu": full_cpu,
                "chain_wall": chain_wall,
                "full_wall": full_wall,
                "accuracy": {a: r.accuracy for a, r in results.items()},
                "metrics": {k: v for k, v in verdict.metrics.items() if isinstance(v, float)},
            }
            log(row)
        rows.append(row)
        accuracy = statistics.fmean(row["accuracy"].values())
        print(
            f"{index!s:>18} {row['stage']:11} chain {row['chain_cpu']:6.1f} s  "
            f"full {row['full_cpu']:6.1f} s  acc {accuracy:6.2%}  {graph.formula()[:60]}",
            flush=True,
        )
    summarise([r for r in rows if r["kind"] == "graph"], rows, baseline, preset)


def summarise(random_rows: list, all_rows: list, baseline: float, preset) -> None:
    """Costs over the random graphs (what a search meets); verdict errors over all rows."""

    def accepted(row):
        return row["stage"] == "accepted"

    def mean_acc(row):
        return statistics.fmean(row["accuracy"].values())

    rows = random_rows
    n = len(rows)
    stages = Counter(r["stage"] for r in rows)
    print(f"\nBN-ReLU mean full accuracy: {baseline:.2%}")
    print(f"{n} random graphs; stage         fraction")
    for stage in ("structural", "fingerprint", "stability", "quality", "accepted"):
        print(f"{stage:12} {stages[stage] / n:8.1%}")
    with_chain = statistics.fmean(r["chain_cpu"] + accepted(r) * r["full_cpu"] for r in rows)
    without = statistics.fmean(r["full_cpu"] for r in rows)
    print(
        f"CPU-s per candidate: full evaluation of all {without:.1f}, with the chain "
        f"{with_chain:.1f}; saving {without / with_chain:.2f}x"
    )
    scale = PAPER_RATIO * preset.quality.steps / preset.train.steps  # the paper's ratio
    proj_with = statistics.fmean(r["chain_cpu"] + accepted(r) * r["full_cpu"] * scale for r in rows)
    proj_without = statistics.fmean(r["full_cpu"] * scale for r in rows)
    print(f"projected to quality:full = 100:2000 steps: saving {proj_without / proj_with:.2f}x")
    walled = [r for r in all_rows if "chain_wall" in r]
    if walled:
        # Wall-clock per candidate of one worker: the chain on every candidate, full training of
        # the accepted ones. Rejected costs from the random graphs, accepted costs from every
        # accepted row, mixed at the random graphs' acceptance rate (at least one in n).
        rate = max(stages["accepted"], 1) / n
        rejected = [r["chain_wall"] for r in walled if not accepted(r)]
        passed = [r["chain_wall"] + r["full_wall"] for r in walled if accepted(r)]
        if rejected and passed:
            per = (1 - rate) * statistics.fmean(rejected) + rate * statistics.fmean(passed)
            print(
                f"wall-s per candidate: rejected {statistics.fmean(rejected):.1f}, accepted "
                f"{statistics.fmean(passed):.1f}; at acceptance {rate:.1%}: "
                f"{3600 / per:.0f} candidates/hour per worker ({len(walled)} timed rows)"
            )
    good = [r for r in all_rows if mean_acc(r) >= baseline - 0.01]
    bad = [r for r in all_rows if mean_acc(r) <= baseline - 0.05]
    wrongly = [r for r in good if not accepted(r)]
    caught = sum(not accepted(r) for r in bad)
    print(
        f"good layers (within 1 point of BN-ReLU): {len(good)}, wrongly rejected: "
        f"{len(wrongly)}" + "".join(f"\n  {r['index']}: {r['reason']}" for r in wrongly)
    )
    print(
        f"bad layers (>= 5 points below): {len(bad)}, caught: {caught}"
        + (f" ({caught / len(bad):.0%})" if bad else "")
    )
    between = [r for r in all_rows if r not in good and r not in bad]
    for r in between:
        print(f"  between (1-5 points below): {r['index']} {r['stage']} {mean_acc(r):.2%}")


if __name__ == "__main__":
    main()
