"""Where a warm-started search's accepted layers come from: per seed layer (the candidates the
search started from), its search score, its children, how many were accepted and beat it, and
how many accepted layers descend from it. Read from a copy of the study.

    .venv/bin/python bench/seed_lineage.py results/ablation/ablation-E-warm/warm-s0.log --budget 200
"""

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from ablation_progress import copied_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal", type=Path)
    parser.add_argument("--budget", type=int, default=None, help="only the first N candidates")
    args = parser.parse_args()
    records = copied_records(args.journal)[: args.budget]
    score = {
        r.number: float(np.mean(r.values))
        for r in records
        if r.state == "COMPLETE" and r.values and r.attrs.get("status") == "accepted"
    }
    parent = {r.number: r.attrs.get("parent") for r in records}

    def root(number: int) -> int:
        while parent.get(number) is not None:
            number = parent[number]
        return number

    children, accepted, better = Counter(), Counter(), Counter()
    for r in records:
        p = parent[r.number]
        if p is None:
            continue
        children[p] += 1
        if r.number in score:
            accepted[p] += 1
            better[p] += p in score and score[r.number] > score[p]
    descendants = Counter(root(n) for n in score)
    print(f"{len(records)} candidates, {len(score)} accepted")
    print("| seed layer | search score | children | accepted | beat it | accepted descendants |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in records:
        if r.attrs.get("origin") == "seed":
            s = f"{100 * score[r.number]:.1f}" if r.number in score else "–"
            print(
                f"| `{r.attrs['formula'][:50]}` | {s} | {children[r.number]} | "
                f"{accepted[r.number]} | {better[r.number]} | {descendants[r.number]} |"
            )


if __name__ == "__main__":
    main()
