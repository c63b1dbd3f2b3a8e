"""Accepted layers that trained exactly like an earlier accepted layer: every anchor score (the
mean over its training seeds) equal to 6 decimals, so almost surely one function in training,
yet the fingerprint (which drew v0 and v1 at random) took them for two. The usual cause is a
parameter that starts at its initial value and never moves: v0 starts at zero, and behind
`log`, `abs` or a statistic of a constant it gets no gradient, so `v0 / s` and `v0 * s` are
both zero all along. Prints the count and the evaluation seconds they cost, per study; the
studies are read from copies.

    .venv/bin/python bench/score_repeats.py results/ablation/ablation-E-warm/warm-s0.log \
        results/ablation/ablation-E/improved-s0.log
"""

import argparse
from pathlib import Path

from ablation_progress import copied_records  # bench/ beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journals", type=Path, nargs="+", help="studies' JournalFiles")
    args = parser.parse_args()
    print("| study | accepted | score-identical to an earlier one | their CPU-s | share of CPU-s |")
    print("|---|---:|---:|---:|---:|")
    for journal in args.journals:
        accepted = [
            r
            for r in sorted(copied_records(journal), key=lambda r: r.number)
            if r.status == "accepted" and r.values
        ]
        seen, repeats, wasted, total = set(), 0, 0.0, 0.0
        for r in accepted:
            seconds = float(r.attrs.get("seconds") or 0)
            total += seconds
            key = tuple(round(v, 6) for v in r.values)
            if key in seen:
                repeats, wasted = repeats + 1, wasted + seconds
            seen.add(key)
        share = f"{100 * wasted / total:.0f} %" if total else "–"
        print(f"| {journal} | {len(accepted)} | {repeats} | {wasted:.0f} | {share} |")


if __name__ == "__main__":
    main()
