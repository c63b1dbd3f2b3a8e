"""Which proxy recipe makes a layer pay for not normalising? Train a few probe layers (known
layers and layers that do not normalise) under candidate recipes of the ``local`` preset and
print their accuracy per anchor side by side; the numbers that chose the new ``local`` preset
(docs/proxy.md).

    .venv/bin/python bench/proxy_design.py --log results/proxy_design.jsonl
    .venv/bin/python bench/proxy_design.py --variants own own_lr05 --layers bn_relu identity

Every training appends one row to the log; a rerun skips what the log holds (resumable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

import torch

from evonorm import LayerGraph, known_layer
from evonorm.proxy.architectures import ArchConfig
from evonorm.proxy.presets import Preset, get_preset
from evonorm.proxy.score import train_layer
from proxy_fidelity import LISTED, graph_of  # bench/, beside this script


def probe_layers() -> dict[str, LayerGraph]:
    """Known layers and the layers that should lose: they do not normalise."""
    names = ("bn_relu", "bn_silu", "gn_relu", "evonorm_b0", "evonorm_s0")
    layers = {n: known_layer(n) for n in names}
    layers.update({n: graph_of(LISTED[n]) for n in ("identity", "tanh")})
    layers["relu"] = graph_of([("max", 0, 1)])  # max(x, 0)
    layers["dyt"] = graph_of(LISTED["dyt"])  # tanh(v1 * x)
    return layers


def _variant(
    base: Preset,
    name: str,
    *,
    arch: dict | None = None,
    train: dict | None = None,
    per_arch: dict | None = None,
) -> Preset:
    """``base`` with every anchor's shape changed by ``arch`` (and ``per_arch[anchor]``) and its
    training run by ``train``."""
    anchors = tuple(
        (a, dataclasses.replace(c, **(arch or {}), **(per_arch or {}).get(a, {})))
        for a, c in base.anchors
    )
    return dataclasses.replace(
        base, name=name, anchors=anchors, train=dataclasses.replace(base.train, **(train or {}))
    )


def old_local() -> Preset:
    """``local`` as it was before issue 13 (2026-11-30): BatchNorm at every lone norm, ResNet
    width 1/16, MobileNetV2 at lr 0.1, EfficientNet-B0 at 0.05."""
    shape = {"depth": 0.34, "stem_stride": 2, "in_channels": 1, "lone_norm": "batchnorm"}
    anchors = (
        ("resnet", ArchConfig(**shape, width=0.0625)),
        ("mobilenet_v2", ArchConfig(**shape, width=0.25)),
        ("efficientnet_b0", ArchConfig(**{**shape, "depth": 0.2}, width=0.25, lr=0.05)),
    )
    return dataclasses.replace(get_preset("local"), name="old_local", anchors=anchors)


def variants() -> dict[str, Preset]:
    local, new = old_local(), get_preset("local")
    own = {"lone_norm": "own"}
    map4 = {**own, "min_map": 4, "image_size": 28}
    lr02 = {
        "resnet": {"width": 0.125, "lr": 0.1},
        "mobilenet_v2": {"lr": 0.02},
        "efficientnet_b0": {"lr": 0.02},
    }
    lr04 = {
        "resnet": {"width": 0.125, "lr": 0.2},
        "mobilenet_v2": {"lr": 0.04},
        "efficientnet_b0": {"lr": 0.04},
    }
    low = {"resnet": {"lr": 0.05}, "mobilenet_v2": {"lr": 0.05}, "efficientnet_b0": {"lr": 0.025}}
    return {
        "bn_lone": local,  # the old local: BatchNorm at every lone norm
        "own": _variant(local, "own", arch=own),
        "own_lr05": _variant(
            local, "own_lr05", arch=own, per_arch=low, train={"warmup_fraction": 0.1}
        ),
        "own_s1": _variant(local, "own_s1", arch={**own, "stem_stride": 1}),
        # the mobile networks at lower learning rates, the ResNet twice as wide
        "own_lr02": _variant(local, "own_lr02", arch=own, per_arch=lr02),
        "own_lr04": _variant(local, "own_lr04", arch=own, per_arch=lr04),
        # the new local with the global gradient norm clipped (EvoNorm-B0 diverges early there)
        "local_clip2": _variant(new, "local_clip2", train={"clip_grad_norm": 2.0}),
        "local_clip5": _variant(new, "local_clip5", train={"clip_grad_norm": 5.0}),
        # no feature map below 4x4 (the reference strides end at 1x1 on 28x28 images)
        "own_map4": _variant(local, "own_map4", arch=map4),
        "own_map4_lr05": _variant(
            local, "own_map4_lr05", arch=map4, per_arch=low, train={"warmup_fraction": 0.1}
        ),
    }


def main() -> None:
    all_variants, layers = variants(), probe_layers()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", default=["own", "own_lr05"], choices=sorted(all_variants)
    )
    parser.add_argument("--layers", nargs="+", default=list(layers), choices=sorted(layers))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--log", type=Path, default=Path("results/proxy_design.jsonl"))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    done = {}
    if args.log.exists():
        for line in args.log.read_text().splitlines():
            row = json.loads(line)
            done[(row["variant"], row["layer"], row["arch"], row["seed"])] = row
    data = get_preset("local").load_data()  # one split for every variant and seed
    for variant in args.variants:
        preset = all_variants[variant]
        for layer in args.layers:
            for seed in args.seeds:
                for arch in preset.anchor_names:
                    key = (variant, layer, arch, seed)
                    if key in done:
                        continue
                    result = train_layer(layers[layer], arch, preset, data, preset.train, seed)
                    row = {
                        "variant": variant,
                        "layer": layer,
                        "arch": arch,
                        "seed": seed,
                        "accuracy": result.accuracy,
                        "seconds": round(result.seconds, 1),
                        "reason": result.reason,
                    }
                    done[key] = row
                    args.log.parent.mkdir(parents=True, exist_ok=True)
                    with args.log.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        f"{variant:10} {layer:11} {arch:16} s{seed} {result.accuracy:7.2%} "
                        f"{result.seconds:6.1f} s {result.reason}",
                        flush=True,
                    )
    print(
        f"\n{'variant':10} {'layer':11} "
        + " ".join(f"{a:>15}" for a in preset.anchor_names)
        + "    mean"
    )
    for variant in args.variants:
        for layer in args.layers:
            accs = []
            for arch in all_variants[variant].anchor_names:
                rows = [done[k] for k in done if k[:3] == (variant, layer, arch)]
                accs.append(statistics.fmean(r["accuracy"] for r in rows) if rows else float("nan"))
            cells = " ".join(f"{100 * a:15.1f}" for a in accs)
            print(f"{variant:10} {layer:11} {cells} {100 * statistics.fmean(accs):7.1f}")


if __name__ == "__main__":
    main()
