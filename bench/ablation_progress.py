"""Where an ablation stands while (or after) it runs: per arm and seed, candidates so far,
accepted, duplicates, CPU-seconds, candidates per CPU-hour, best at N/3 and best so far, and
when each evolution arm first reached random search's best on the same seed.

The studies are copied before they are read, so a running ablation is never touched (opening a
live study must not re-queue what its workers hold). Search scores only (single-seed for random
search, the repeat means for arms with ``repeats``); the protocol's re-scoring is the ablation's.

    .venv/bin/python bench/ablation_progress.py results/ablation/ablation-B --budget 600
"""

import argparse
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evonorm.evolve import Search, open_storage
from evonorm.evolve.ablation import _curve_of, storage_url, study_name


def copied_records(journal: Path) -> list:
    """The records of the one study in ``journal`` (``ARM-sSEED.log``), read from a copy."""
    arm, seed = journal.stem.rsplit("-s", 1)
    with tempfile.TemporaryDirectory() as copy:
        shutil.copy(journal, Path(copy) / journal.name)
        url = storage_url(Path(copy), arm, int(seed))
        return Search.open(study_name(arm, int(seed)), open_storage(url)).records()


def copied_searches(root: Path) -> Iterator[tuple[str, int, Search]]:
    """``(arm, seed, search)`` for every study under ``root``, each opened from a copy."""
    with tempfile.TemporaryDirectory() as copy:
        for log in sorted(root.glob("*-s*.log")):
            arm, seed = log.stem.rsplit("-s", 1)
            shutil.copy(log, Path(copy) / log.name)
            url = storage_url(Path(copy), arm, int(seed))
            yield arm, int(seed), Search.open(study_name(arm, int(seed)), open_storage(url))


def curves(root: Path, budget: int) -> dict[tuple[str, int], object]:
    return {
        (arm, seed): _curve_of(search, arm, seed, budget)
        for arm, seed, search in copied_searches(root)
    }


def _fmt(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100 * value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--budget", type=int, default=600)
    args = parser.parse_args()
    found = curves(args.root, args.budget)
    third = args.budget // 3
    print(
        "| seed | arm | candidates | accepted | duplicates | CPU-s | candidates / CPU-hour "
        f"| best at {third} | best so far |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for (arm, seed), c in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = len(c.best)
        rate = 3600 * n / c.seconds if c.seconds else float("nan")
        at = c.best[third - 1] if n >= third else float("nan")
        print(
            f"| {seed} | {arm} | {n} | {c.accepted} | {c.duplicates} | {c.seconds:.0f} | "
            f"{rate:.0f} | {_fmt(at)} | {_fmt(c.best[-1] if c.best else float('nan'))} |"
        )
    print()
    for (arm, seed), c in sorted(found.items()):
        rs = found.get(("random", seed))
        if arm == "random" or rs is None or len(rs.best) < args.budget:
            continue
        target = rs.best[-1]
        hit = next((i for i, b in enumerate(c.best) if math.isfinite(b) and b >= target), None)
        if hit is None:
            print(
                f"{arm} seed {seed}: not yet at random search's {_fmt(target)} "
                f"after {len(c.best)} candidates"
            )
        else:
            print(
                f"{arm} seed {seed}: reached random search's {_fmt(target)} after {hit + 1} "
                f"candidates (N/3 = {third}) and {c.spent[hit]:.0f} CPU-s "
                f"({100 * c.spent[hit] / rs.seconds:.0f} % of its {rs.seconds:.0f})"
            )


if __name__ == "__main__":
    main()
