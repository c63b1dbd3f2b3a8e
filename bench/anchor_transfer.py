"""Does the score the searches select on predict the held-out networks? Measured on the
trainings an ablation already holds.

Every layer of an ablation (baselines, random samples, each arm's best and best-so-far layers,
their re-scorings) is trained on every anchor and every held-out network. Per layer this takes
the mean accuracy per network over its trainings, keeps the layers that learn (anchor mean at
or above ``--floor``: among layers that do not, anything ranks well), and prints, across those
layers, the Spearman correlation of

- each anchor with each held-out network and with their mean, and
- candidate selection scores (the anchor mean the searches use, the worst anchor, each single
  anchor) with the held-out mean.

No training runs; it reads ``trainings.jsonl`` only (a running ablation appends to it, which is
safe to read). Several roots of one preset revision pool their trainings (a layer trained in
two roots is one layer, its accuracies averaged over both; a training a root copied from
another, same layer, network, seed and training seed, counts once): more layers, a firmer
ranking.

    .venv/bin/python bench/anchor_transfer.py results/ablation/ablation-B
    .venv/bin/python bench/anchor_transfer.py results/ablation/ablation-{C,D,E,E-warm}

``--extra LOG`` adds networks the ablations did not hold out, from bench/lr_fit.py's log (its
rows at the preset rate, matched to layers by hash prefix), e.g. the preset's third held-out
network MnasNet, a depthwise one: a score that tilts towards the plain networks must not lose
it. The family-balanced score weighs the plain and the depthwise anchors equally (ResNet ½,
MobileNetV2 and EfficientNet-B0 ¼ each).
"""

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from scipy.stats import spearmanr

from evonorm.evolve.ablation import TRAININGS, AblationConfig
from evonorm.proxy.presets import get_preset


def per_layer(roots: list[Path]) -> dict[str, tuple[str, dict[str, float]]]:
    """``hash -> (formula, {network: mean accuracy})`` over all trainings under ``roots``."""
    runs: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    formulas = {}
    lines = [line for root in roots for line in (root / TRAININGS).read_text().splitlines()]
    seen = set()
    for line in lines:
        if line.strip():
            row = json.loads(line)
            key = (row["hash"], row["arch"], row["seed"], row.get("train_seed", row["seed"]))
            if key in seen:
                continue
            seen.add(key)
            runs[row["hash"]][row["arch"]].append(row["result"]["accuracy"])
            formulas[row["hash"]] = row["formula"]
    return {
        h: (formulas[h], {arch: statistics.fmean(values) for arch, values in archs.items()})
        for h, archs in runs.items()
    }


FAMILIES = {
    "resnet": "plain",
    "resnet_basic": "plain",
    "vgg": "plain",
    "mobilenet_v2": "depthwise",
    "efficientnet_b0": "depthwise",
    "mnasnet": "depthwise",
}


def with_extra(layers: dict, log: Path) -> tuple[dict, tuple[str, ...]]:
    """``layers`` with the networks of an lr_fit log (scale 1, mean over seeds) added, and the
    names of those networks."""
    runs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        row = json.loads(line)
        if row["scale"] == 1.0:
            runs[(row["layer"], row["arch"])].append(row["acc"])
    added = set()
    for (label, arch), values in runs.items():
        for h, (_, acc) in layers.items():
            if h.startswith(label) and arch not in acc:
                acc[arch] = statistics.fmean(values)
                added.add(arch)
    return layers, tuple(sorted(added))


def _rho(xs: list[float], ys: list[float]) -> str:
    result = spearmanr(xs, ys)
    return f"{result.statistic:+.2f} (p {result.pvalue:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "roots", type=Path, nargs="+", help="ablation folders of one preset revision"
    )
    parser.add_argument("--floor", type=float, default=0.7, help="anchor mean a layer must reach")
    parser.add_argument("--extra", type=Path, help="bench/lr_fit.py log: more held-out networks")
    args = parser.parse_args()
    configs = [json.loads((root / "config.json").read_text()) for root in args.roots]
    revisions = {c.get("preset_revision") for c in configs}
    if len(revisions) > 1:
        parser.error(f"the roots were scored under different preset revisions: {revisions}")
    config = configs[0]
    anchors = get_preset(config.get("preset", "ablation")).anchor_names
    held_out = tuple(config.get("held_out", AblationConfig().held_out))
    pool = per_layer(args.roots)
    if args.extra:
        pool, added = with_extra(pool, args.extra)
        held_out += tuple(n for n in added if n not in anchors + held_out)
    networks = anchors + held_out
    layers = {
        h: (formula, acc) for h, (formula, acc) in pool.items() if all(n in acc for n in networks)
    }

    def anchor_mean(acc: dict[str, float]) -> float:
        return statistics.fmean(acc[a] for a in anchors)

    def held(acc: dict[str, float]) -> float:
        return statistics.fmean(acc[h] for h in held_out)

    kept = [(f, acc) for f, acc in layers.values() if anchor_mean(acc) >= args.floor]
    print(
        f"{len(layers)} layers trained on every network; {len(kept)} with anchor mean ≥ "
        f"{100 * args.floor:.0f} %\n"
    )
    print("| layer | " + " | ".join(networks) + " | anchor mean | held-out mean |")
    print("|---|" + "---:|" * (len(networks) + 2))
    for formula, acc in sorted(kept, key=lambda pair: -anchor_mean(pair[1])):
        cells = " | ".join(f"{100 * acc[n]:.1f}" for n in networks)
        print(f"| `{formula}` | {cells} | {100 * anchor_mean(acc):.1f} | {100 * held(acc):.1f} |")

    print("\nSpearman across those layers (p: two-sided, no correction):\n")
    print("| anchor | " + " | ".join(held_out) + " | held-out mean |")
    print("|---|" + "---:|" * (len(held_out) + 1))
    for a in anchors:
        xs = [acc[a] for _, acc in kept]
        cells = [_rho(xs, [acc[h] for _, acc in kept]) for h in held_out]
        cells.append(_rho(xs, [held(acc) for _, acc in kept]))
        print(f"| {a} | " + " | ".join(cells) + " |")

    def family_balanced(acc: dict[str, float]) -> float:
        families = defaultdict(list)
        for a in anchors:
            families[FAMILIES[a]].append(acc[a])
        return statistics.fmean(statistics.fmean(v) for v in families.values())

    print("\n| selection score | " + " | ".join(held_out) + " | held-out mean |")
    print("|---|" + "---:|" * (len(held_out) + 1))
    scores = {
        "anchor mean (what the searches use)": anchor_mean,
        "family-balanced anchor mean": family_balanced,
        "worst anchor": lambda acc: min(acc[a] for a in anchors),
    }
    for a in anchors:
        scores[f"{a} only"] = lambda acc, a=a: acc[a]
    for name, score in scores.items():
        xs = [score(acc) for _, acc in kept]
        cells = [_rho(xs, [acc[h] for _, acc in kept]) for h in held_out]
        cells.append(_rho(xs, [held(acc) for _, acc in kept]))
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
