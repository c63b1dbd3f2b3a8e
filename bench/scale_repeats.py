"""How much of a study's training went to rescaled copies: accepted layers whose fingerprint
outputs equal an earlier accepted layer's up to one factor per channel (its sign included),
like ``sqrt(x / c)`` with ``c`` a constant of ``v0``, ``v1`` against ``sqrt(x)``, or
``sqrt(x + x + x + x)``. The next network layer is linear, so such a factor is a different
initial gain, not a different layer; the same-seed re-scores of ablation-D (docs/evolution.md,
"Search score against re-score") found eight such copies inside their seed spread.

This is the measurement behind a ``distinct`` key up to a per-channel factor; the digest here is
a prototype (not yet the search's). The study is copied before it is read.

    .venv/bin/python bench/scale_repeats.py results/ablation/ablation-D/improved-s0.log
"""

import argparse
import hashlib
from pathlib import Path

import torch

from ablation_progress import copied_records  # bench/ beside this script
from evonorm.reject.fingerprint import SHAPE, passes
from evonorm.space import LayerGraph


def scale_free_digest(graph: LayerGraph) -> str:
    """The fingerprint passes' outputs, each channel divided by its norm over all three passes
    and by the sign of its largest entry, rounded to float16 and hashed."""
    outputs, _ = passes(graph)
    y = torch.stack(outputs).transpose(0, 2).reshape(SHAPE[1], -1)  # channel, everything else
    norm = y.norm(dim=1, keepdim=True)
    sign = torch.sign(y.gather(1, y.abs().argmax(dim=1, keepdim=True)))
    y = torch.where(norm > 1e-12, y / (norm * sign), y)
    return hashlib.sha256(y.to(torch.float16).numpy().tobytes()).hexdigest()


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
