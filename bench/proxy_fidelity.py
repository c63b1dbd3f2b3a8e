"""Does the proxy score measure what a norm-act layer is for? Train reference layers that are
known to differ (BN-ReLU over many seeds, the other known layers, layers that do not normalise,
and seeded random layers that cannot normalise) on every anchor and held-out network of a
preset, run the rejection chain on each, and print the fidelity table (docs/benchmarks.md).

    .venv/bin/python bench/proxy_fidelity.py --preset local   # results/proxy_fidelity_local.jsonl
    .venv/bin/python bench/proxy_fidelity.py --preset ablation \
        --compare results/proxy_fidelity_local.jsonl

Every training appends one row (tagged with the preset's revision) to the log and a rerun
skips what the log holds for the current revision, so the bench resumes after a kill and can be
run in sittings (``--only`` limits a sitting to some layers); a changed preset starts afresh.
``--revision unclipped`` prints the table logged before local clipped its gradients.
``--compare`` prints the Spearman correlation of the mean anchor score with another preset's
log, over the reference layers and the layers that preset's chain accepted.

Targets (issue 13): every layer that does not normalise is rejected by the chain's training
stages or scores >= 5 points below BN-ReLU on the mean over anchors (>= 3 for tanh-like ones);
BN-SiLU and EvoNorm-B0 >= BN-ReLU - 0.5; GN-ReLU below BN-ReLU; BN-ReLU's seed std <= 0.5 points
on each anchor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from torch import nn

from evonorm import GraphError, LayerGraph, known_layer
from evonorm.proxy.presets import Preset, get_preset
from evonorm.proxy.score import train_layer
from evonorm.proxy.trainer import TrainConfig, train
from evonorm.reject import RejectionChain
from evonorm.reject.fingerprint import fingerprint
from evonorm.space.ops import ELEMENTWISE_OPS, OPS

KNOWN = ("bn_relu", "bn_silu", "gn_relu", "evonorm_b0", "evonorm_s0")
X, ZERO, V0, V1 = 0, 1, 2, 3
LISTED = {  # layers that do not normalise, named in issue 13
    "identity": [("add", X, ZERO)],
    "neg": [("neg", X)],
    "x*v1": [("mul", X, V1)],
    "v0+x": [("add", V0, X)],
    "tanh": [("tanh", X)],
    "dyt": [("mul", V1, X), ("tanh", 4)],
}
MEANS = tuple(name for name, op in OPS.items() if op.statistic == "mean")


def graph_of(nodes) -> LayerGraph:
    listed = [{"op": op, "inputs": list(inputs)} for op, *inputs in nodes]
    return LayerGraph.from_dict({"schema": "evonorm.graph/v1", "space": "B", "nodes": listed})


def non_normalising(count: int, seed: int) -> dict[str, LayerGraph]:
    """``count`` distinct seeded graphs that cannot normalise: half element-wise compositions
    of x, v0 and v1 (any element-wise op), half with a mean statistic but no spread (no std,
    no second moment, no division), e.g. ``x + mean_batch(x)``. Each depends on x, is finite on
    the fingerprint inputs and differs in function from the others and the listed layers."""
    rng = np.random.default_rng(seed)
    seen = {fingerprint(graph_of(nodes)).digest for nodes in LISTED.values()}
    out: dict[str, LayerGraph] = {}
    while len(out) < count:
        with_mean = len(out) % 2 == 1
        ops = list(ELEMENTWISE_OPS)
        if with_mean:
            ops = [o for o in ops if o != "div"] + list(MEANS)
        nodes: list[tuple] = []
        if with_mean:
            nodes.append((str(rng.choice(MEANS)), X))
        for _ in range(int(rng.integers(1, 4))):
            op = str(rng.choice(ops))
            inputs = [int(rng.integers(0, 4 + len(nodes))) for _ in range(OPS[op].arity)]
            nodes.append((op, *inputs))
        if with_mean and not any(4 in n[1:] for n in nodes[1:]):
            nodes.append(("add", len(nodes) + 3, 4))  # make the statistic reach the output
        try:
            graph = graph_of(nodes)
        except GraphError:  # e.g. an output that does not depend on x: draw again
            continue
        print_ = fingerprint(graph)
        if not (print_.finite and print_.depends_on_x) or print_.digest in seen:
            continue
        seen.add(print_.digest)
        out[f"gen{len(out):02d}"] = graph
    return out


def reference_set(generated: int, gen_seed: int) -> dict[str, tuple[str, LayerGraph, int]]:
    """name -> (kind, graph, seeds)."""
    layers = {"bn_relu": ("known", known_layer("bn_relu"), 5)}
    layers.update({n: ("known", known_layer(n), 2) for n in KNOWN[1:]})
    layers.update({n: ("listed", graph_of(nodes), 2) for n, nodes in LISTED.items()})
    layers.update({n: ("generated", g, 1) for n, g in non_normalising(generated, gen_seed).items()})
    return layers


def linear_probe(preset: Preset, data) -> float:
    """A linear classifier on the pixels, trained well past convergence of the proxy budget."""
    torch.manual_seed(0)
    pixels = data.images["fit"][0].numel()
    model = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 10))
    config = TrainConfig(steps=3000, batch_size=128, lr=0.05, weight_decay=0.0, augment=False)
    return train(model, data, config, seed=0).accuracy


LEGACY = "unclipped"  # rows logged before rows carried the preset revision (2026-12-01)


def load(path: Path, preset: str, revision: str | None = None) -> dict:
    """The log's rows of ``preset`` at ``revision`` (None: any revision)."""
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["preset"] != preset:
                continue
            if revision is None or row.get("revision", LEGACY) == revision:
                rows[(row["layer"], row["arch"], row["seed"])] = row
    return rows


