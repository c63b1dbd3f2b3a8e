"""How many trainings a study spent on functions it had already evaluated, by today's
fingerprint: accepted layers (and rejected ones) whose fingerprint, recomputed now, repeats an
earlier candidate's. The study is copied before it is read (docs/evolution.md, "Functional
repeats the fingerprint missed").

    .venv/bin/python bench/fingerprint_repeats.py results/ablation/ablation-D/improved-s0.log
"""

import argparse
from pathlib import Path

from ablation_progress import copied_records  # bench/ beside this script
from evonorm.reject import fingerprint
from evonorm.space import LayerGraph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path, help="a study's JournalFile (ARM-sSEED.log)")
    journal = parser.parse_args().journal
    records = copied_records(journal)
    seen, counts, seconds, total = set(), {"accepted": 0, "rejected": 0}, 0.0, 0.0
    accepted = 0
    for r in sorted(records, key=lambda r: r.number):
        if r.status not in counts:
            continue
        accepted += r.status == "accepted"
        total += float(r.attrs.get("seconds") or 0) if r.status == "accepted" else 0.0
        digest = fingerprint(LayerGraph.from_dict(r.attrs["graph"])).digest
        if digest in seen:
            counts[r.status] += 1
            seconds += float(r.attrs.get("seconds") or 0) if r.status == "accepted" else 0.0
        seen.add(digest)
    print(
        f"{journal}: {counts['accepted']} of {accepted} accepted layers repeat an earlier "
        f"function ({seconds:.0f} of {total:.0f} training CPU-s); {counts['rejected']} rejected"
    )


if __name__ == "__main__":
    main()
