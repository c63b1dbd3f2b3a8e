"""Is the affine check's tolerance in a gap? The fingerprint's ``nonlinearity`` (the largest
relative residual of a per-sample, per-channel affine fit of the output on x) for the known
layers and for seeded random graphs, binned by decade, with how many random layers the check
would reject. Layers whose outputs are not finite or do not depend on x are counted apart: the
chain rejects them before the affine check.

    .venv/bin/python bench/affine_gap.py --count 2000 --space B
"""

import argparse
from collections import Counter

import numpy as np

from evonorm import KNOWN_LAYERS
from evonorm.reject.fingerprint import AFFINE_TOLERANCE, fingerprint
from evonorm.space.random import random_graph

EDGES = (1e-12, 1e-8, 1e-6, AFFINE_TOLERANCE, 1e-2, 1e-1)


def decade(value: float) -> str:
    low = 0.0
    for edge in EDGES:
        if value < edge:
            return f"[{low:.0e}, {edge:.0e})"
        low = edge
    return f"≥ {low:.0e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="random graphs to draw")
    parser.add_argument("--space", default="B")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"tolerance {AFFINE_TOLERANCE:.0e}\n\n| known layer | nonlinearity |\n|---|---:|")
    for name, graph in KNOWN_LAYERS.items():
        print(f"| {name} | {fingerprint(graph).nonlinearity:.3f} |")
    rng = np.random.default_rng(args.seed)
    bins: Counter[str] = Counter()
    degenerate = affine = 0
    for _ in range(args.count):
        fp = fingerprint(random_graph(rng, space=args.space))
        if not (fp.finite and fp.depends_on_x):
            degenerate += 1
            continue
        affine += fp.affine
        bins[decade(fp.nonlinearity)] += 1
    print(
        f"\n{args.count} random graphs (space {args.space}, seed {args.seed}): {degenerate} not "
        f"finite or constant; of the other {args.count - degenerate}, {affine} affine "
        f"({100 * affine / max(1, args.count - degenerate):.0f} %)\n"
    )
    print("| nonlinearity | random layers |\n|---|---:|")
    order = [decade(0.0), *(decade(e) for e in EDGES)]
    for label in order:
        print(f"| {label} | {bins.get(label, 0)} |")


if __name__ == "__main__":
    main()