def table(rows: dict, layers: dict, preset: Preset, archs: list[str]) -> list[str]:
    anchors = preset.anchor_names

    def cell(layer, arch):
        values = [r["accuracy"] for (n, a, _), r in rows.items() if n == layer and a == arch]
        return statistics.fmean(values) if values else float("nan")

    def anchor_mean(layer):
        return statistics.fmean(cell(layer, a) for a in anchors)

    base = anchor_mean("bn_relu")
    out = [
        f"| layer | kind | formula | {' | '.join(archs)} | anchor mean | gap to BN-ReLU | "
        "chain | CPU-s | target |",
        "|---|---|---|" + "---:|" * (len(archs) + 3) + "---|---|",
    ]
    for name, (kind, graph, _) in layers.items():
        if not any(k[0] == name for k in rows):
            continue
        chain = rows.get((name, "chain", 0), {})
        verdict = "accepted" if chain.get("accepted") else chain.get("stage", "–")
        cpu = sum(r["cpu_s"] for (n, a, s), r in rows.items() if n == name and a != "chain")
        seeds = len({s for (n, a, s) in rows if n == name and a != "chain"})
        gap = anchor_mean(name) - base
        out.append(
            f"| {name} | {kind} | `{graph.formula()[:48]}` | "
            + " | ".join(f"{100 * cell(name, a):.1f}" for a in archs)
            + f" | {100 * anchor_mean(name):.1f} | {100 * gap:+.1f} | {verdict} | "
            f"{cpu / max(1, seeds):.0f} | {target(name, kind, graph, gap, chain)} |"
        )
    noise = []
    for arch in archs:
        values = [r["accuracy"] for (n, a, _), r in rows.items() if n == "bn_relu" and a == arch]
        noise.append(f"{arch} {100 * statistics.stdev(values):.2f}" if len(values) > 1 else "")
    seeds = len({s for (n, a, s) in rows if n == "bn_relu" and a != "chain"})
    out += ["", f"BN-ReLU seed std (points, {seeds} seeds): " + ", ".join(n for n in noise if n)]
    out += ["", *targets(rows, layers, preset, cell, anchor_mean)]
    probe = rows.get(("linear_probe", "pixels", 0))
    if probe:
        out.append(f"Linear probe on the pixels (3000 steps): {100 * probe['accuracy']:.1f} %.")
    return out


