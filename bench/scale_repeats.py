"""How much of a study's training went to rescaled copies: accepted layers whose fingerprint
outputs equal an earlier accepted layer's up to one factor per channel (its sign included),
like ``sqrt(x / c)`` with ``c`` a constant of ``v0``, ``v1`` against ``sqrt(x)``, or
``sqrt(x + x + x + x)``. The next network layer is linear, so such a factor is a different
initial gain, not a different layer; the same-seed re-scores of ablation-D (docs/evolution.md,
"Search score against re-score") found eight such copies inside their seed spread.

This is the measurement behind ``distinct`` searches' ``up_to_scale`` key
(:func:`evonorm.reject.fingerprint.scale_free_digest`). The study is copied before it is read.

    .venv/bin/python bench/scale_repeats.py results/ablation/ablation-D/improved-s0.log
"""

import argparse
from pathlib import Path

from ablation_progress import copied_records  # bench/ beside this script
from evonorm.reject.fingerprint import scale_free_digest
from evonorm.space import LayerGraph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path, help="a study's JournalFile (ARM-sSEED.log)")
    journal = parser.parse_args().journal
    records = copied_records(journal)
    first: dict[str, str] = {}  # digest -> formula of its first accepted layer
    repeats, seconds, total, accepted = 0, 0.0, 0.0, 0
    copies: dict[str, int] = {}
    for r in sorted(records, key=lambda r: r.number):
        if r.status != "accepted":
            continue
        graph = LayerGraph.from_dict(r.attrs["graph"])
        digest, cost = scale_free_digest(graph), float(r.attrs.get("seconds") or 0)
        accepted, total = accepted + 1, total + cost
        if digest in first:
            repeats, seconds = repeats + 1, seconds + cost
            copies[first[digest]] = copies.get(first[digest], 0) + 1
        else:
            first[digest] = graph.formula()
    print(
        f"{journal}: {repeats} of {accepted} accepted layers repeat an earlier one up to a "
        f"per-channel factor ({seconds:.0f} of {total:.0f} training CPU-s); "
        f"{len(first)} distinct up to it"
    )
    for formula, n in sorted(copies.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n:4d} copies of `{formula[:70]}`")


if __name__ == "__main__":
    main()
