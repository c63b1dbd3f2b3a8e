"""Calibrate a preset: train known layers on each anchor with the preset's full budget and print
held-out accuracy, parameter count and wall time per (layer, architecture, seed).

    .venv/bin/python bench/calibrate_preset.py --preset local [--layers bn_relu evonorm_b0]
        [--seeds 0] [--arch resnet ...] [--steps N]

The ``local`` preset targets: BN-ReLU >= 83 % on every anchor and a full three-anchor evaluation
of one candidate within about 120 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from evonorm import known_layer
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import seeded_model, train_layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--layers", nargs="+", default=["bn_relu"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--arch", nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="override the training steps")
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="override the preset learning rate (an architecture with its own lr keeps it)",
    )
    parser.add_argument("--augment", choices=["on", "off"], default=None)
    parser.add_argument("--compile", choices=["on", "off"], default=None)
    parser.add_argument("--lone-norm", choices=["affine", "batchnorm"], default=None)
    parser.add_argument("--zero-init-residual", choices=["on", "off"], default=None)
    parser.add_argument("--stem-stride", type=int, choices=[1, 2], default=None)
    parser.add_argument(
        "--shape",
        default="",
        help="ArchConfig overrides, e.g. width=0.25,depth=0.2,lr=0.05",
    )
    args = parser.parse_args()
    preset = get_preset(args.preset)
    shape = {
        "lone_norm": args.lone_norm,
        "zero_init_residual": None
        if args.zero_init_residual is None
        else args.zero_init_residual == "on",
        "stem_stride": args.stem_stride,
    }
    shape = {k: v for k, v in shape.items() if v is not None}
    for item in filter(None, args.shape.split(",")):
        key, _, value = item.partition("=")
        shape[key.strip()] = float(value)
    anchors = tuple((name, dataclasses.replace(cfg, **shape)) for name, cfg in preset.anchors)
    preset = dataclasses.replace(preset, anchors=anchors)
    overrides = {
        "steps": args.steps,
        "lr": args.lr,
        "augment": None if args.augment is None else args.augment == "on",
        "compile": None if args.compile is None else args.compile == "on",
    }
    config = dataclasses.replace(
        preset.train, **{k: v for k, v in overrides.items() if v is not None}
    )
    data = preset.load_data()
    print(
        f"preset {preset.name}, shape overrides {shape}, {config}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'layer':12} {'arch':16} {'seed':>4} {'params':>8} {'acc':>7} {'seconds':>8}")
    for layer in args.layers:
        graph = known_layer(layer)
        for arch in args.arch or preset.anchor_names:
            for seed in args.seeds:
                model = seeded_model(graph, arch, preset, seed)
                params = sum(p.numel() for p in model.parameters())
                start = time.perf_counter()
                result = train_layer(graph, arch, preset, data, config, seed)
                seconds = time.perf_counter() - start
                note = f"  ({result.reason})" if result.reason else ""
                print(
                    f"{layer:12} {arch:16} {seed:4d} {params:8d} {result.accuracy:7.2%} "
                    f"{seconds:8.1f}{note}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