def targets(rows: dict, layers: dict, preset: Preset, cell, anchor_mean) -> list[str]:
    """One line per issue-13 target, with the measured figure."""
    base = anchor_mean("bn_relu")
    lines = []
    verdicts = [
        target(n, k, g, anchor_mean(n) - base, rows.get((n, "chain", 0), {}))
        for n, (k, g, _) in layers.items()
        if k != "known" and any(key[0] == n for key in rows)
    ]
    met = sum(v.startswith("met") for v in verdicts)
    rejected = sum(v == "met (rejected)" for v in verdicts)
    lines.append(
        f"- Layers that do not normalise: {met} of {len(verdicts)} met "
        f"({rejected} rejected by the chain, the rest by the gap)."
    )
    for name in ("bn_silu", "evonorm_b0", "gn_relu"):
        if any(k[0] == name for k in rows):
            gap = 100 * (anchor_mean(name) - base)
            lines.append(
                f"- {name}: {gap:+.2f} points vs BN-ReLU on the anchor mean: "
                f"{target(name, 'known', layers[name][1], gap / 100, {})}."
            )
    stds = []
    for arch in preset.anchor_names:
        values = [r["accuracy"] for (n, a, _), r in rows.items() if n == "bn_relu" and a == arch]
        stds.append((arch, 100 * statistics.stdev(values) if len(values) > 1 else float("nan")))
    worst = max(v for _, v in stds)
    lines.append(
        "- BN-ReLU seed std per anchor: "
        + ", ".join(f"{a} {v:.2f}" for a, v in stds)
        + f": {'met' if worst <= 0.5 else 'missed'} (<= 0.50)."
    )
    per_seed = {}
    for (n, a, seed), r in rows.items():
        if n == "bn_relu" and a != "chain":
            per_seed.setdefault(seed, []).append(r["accuracy"])
    means = [statistics.fmean(v) for v in per_seed.values() if len(v) > 1]
    if len(means) > 1:
        lines.append(
            f"- BN-ReLU seed std of the mean over all networks: "
            f"{100 * statistics.stdev(means):.2f} points (Preset.seed_std)."
        )
    names = ("bn_relu", "bn_silu", "evonorm_b0", "evonorm_s0", "gn_relu")
    walls = {
        name: sum(
            r.get("wall_s", 0.0)
            for (n, a, seed), r in rows.items()
            if n == name and seed == 0 and a in preset.anchor_names
        )
        for name in names
    }
    shown = ", ".join(f"{n} {w:.0f} s" for n, w in walls.items())
    lines.append(f"- Three-anchor training, seed 0, wall (target <= 150 s): {shown}.")
    return lines


