"""Is the held-out gap a learning-rate artefact? Known and searched layers trained at each
network's preset learning rate scaled by ``--scales``, at the `ablation` preset's rerank budget.

The preset's learning rates were calibrated with BN-ReLU (bench/calibrate_preset.py), and every
layer trains at them. If a searched layer trails BN-ReLU on the held-out networks at the preset
rate but not at its own best rate, the held-out target measures fit to BN-ReLU's
hyperparameters, not the layer. Same protocol as the ablation's re-scores (data drawn with seed
0, scored on its `rerank` split, training seeds 100-102, one thread per training, two trainings
at a time), so the scale-1 rows of a known layer repeat docs/results.md's seed-0 figures.

A layer is a known name (``bn_relu``) or ``ROOT:HASH``, an accepted layer of an ablation root
named by a prefix of its structural hash (``hash`` in the root's trainings.jsonl). Every
training appends one row to ``results/lr_fit.jsonl``; a rerun skips what the log holds.

    .venv/bin/python bench/lr_fit.py --layers bn_relu bn_silu evonorm_b0 \\
        results/ablation/ablation-E:a1b2c3 --archs resnet resnet_basic vgg

``--budgets`` multiplies the rerank budget's steps (default 1): whether a gap at 200 steps
is the layer or the short training, at the preset rate (``--scales 1``):

    .venv/bin/python bench/lr_fit.py --layers bn_relu bn_silu evonorm_b0 \\
        results/ablation/ablation-E:9ee4941a6a --archs resnet_basic vgg mnasnet --scales 1 \\
        --budgets 1 4

``--roots`` asks the selection question instead: every layer the roots trained on every network
(anchor mean at or above ``--floor``; the same pool as bench/anchor_transfer.py, layers found
in the roots' studies) is trained on the anchors at each scale, and the report gives the
Spearman correlation, across those layers, of anchor scores at one or several rates with the
held-out mean the roots measured at the preset rate. A score that reads the learning-rate
robustness of a layer never sees a held-out network.

    .venv/bin/python bench/lr_fit.py --roots results/ablation/ablation-{C,D,E,E-warm} \\
        --archs resnet mobilenet_v2 efficientnet_b0 --seeds 100 --floor 0.6

With ``--budgets`` and held-out networks among ``--archs``, the same pool asks whether the
search's short trainings rank layers as longer ones do: anchor scores at each step budget are
correlated with the held-out networks' mean in this log at each budget too:

    .venv/bin/python bench/lr_fit.py --roots results/ablation/ablation-{C,D,E,E-warm} \\
        --archs resnet mobilenet_v2 efficientnet_b0 resnet_basic vgg mnasnet --scales 1 \\
        --budgets 1 4 --seeds 100 --floor 0.7

With ``--scales 1``, the report ends with network groups: per layer and step budget, the mean
± sample std over seeds of each seed's mean over a group (the preset's anchors and held-out
networks, and each ``--group NAME=ARCH,ARCH``), with the lead over BN-ReLU. That is the table
of docs/evolution.md's 4× check:

    .venv/bin/python bench/lr_fit.py --layers bn_relu results/ablation/ablation-G:d72968a3de \
        --archs resnet mobilenet_v2 efficientnet_b0 resnet_basic vgg mnasnet --scales 1 \
        --budgets 4 --group plain=resnet_basic,vgg --report
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from evonorm import known_layer
from evonorm.evolve import Search, open_storage
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import seeded_model
from evonorm.proxy.trainer import train
from evonorm.space.graph import LayerGraph

LOG = Path("results/lr_fit.jsonl")
PRESET = "ablation"
DATA_SEED = 0
_DATA = {}


def _study_graphs(roots: list[Path]):
    """``(structural hash, graph dict)`` of every trial in the roots' studies that holds a
    graph, in study and trial order."""
    for root in roots:
        for log in sorted(root.glob("*-s*.log")):
            for record in Search.open(log.stem, open_storage(f"journal:{log}")).records():
                if "graph" in record.attrs:
                    yield record.attrs.get("hash", ""), record.attrs["graph"]


def resolve(spec: str) -> tuple[str, LayerGraph]:
    """``(label, graph)`` of a known name or ``ROOT:HASH``."""
    if ":" not in spec:
        return spec, known_layer(spec)
    root, prefix = spec.rsplit(":", 1)
    for structural_hash, graph in _study_graphs([Path(root)]):
        if structural_hash.startswith(prefix):
            return prefix, LayerGraph.from_dict(graph)
    raise SystemExit(f"lr_fit: no layer with hash {prefix}... in {root}; see its trainings.jsonl")


def pooled(roots: list[Path], floor: float) -> tuple[dict[str, LayerGraph], dict[str, float]]:
    """``({hash prefix: graph}, {hash prefix: held-out mean})`` of the layers ``roots`` trained
    on every network whose anchor mean reaches ``floor`` and whose graph a study holds."""
    from anchor_transfer import per_layer  # bench/ is the script's folder

    config = json.loads((roots[0] / "config.json").read_text())
    anchors = get_preset(config.get("preset", PRESET)).anchor_names
    held_out = tuple(config["held_out"])
    wanted = {
        h[:10]: statistics.fmean(acc[n] for n in held_out)
        for h, (_, acc) in per_layer(roots).items()
        if all(n in acc for n in anchors + held_out)
        and statistics.fmean(acc[a] for a in anchors) >= floor
    }
    graphs = {}
    for structural_hash, graph in _study_graphs(roots):
        if structural_hash[:10] in wanted:
            graphs.setdefault(structural_hash[:10], LayerGraph.from_dict(graph))
    return graphs, {h: wanted[h] for h in graphs}


def column_name(column: tuple[float, float]) -> str:
    """``×1`` or ``×1, 4× steps``: a learning-rate scale and a step budget."""
    scale, budget = column
    return f"×{scale:g}" + (f", {budget:g}× steps" if budget != 1.0 else "")


def correlations(rows: dict, held: dict[str, float], archs: list[str], columns: list[tuple]):
    """Spearman of anchor scores at each ``(scale, budget)`` column with the held-out mean the
    roots measured (preset rate, rerank budget) and, where ``archs`` holds held-out networks,
    with their mean in this log at each step budget."""
    from scipy.stats import spearmanr

    preset = get_preset(PRESET)
    anchors = [a for a in archs if a in preset.anchor_names]
    others = [a for a in archs if a not in preset.anchor_names]

    def score(layer, nets, picked):
        found = [
            (arch, v)
            for (name, arch, scale, _, budget), v in rows.items()
            if name == layer and arch in nets and (scale, budget) in picked
        ]
        if not nets or {arch for arch, _ in found} != set(nets):
            return None  # a network not trained in these columns
        return statistics.fmean(v for _, v in found)

    choices = {f"anchor mean at {column_name(c)}": [c] for c in columns if anchors}
    at_preset = [c for c in columns if c[1] == 1.0]
    if len(at_preset) > 1:
        choices["anchor mean over the rates"] = at_preset
    if {(1.0, 1.0), (2.0, 1.0)} <= set(at_preset):
        choices["anchor mean at ×1 and ×2"] = [(1.0, 1.0), (2.0, 1.0)]
    layers = list(held)
    targets = {"held-out mean (roots)": [held[layer] for layer in layers]}
    for budget in sorted({c[1] for c in columns}):
        if others and (1.0, budget) in columns:
            label = f"{'/'.join(others)} at {budget:g}× steps"
            targets[label] = [score(layer, others, [(1.0, budget)]) for layer in layers]
    print(f"\nSpearman (p) across {len(layers)} layers; held-out mean (roots): the ablations'")
    print("re-scores on their held-out networks at the preset rate and the rerank budget\n")
    print("| selection score | " + " | ".join(targets) + " |")
    print("|---|" + "---:|" * len(targets))
    for label, picked in choices.items():
        xs = [score(layer, anchors, picked) for layer in layers]
        cells = []
        for ys in targets.values():
            pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if None not in (x, y)]
            if len(pairs) < 3:
                cells.append("–")
                continue
            result = spearmanr([x for x, _ in pairs], [y for _, y in pairs])
            cells.append(f"{result.statistic:+.2f} ({result.pvalue:.2f}, n {len(pairs)})")
        print(f"| {label} | " + " | ".join(cells) + " |")


def _init() -> None:
    torch.set_num_threads(1)


def _train(graph: dict, arch: str, scale: float, seed: int, budget: float) -> float:
    preset = get_preset(PRESET)
    if "data" not in _DATA:
        _DATA["data"] = preset.load_data(seed=DATA_SEED)
    base = preset.rerank_train
    lr = (preset.arch(arch).lr or base.lr) * scale
    steps = round(base.steps * budget)
    config = dataclasses.replace(base, eval_split="rerank", lr=lr, steps=steps)
    model = seeded_model(LayerGraph.from_dict(graph), arch, preset, seed)
    return train(model, _DATA["data"], config, seed=seed).accuracy


def logged() -> dict:
    rows = {}
    if LOG.exists():
        for line in LOG.read_text().splitlines():
            row = json.loads(line)
            key = (row["layer"], row["arch"], row["scale"], row["seed"], row.get("budget", 1.0))
            rows[key] = row["acc"]
    return rows


def train_missing(layers: dict[str, LayerGraph], jobs: list[tuple], rows: dict, workers=2):
    """Train each ``(label, arch, scale, seed, budget)`` job on ``workers`` one-thread
    processes, appending a row to the log (and to ``rows``) as each ends."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers, initializer=_init) as pool, LOG.open("a") as log:
        futures = {pool.submit(_train, layers[job[0]].to_dict(), *job[1:]): job for job in jobs}
        for future, job in futures.items():
            acc = future.result()
            label, arch, scale, seed, budget = job
            row = {"layer": label, "arch": arch, "scale": scale, "seed": seed, "acc": acc}
            if budget != 1.0:  # rows before --budgets existed are the rerank budget
                row["budget"] = budget
            log.write(json.dumps(row) + "\n")
            log.flush()
            rows[job] = acc
            print(json.dumps({**row, "formula": layers[label].formula()[:60]}), flush=True)


