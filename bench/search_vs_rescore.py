"""Does a search score predict the re-score? Takes accepted layers of one search across its range
of search scores (evenly spaced ranks, top and bottom included, plus its first accepted layer),
re-scores each under the ablation's common protocol (rerank budget, the ``rerank`` split of the
study's seed, training seeds 100, 101, ...) on the anchors and the held-out networks, and prints
each layer's search score beside its re-scores, with the Spearman rank correlation of the two
over the sampled layers.

A search climbs its search score; if that score's order among the layers it visits does not
carry over to the re-score, the climb is noise or a short-budget artefact (docs/evolution.md,
"ablation-D"). Trainings are appended to ``--out`` as they end and never repeated, so a killed
run resumes. The study is copied before it is read.

    .venv/bin/python bench/search_vs_rescore.py results/ablation/ablation-D/improved-s0.log \\
        --layers 8 --out results/rescore-probe/ablation-D.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from evonorm.evolve import Search, open_storage
from evonorm.evolve.ablation import RESCORE_SEED, AblationConfig, storage_url, study_name
from evonorm.proxy.presets import get_preset
from evonorm.proxy.rerank import result_to_dict
from evonorm.proxy.score import train_layer
from evonorm.reject import fingerprint
from evonorm.space import LayerGraph


def sampled(journal: Path, count: int) -> tuple[Search, list[tuple[int, float, LayerGraph]]]:
    """The search and ``(trial, mean search score, graph)`` of ``count`` accepted layers of
    distinct functions at evenly spaced ranks, and the first accepted one."""
    with tempfile.TemporaryDirectory() as copy:
        arm, seed = journal.stem.rsplit("-s", 1)
        shutil.copy(journal, Path(copy) / journal.name)
        url = storage_url(Path(copy), arm, int(seed))
        search = Search.open(study_name(arm, int(seed)), open_storage(url))
        records = sorted(search.records(), key=lambda r: r.number)
    accepted, seen = [], set()
    for r in records:
        if r.status == "accepted" and r.values:
            graph = LayerGraph.from_dict(r.attrs["graph"])
            digest = fingerprint(graph).digest
            if digest not in seen:
                seen.add(digest)
                accepted.append((r.number, float(np.mean(r.values)), graph))
    ranked = sorted(accepted, key=lambda a: -a[1])
    picks = {round(i * (len(ranked) - 1) / max(count - 1, 1)) for i in range(count)}
    chosen = {ranked[i][0]: ranked[i] for i in picks} | {accepted[0][0]: accepted[0]}
    return search, sorted(chosen.values(), key=lambda a: -a[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path, help="a search's JournalFile (ARM-sSEED.log)")
    parser.add_argument("--layers", type=int, default=8, help="accepted layers to sample")
    parser.add_argument("--seeds", type=int, default=3, help="re-scoring training seeds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="jsonl of trainings (resumable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    search, layers = sampled(args.journal, args.layers)
    preset = get_preset(search.config.preset)
    data_seed = search.config.seed
    columns = AblationConfig(preset=preset.name)  # the ablation's anchors and held-out networks
    archs = columns.archs
    done = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            done[(row["hash"], row["arch"], row["seed"], row["train_seed"])] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = preset.load_data(seed=data_seed)
    for _, _, graph in layers:
        for train_seed in range(RESCORE_SEED, RESCORE_SEED + args.seeds):
            for arch in archs:
                key = (graph.structural_hash(), arch, data_seed, train_seed)
                if key in done:
                    continue
                result = train_layer(graph, arch, preset, data, preset.rerank_train, train_seed)
                row = dict(zip(("hash", "arch", "seed", "train_seed"), key, strict=True))
                row |= {"formula": graph.formula(), "result": result_to_dict(result)}
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                done[key] = row

    def rescore(graph: LayerGraph, names) -> tuple[float, float]:
        per_seed = [
            statistics.fmean(
                done[(graph.structural_hash(), a, data_seed, t)]["result"]["accuracy"]
                for a in names
            )
            for t in range(RESCORE_SEED, RESCORE_SEED + args.seeds)
        ]
        return 100 * statistics.fmean(per_seed), 100 * (
            statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
        )

    anchors, held = preset.anchor_names, columns.held_out
    print(f"{args.journal} (data seed {data_seed}; re-scored on {args.seeds} training seeds)")
    print("| trial | search score | re-score, anchors | ± seeds | re-score, held-out | layer |")
    print("|---:|---:|---:|---:|---:|---|")
    pairs = []
    for trial, score, graph in layers:
        mean, std = rescore(graph, anchors)
        pairs.append((score, mean, rescore(graph, held)[0]))
        print(
            f"| {trial} | {100 * score:.1f} | {mean:.1f} | {std:.1f} | {pairs[-1][2]:.1f} "
            f"| `{graph.formula()}` |"
        )
    search_scores, on_anchors, on_held = zip(*pairs, strict=True)
    print(
        f"Spearman, search score vs re-score: anchors {spearmanr(search_scores, on_anchors)[0]:.2f}"
        f", held-out {spearmanr(search_scores, on_held)[0]:.2f} ({len(pairs)} layers)"
    )


if __name__ == "__main__":
    main()