def target(name: str, kind: str, graph: LayerGraph, gap: float, chain: dict) -> str:
    """Met / missed for this row's target (known layers: their own)."""
    if name == "bn_relu":
        return "reference"
    if name in ("bn_silu", "evonorm_b0"):
        return "met" if gap >= -0.005 else "missed (>= -0.5)"
    if name == "gn_relu":
        return "met" if gap < 0 else "missed (below BN-ReLU)"
    if kind == "known":
        return ""
    rejected_by = ("fingerprint", "stability", "quality")  # the chain stages that judge a layer
    if chain and not chain.get("accepted") and chain.get("stage") in rejected_by:
        return "met (rejected)"
    squash = any(n.op in ("tanh", "sigmoid") for n in graph.prune().nodes)
    needed = -0.03 if squash else -0.05
    return "met" if gap <= needed else f"missed (<= {100 * needed:+.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--log", type=Path, help="default: results/proxy_fidelity_PRESET.jsonl")
    parser.add_argument("--generated", type=int, default=20, help="random non-normalising layers")
    parser.add_argument("--gen-seed", type=int, default=0)
    parser.add_argument("--archs", nargs="+", help="default: anchors + resnet_basic vgg")
    parser.add_argument("--only", nargs="+", help="train only these layers this sitting")
    parser.add_argument("--compare", type=Path, help="another preset's log: rank correlation")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--revision",
        help=f"print the table of rows logged under this preset revision (e.g. {LEGACY!r}) "
        "instead of measuring the current one",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = get_preset(args.preset)
    log = args.log or Path(f"results/proxy_fidelity_{preset.name}.jsonl")
    archs = args.archs or [*preset.anchor_names, "resnet_basic", "vgg"]
    layers = reference_set(args.generated, args.gen_seed)
    rows = load(log, preset.name, args.revision or preset.revision)
    if args.revision:
        print("\n".join(table(rows, layers, preset, archs)))
        return
    data = preset.load_data()  # one split for every layer and seed

    def keep(row: dict) -> None:
        rows[(row["layer"], row["arch"], row["seed"])] = row
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(json.dumps({"preset": preset.name, "revision": preset.revision, **row}) + "\n")

    if ("linear_probe", "pixels", 0) not in rows:
        keep(
            {
                "layer": "linear_probe",
                "arch": "pixels",
                "seed": 0,
                "accuracy": linear_probe(preset, data),
                "cpu_s": 0.0,
            }
        )
    chain = RejectionChain(preset, data, seed=0)
    for name, (_, graph, seeds) in layers.items():
        if args.only and name not in args.only:
            continue
        if (name, "chain", 0) not in rows:
            cpu = time.process_time()
            verdict = chain.run(graph)
            keep(
                {
                    "layer": name,
                    "arch": "chain",
                    "seed": 0,
                    "accepted": verdict.accepted,
                    "stage": verdict.stage,
                    "reason": verdict.reason,
                    "cpu_s": round(time.process_time() - cpu, 1),
                }
            )
            print(f"{name:12} chain: {verdict.stage} {verdict.reason}", flush=True)
        for seed in range(seeds):
            for arch in archs:
                if (name, arch, seed) in rows:
                    continue
                cpu = time.process_time()
                result = train_layer(graph, arch, preset, data, preset.train, seed)
                keep(
                    {
                        "layer": name,
                        "arch": arch,
                        "seed": seed,
                        "accuracy": result.accuracy,
                        "cpu_s": round(time.process_time() - cpu, 1),
                        "wall_s": round(result.seconds, 1),
                        "reason": result.reason,
                    }
                )
                print(
                    f"{name:12} {arch:16} s{seed} {result.accuracy:7.2%} "
                    f"{result.seconds:6.1f} s {result.reason}",
                    flush=True,
                )
    print(f"\n## Proxy fidelity: `{preset.name}`\n")
    print("\n".join(table(rows, layers, preset, archs)))
    if args.compare:
        last = json.loads(args.compare.read_text().splitlines()[-1])
        other_preset, other_revision = last["preset"], last.get("revision", LEGACY)
        other = load(args.compare, other_preset, other_revision)  # its latest revision
        chosen = [
            n
            for n, (kind, _, _) in layers.items()
            if kind == "known" or other.get((n, "chain", 0), {}).get("accepted")
        ]

        def mean(rows_, name):
            values = [
                r["accuracy"]
                for (n, a, _), r in rows_.items()
                if n == name and a in preset.anchor_names
            ]
            return statistics.fmean(values) if values else None

        pairs = [(mean(rows, n), mean(other, n)) for n in chosen]
        pairs = [p for p in pairs if None not in p]
        rho = stats.spearmanr(*zip(*pairs, strict=True)).statistic
        print(
            f"\nSpearman vs {other_preset} (revision {other_revision}), {len(pairs)} reference "
            f"+ accepted layers: {rho:.3f}"
        )


if __name__ == "__main__":
    main()
