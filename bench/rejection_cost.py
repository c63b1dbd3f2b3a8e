"""What the rejection chain saves, and what it gets wrong.

On ``--count`` seeded random graphs: run the rejection chain **and** the full evaluation (all
anchors, the preset's full budget) on every one, whatever the verdict. Report the fraction
rejected at each stage, the mean CPU-seconds per candidate with the chain (chain + full
training of the accepted) against full training of all, that saving projected to the paper's
100 : 2000 quality-to-full step ratio, good layers wrongly rejected (mean full accuracy within
1 point of BN-ReLU's) and bad layers caught (5 or more points below).

    .venv/bin/python bench/rejection_cost.py --preset local --count 50 [--space B] [--seed 0]
        [--log runs/rejection_cost.jsonl] [--threads N]

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
from evonorm.reject.verdict import Verdict

PAPER_RATIO = 2000 / 100  # full-training steps per quality step in the paper


def cpu_seconds(fn):
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--count", type=int, default=50)
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
    rows = []
    for i in range(args.count):
        graph = random_graph(rng, args.space)
        row = logged.get(("graph", i))
        if row is None:
            verdict, chain_cpu = cpu_seconds(lambda g=graph: chain.run(g))
            results, full_cpu = cpu_seconds(lambda g=graph: full(g))
            row = {
                "kind": "graph", "index": i, "formula": graph.formula(), "stage": verdict.stage,
                "reason": verdict.reason, "chain_cpu": chain_cpu, "full_cpu": full_cpu,
                "accuracy": {a: r.accuracy for a, r in results.items()},
                "metrics": {k: v for k, v in verdict.metrics.items() if isinstance(v, float)},
            }  # fmt: skip
            log(row)
        accuracy = statistics.fmean(row["accuracy"].values())
        verdict = Verdict(row["stage"] == "accepted", row["stage"], row.get("reason", ""), {})
        rows.append((graph, verdict, row["chain_cpu"], row["full_cpu"], accuracy))
        print(f"{i:3d} {verdict.stage:11} chain {row['chain_cpu']:6.1f} s  "
              f"full {row['full_cpu']:6.1f} s  acc {accuracy:6.2%}  {graph.formula()[:70]}",
              flush=True)  # fmt: skip

    stages = Counter(v.stage for _, v, *_ in rows)
    n = len(rows)
    print(f"\nBN-ReLU mean full accuracy: {baseline:.2%} ({', '.join(anchors)})")
    print("stage         fraction")
    for stage in ("structural", "fingerprint", "stability", "quality", "accepted"):
        print(f"{stage:12} {stages[stage] / n:8.1%}")
    with_chain = statistics.fmean(c + (f if v.accepted else 0.0) for _, v, c, f, _ in rows)
    without = statistics.fmean(f for *_, f, _ in rows)
    print(f"CPU-s per candidate: full evaluation of all {without:.1f}, with the chain "
          f"{with_chain:.1f}; saving {without / with_chain:.2f}x")  # fmt: skip
    q_steps, f_steps = preset.quality.steps, preset.train.steps
    scale = PAPER_RATIO * q_steps / f_steps  # stretch full training to the paper's ratio
    proj_with = statistics.fmean(c + (f * scale if v.accepted else 0.0) for _, v, c, f, _ in rows)
    proj_without = statistics.fmean(f * scale for *_, f, _ in rows)
    print(f"projected to quality:full = 100:2000 steps: saving {proj_without / proj_with:.2f}x")
    good = [r for r in rows if r[4] >= baseline - 0.01]
    bad = [r for r in rows if r[4] <= baseline - 0.05]
    wrongly = sum(not v.accepted for _, v, *_ in good)
    caught = sum(not v.accepted for _, v, *_ in bad)
    print(f"good layers (within 1 point of BN-ReLU): {len(good)}, wrongly rejected: {wrongly}")
    print(f"bad layers (>= 5 points below): {len(bad)}, caught: {caught}"
          + (f" ({caught / len(bad):.0%})" if bad else ""))  # fmt: skip


if __name__ == "__main__":
    main()
