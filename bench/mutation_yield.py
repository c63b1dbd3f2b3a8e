"""What each mutation of the catalogue bought in an ablation's evolution arms: per arm and
mutation, children proposed, accepted, accepted children that beat their parent's search score,
children that set a new best-so-far, and the CPU-seconds they cost. The measurement behind the
default mutation mix (docs/evolution.md).

The studies are copied before they are read (``ablation_progress.copied_searches``), so a running
ablation is never touched. Search scores only.

    .venv/bin/python bench/mutation_yield.py results/ablation/ablation-B --arms improved
"""

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from ablation_progress import copied_searches  # bench/ beside this script


def tally(records: list, budget: int) -> dict[str, dict[str, float]]:
    recorded = [r for r in records if r.status is not None][:budget]
    score = {r.number: float(np.mean(r.values)) for r in recorded if r.values}
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    best = -math.inf
    for r in recorded:
        mean = score.get(r.number, -math.inf) if r.status == "accepted" else -math.inf
        name = r.attrs.get("mutation") or r.attrs.get("origin", "random")
        row = out[name]
        row["children"] += 1
        row["seconds"] += float(r.attrs.get("seconds") or 0) + float(
            r.attrs.get("propose_seconds", 0)
        )
        if r.status == "accepted":
            row["accepted"] += 1
            parent = score.get(r.attrs.get("parent"), math.inf)
            row["beat parent"] += mean > parent
        if mean > best:
            row["new best"] += math.isfinite(best)  # the first accepted layer is no improvement
            best = mean
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--arms", nargs="+", default=["improved"])
    parser.add_argument("--budget", type=int, default=600)
    args = parser.parse_args()
    total: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for arm, _, search in copied_searches(args.root):
        if arm in args.arms:
            for name, row in tally(search.records(), args.budget).items():
                for key, value in row.items():
                    total[name][key] += value
    print(
        "| mutation | children | accepted | accepted % | beat parent | new best | CPU-s "
        "| new bests per CPU-hour |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in sorted(total.items()):
        n, acc, sec = row["children"], row["accepted"], row["seconds"]
        print(
            f"| {name} | {n:.0f} | {acc:.0f} | {100 * acc / n:.0f} | {row['beat parent']:.0f} "
            f"| {row['new best']:.0f} | {sec:.0f} | {3600 * row['new best'] / sec:.2f} |"
        )


if __name__ == "__main__":
    main()
