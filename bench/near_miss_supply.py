"""How many near misses a search meets: per study of an ablation root, the candidates the chain
rejected as affine in x, split by what today's fingerprint says they are (flat: a statistic of
x, constant over the positions; scaled: the spread follows x's, ``v1·x`` and ``x + 0``; a
normaliser, the near misses ``near_misses`` breeds from; other spread ratios), with examples.

A near-miss share ``p`` can only breed from normalisers the search has met, so this is the
supply that share draws on (docs/evolution.md, "Near misses as parents"). Studies are copied
before they are read; the fingerprints are recomputed, so older studies (which did not record
``metrics.normaliser``) count the same way.

    .venv/bin/python bench/near_miss_supply.py results/ablation/ablation-D
"""

import argparse
import math
from collections import Counter
from pathlib import Path

from ablation_progress import copied_searches  # bench/ beside this script
from evonorm.reject import fingerprint
from evonorm.reject.fingerprint import NORMALISED
from evonorm.space import LayerGraph

KINDS = ("flat", "scaled", "normaliser", "other")


def kind(graph: LayerGraph) -> str:
    fp = fingerprint(graph)
    if fp.normaliser:
        return "normaliser"
    if math.isnan(fp.spread_ratio) or not fp.depends_on_x:
        return "flat"
    return "scaled" if abs(fp.spread_ratio - 3) < 0.5 else "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--examples", type=int, default=3, help="normalisers listed per study")
    args = parser.parse_args()
    print(f"(a normaliser's spread moves by at most {NORMALISED}x when x's triples)\n")
    print("| arm | seed | candidates | affine | " + " | ".join(KINDS) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(KINDS))
    found = []
    for arm, seed, search in copied_searches(args.root):
        records = sorted(search.records(), key=lambda r: r.number)[: args.budget]
        counts: Counter = Counter()
        for r in records:
            if "affine in x" in (r.attrs.get("reason") or ""):
                graph = LayerGraph.from_dict(r.attrs["graph"])
                counts[k := kind(graph)] += 1
                if k == "normaliser":
                    found.append(f"{arm} s{seed} trial {r.number}: `{graph.formula()}`")
        cells = " | ".join(str(counts[k]) for k in KINDS)
        print(f"| {arm} | {seed} | {len(records)} | {sum(counts.values())} | {cells} |")
    print("\nnormalisers met:" if found else "\nno normaliser met")
    for line in found[: args.examples * 6]:
        print(f"- {line}")


if __name__ == "__main__":
    main()
