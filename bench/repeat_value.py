"""Does the second seed of ``--repeats 2`` rank the top of a search better than one seed?

For each finished search whose accepted layers were trained under two seeds, the ablation's
rerank pick already retrained its 10 best layers by search score with fresh seeds (200, 201,
rerank budget, the ``search`` split: the ``split: search`` rows of the root's
``trainings.jsonl``). That retraining is an independent, longer measurement of what the search
score estimates, so it can judge the search score made of one seed (``repeat0``) against the
mean of two. Per search, and pooled over searches after centring each search's scores:
Spearman of each score with the retraining, and the retraining's value of the layer each score
puts first, against the best of the 10 (the loss a tournament deciding on that score takes).

The finalists were chosen by the two-seed mean, so that score's range is cut more than the
one-seed score's: if anything the comparison is tilted towards one seed.

    .venv/bin/python bench/repeat_value.py results/ablation/ablation-{E,G,E-warm,E-warm-keep}
"""

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ablation_progress import copied_searches  # bench/ is the script's folder
from evonorm.evolve import Search
from evonorm.evolve.ablation import PICK_SEED, _load_trainings


def retrained(root: Path) -> dict[tuple[int, str], float]:
    """``(search seed, layer hash) -> mean pick accuracy (%)`` over the anchors and pick seeds."""
    rows = defaultdict(list)
    for (layer, _, seed, train_seed), row in _load_trainings(root).items():
        if train_seed >= PICK_SEED:  # the pick seeds, scored on the search split
            rows[(seed, layer)].append(100 * row["result"]["accuracy"])
    return {key: float(np.mean(accs)) for key, accs in rows.items()}


def finalists(search: Search, seed: int, picks: dict, top: int) -> list[tuple[float, ...]]:
    """``(one-seed score, two-seed score, retrained)`` of a search's ``top`` retrained layers."""
    out = []
    for record in search.records():
        metrics = record.attrs.get("metrics") or {}
        key = (seed, record.attrs.get("hash"))
        if record.status != "accepted" or key not in picks:
            continue
        anchors = sorted({name.split("/")[1] for name in metrics if name.endswith("/repeat1")})
        if not anchors:
            continue
        one = np.mean([metrics[f"accuracy/{a}/repeat0"] for a in anchors])
        two = np.mean([metrics[f"accuracy/{a}/repeat{k}"] for a in anchors for k in (0, 1)])
        out.append((100 * one, 100 * two, picks[key]))
    # a layer random search picked on the same seed may sit in this search's random prefix too;
    # the finalists are this search's top ones by its own (two-seed) score
    return sorted(out, key=lambda row: -row[1])[:top]


def line(name: str, rows: np.ndarray, losses: list[float]) -> str:
    """A table row: Spearman of each score with the retraining, then the two losses."""
    one, two, target = rows.T
    rho = [spearmanr(score, target)[0] for score in (one, two)]
    cells = [f"{r:+.2f}" for r in rho] + [f"{loss:.1f}" for loss in losses]
    return f"| {name} | {len(rows)} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="finished ablation roots")
    parser.add_argument("--top", type=int, default=10, help="finalists per search (the roots')")
    args = parser.parse_args()
    searches = []  # (name, finalists' rows, [loss of the one-seed top, of the two-seed top])
    for root in args.roots:
        picks = retrained(root)
        for arm, seed, search in copied_searches(root):
            rows = np.array(finalists(search, seed, picks, args.top))
            if len(rows) >= 3:
                target = rows[:, 2]
                losses = [target.max() - target[np.argmax(rows[:, k])] for k in (0, 1)]
                searches.append((f"{root.name}/{arm}-s{seed}", rows, losses))
    if not searches:
        parser.error(
            f"no search with rerank picks under {' '.join(map(str, args.roots))}: "
            "name finished ablation roots (their trainings.jsonl holds the picks)"
        )
    print(
        "| search | layers | Spearman, one seed | Spearman, two seeds | "
        "loss of the one-seed top | loss of the two-seed top |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, rows, losses in searches:
        print(line(name, rows, losses))
    pooled = np.concatenate([rows - rows.mean(axis=0) for _, rows, _ in searches])
    mean_losses = np.mean([losses for _, _, losses in searches], axis=0)
    print(line("pooled, centred per search; losses: the mean", pooled, mean_losses))


if __name__ == "__main__":
    main()