def report(rows: dict, labels: list[str], archs: list[str], columns: list[tuple]) -> None:
    """Accuracy per ``(scale, budget)`` column, and each layer's gap to BN-ReLU at the preset
    rate per budget and at its best column."""

    def mean(layer, arch, column):
        values = [
            v for k, v in rows.items() if k[:3] == (layer, arch, column[0]) and k[4] == column[1]
        ]
        return statistics.fmean(values) if values else None

    print(
        "\nAccuracy % (mean over seeds) per learning-rate scale and step budget; best: the "
        "layer's best column\n"
    )
    print("| layer | network | " + " | ".join(column_name(c) for c in columns) + " | best |")
    print("|---|---|" + "---:|" * (len(columns) + 1))
    best = {}
    for layer in labels:
        for arch in archs:
            cells = [mean(layer, arch, c) for c in columns]
            known = [c for c in cells if c is not None]
            best[(layer, arch)] = max(known) if known else None
            shown = [f"{100 * c:.1f}" if c is not None else "–" for c in cells]
            top = f"{100 * max(known):.1f}" if known else "–"
            print(f"| {layer} | {arch} | " + " | ".join(shown) + f" | {top} |")
    if "bn_relu" not in labels:
        return
    at_preset = [c for c in columns if c[0] == 1.0]
    print(
        "\nGap to BN-ReLU (points), at the preset rate (×1) per step budget and each at its "
        "best column\n"
    )
    heads = [f"{a} {column_name(c)}" for a in archs for c in at_preset] + [
        f"{a} best" for a in archs
    ]
    print("| layer | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for layer in [x for x in labels if x != "bn_relu"]:
        cells = []
        for arch in archs:
            for column in at_preset:
                one, ref = mean(layer, arch, column), mean("bn_relu", arch, column)
                cells.append(f"{100 * (one - ref):+.1f}" if None not in (one, ref) else "–")
        for arch in archs:
            b, rb = best[(layer, arch)], best[("bn_relu", arch)]
            cells.append(f"{100 * (b - rb):+.1f}" if None not in (b, rb) else "–")
        print(f"| {layer} | " + " | ".join(cells) + " |")


def group_report(rows: dict, labels: list[str], named: dict[str, list[str]], seeds, budgets):
    """Per layer and step budget at the preset rate: each group's mean ± sample std over seeds
    of the per-seed means over its networks, and the lead of those means over BN-ReLU's."""

    def per_seed(layer, archs, budget):
        keys = [[(layer, a, 1.0, s, budget) for a in archs] for s in seeds]
        if not all(k in rows for seed_keys in keys for k in seed_keys):
            return None
        return [100 * statistics.fmean(rows[k] for k in seed_keys) for seed_keys in keys]

    print("\nNetwork groups at the preset rate: mean ± sample std over seeds of the per-seed")
    print("means (lead over BN-ReLU)\n")
    print("| layer | steps | " + " | ".join(named) + " |")
    print("|---|---|" + "---:|" * len(named))
    for budget in budgets:
        for layer in labels:
            cells = []
            for archs in named.values():
                one, ref = per_seed(layer, archs, budget), per_seed("bn_relu", archs, budget)
                if one is None:
                    cells.append("–")
                    continue
                cell = f"{statistics.fmean(one):.1f}"
                if len(one) > 1:
                    cell += f" ± {statistics.stdev(one):.1f}"
                if ref and layer != "bn_relu":
                    cell += f" ({statistics.fmean(one) - statistics.fmean(ref):+.1f})"
                cells.append(cell)
            print(f"| {layer} | {budget:g}× | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", default=["bn_relu", "bn_silu", "evonorm_b0"])
    parser.add_argument("--archs", nargs="+", default=["resnet", "resnet_basic", "vgg"])
    parser.add_argument("--scales", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102])
    parser.add_argument(
        "--budgets", nargs="+", type=float, default=[1.0], help="rerank steps multipliers"
    )
    parser.add_argument("--roots", nargs="+", type=Path, help="ablation roots to pool layers from")
    parser.add_argument("--workers", type=int, default=2, help="one-thread training processes")
    parser.add_argument("--floor", type=float, default=0.6, help="anchor mean a pooled layer needs")
    parser.add_argument("--report", action="store_true", help="print the log's tables only")
    parser.add_argument(
        "--group", action="append", default=[], metavar="NAME=ARCH,ARCH", help="a network group"
    )
    args = parser.parse_args()
    preset = get_preset(PRESET)
    named = {"anchors": list(preset.anchor_names), "held-out": list(preset.held_out_names)}
    for group in args.group:
        name, _, archs = group.partition("=")
        if not name or not archs:
            parser.error(f"--group {group!r}: give NAME=ARCH,ARCH (e.g. plain=resnet_basic,vgg)")
        named[name] = archs.split(",")
    named = {n: a for n, a in named.items() if set(a) <= set(args.archs)}
    held = {}
    if args.roots:
        layers, held = pooled(args.roots, args.floor)
    else:
        layers = dict(resolve(spec) for spec in args.layers)
    rows = logged()
    if not args.report:
        jobs = [
            (label, arch, scale, seed, budget)
            for budget in args.budgets
            for seed in args.seeds
            for scale in args.scales
            for arch in args.archs
            for label in layers
            if (label, arch, scale, seed, budget) not in rows
        ]
        train_missing(layers, jobs, rows, args.workers)
    columns = [(scale, budget) for budget in args.budgets for scale in args.scales]
    if held:
        correlations(rows, held, args.archs, columns)
    else:
        report(rows, list(layers), args.archs, columns)
        if 1.0 in args.scales and named:
            group_report(rows, list(layers), named, args.seeds, args.budgets)


if __name__ == "__main__":
    main()
