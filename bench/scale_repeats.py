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
import shutil
import tempfile
from pathlib import Path

import torch

from evonorm.compile import build_layer
from evonorm.evolve import Search, open_storage
from evonorm.evolve.ablation import storage_url, study_name
from evonorm.reject.fingerprint import GROUPS, SHAPE, _inputs
from evonorm.space import LayerGraph


def scale_free_digest(graph: LayerGraph) -> str:
    """The fingerprint passes' outputs, each channel divided by its norm over all three passes
    and by the sign of its largest entry, rounded to float16 and hashed."""
    x1, x2, v0, v1 = _inputs()
    layer = build_layer(graph, SHAPE[1], groups=GROUPS, dtype=torch.float64, momentum=1.0)
    with torch.no_grad():
        if hasattr(layer, "v0"):
            layer.v0.copy_(v0)
        if hasattr(layer, "v1"):
            layer.v1.copy_(v1)
        outputs = [layer(x1), layer(x2)]
        layer.eval()
        outputs.append(layer(x1))
    y = torch.stack(outputs).transpose(0, 2).reshape(SHAPE[1], -1)  # channel, everything else
    norm = y.norm(dim=1, keepdim=True)
    sign = torch.sign(y.gather(1, y.abs().argmax(dim=1, keepdim=True)))
    y = torch.where(norm > 1e-12, y / (norm * sign), y)
    return hashlib.sha256(y.to(torch.float16).numpy().tobytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path, help="a study's JournalFile (ARM-sSEED.log)")
    journal = parser.parse_args().journal
    arm, seed = journal.stem.rsplit("-s", 1)
    with tempfile.TemporaryDirectory() as copy:
        shutil.copy(journal, Path(copy) / journal.name)
        url = storage_url(Path(copy), arm, int(seed))
        records = Search.open(study_name(arm, int(seed)), open_storage(url)).records()
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
