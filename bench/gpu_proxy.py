"""Wall time of one `paper`-preset candidate on a GPU: the full evaluation (three anchors,
the preset's steps) of EvoNorm-B0 and of BN-ReLU, with and without torch.compile.

    .venv/bin/python bench/gpu_proxy.py [--layers evonorm_b0 bn_relu] [--steps N] [--synthetic]

CIFAR-10 is used when torchvision finds it (EVONORM_DATA_DIR); with --synthetic (or when it is
missing) random CIFAR-shaped data stands in: the timing does not depend on the pixels, the
accuracy then means nothing and is not printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from evonorm import known_layer
from evonorm.proxy.data import DATASETS, DataError, ProxyData
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import train_layer


def synthetic(device: torch.device, n_fit: int = 45000, n_eval: int = 5000) -> ProxyData:
    spec = DATASETS["cifar10"]
    g = torch.Generator().manual_seed(0)

    def images(n):
        return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8).to(device)

    def labels(n):
        return torch.randint(0, 10, (n,), generator=g).to(device)

    return ProxyData(
        spec=spec,
        images={"fit": images(n_fit), "search": images(n_eval), "rerank": images(n_eval)},
        labels={"fit": labels(n_fit), "search": labels(n_eval), "rerank": labels(n_eval)},
        device=device,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", default=["evonorm_b0", "bn_relu"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu_proxy.py needs a CUDA GPU; none is visible here")
    device = torch.device("cuda")
    preset = get_preset("paper")
    data, real = None, not args.synthetic
    if real:
        try:
            data = preset.load_data(device=device)
        except DataError as exc:
            print(f"CIFAR-10 unavailable ({exc}); using synthetic data")
            real = False
    data = data or synthetic(device)
    print(
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"{'CIFAR-10' if real else 'synthetic CIFAR-shaped data'}"
    )
    for compiled in (False, True):
        config = dataclasses.replace(preset.train, compile=compiled)
        if args.steps:
            config = dataclasses.replace(config, steps=args.steps)
        for layer in args.layers:
            total = 0.0
            for arch in preset.anchor_names:
                torch.cuda.synchronize()
                start = time.perf_counter()
                result = train_layer(known_layer(layer), arch, preset, data, config, seed=0)
                torch.cuda.synchronize()
                seconds = time.perf_counter() - start
                total += seconds
                acc = f"{result.accuracy:.2%}" if real else "-"
                print(
                    f"{layer:12} {arch:16} compile={compiled!s:5} {config.steps} steps "
                    f"{seconds:7.1f} s  acc {acc} {result.reason}",
                    flush=True,
                )
            print(f"{layer:12} three anchors, compile={compiled}: {total:.1f} s")


if __name__ == "__main__":
    main()
