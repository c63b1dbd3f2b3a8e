"""How noisy is one score at the search budget? Reads a study whose accepted layers were trained
under two seeds (``--repeats 2``) and prints the seed-to-seed standard deviation per anchor and
of the mean over anchors, and the rank agreement of the two seeds (docs/evolution.md,
"Selection under noise").

    .venv/bin/python bench/repeat_noise.py results/mutation-probe/improved-warmup1-s0.log
"""

from __future__ import annotations

import argparse

import numpy as np
import optuna
from scipy.stats import spearmanr

from evonorm.evolve import Search, open_storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", help="a study's JournalFile, searched with --repeats 2")
    path = parser.parse_args().journal
    storage = open_storage(f"journal:{path}")
    search = Search.open(optuna.get_all_study_names(storage)[0], storage)
    anchors = search.config.anchors
    pairs = []  # per accepted layer: [[seed-0 accuracy, seed-1 accuracy] per anchor]
    for record in search.records():
        metrics = record.attrs.get("metrics") or {}
        if record.status == "accepted" and f"accuracy/{anchors[0]}/repeat1" in metrics:
            pairs.append([[metrics[f"accuracy/{a}/repeat{k}"] for k in (0, 1)] for a in anchors])
    scores = 100 * np.array(pairs)  # layers x anchors x 2
    per_anchor = np.sqrt(((scores[:, :, 0] - scores[:, :, 1]) ** 2).mean(axis=0) / 2)
    means = scores.mean(axis=1)  # layers x 2
    on_mean = float(np.sqrt(((means[:, 0] - means[:, 1]) ** 2).mean() / 2))
    print(f"{len(pairs)} accepted layers with two seeds in {path}")
    for arch, std in zip(anchors, per_anchor, strict=True):
        print(f"seed std on {arch}: {std:.2f} points")
    print(f"seed std of the mean over anchors: {on_mean:.2f} points")
    print(f"layers span {means.mean(axis=1).min():.1f}-{means.mean(axis=1).max():.1f} %")
    rho = spearmanr(means[:, 0], means[:, 1])[0]
    print(f"Spearman between the two seeds' anchor means: {rho:.2f}")


if __name__ == "__main__":
    main()
