"""Forward+backward speed of compiled EvoNorm layers against hand-written ones and BN-ReLU.

Train mode, float32, CPU, input N=32 C=64 H=W=32. Every contender is timed in the same run,
interleaved round by round, and reported as a ratio to BatchNorm2d+ReLU (median over rounds).

    .venv/bin/python bench/layer_speed.py [--rounds 40] [--iters 8] [--threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import evonorm
from references import EvoNormB0Reference, EvoNormS0Reference


def step_seconds(layer: nn.Module, x: torch.Tensor, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        y = layer(x)
        y.sum().backward()
    return (time.perf_counter() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    channels = 64
    x = torch.randn(32, channels, 32, 32, requires_grad=True)

    contenders: dict[str, nn.Module] = {
        "BatchNorm2d+ReLU": nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU()),
        "BatchNorm2d+SiLU": nn.Sequential(nn.BatchNorm2d(channels), nn.SiLU()),
        "B0 hand-written": EvoNormB0Reference(channels),
        "B0 compiled": evonorm.build_layer(evonorm.known_layer("evonorm_b0"), channels),
        "S0 hand-written": EvoNormS0Reference(channels),
        "S0 compiled": evonorm.build_layer(evonorm.known_layer("evonorm_s0"), channels),
    }
    compile_seconds = {}
    for name in ("evonorm_b0", "evonorm_s0"):
        fused = evonorm.build_layer(evonorm.known_layer(name), channels, fuse=True)
        start = time.perf_counter()
        fused(x).sum().backward()  # first call compiles forward and backward
        compile_seconds[name] = time.perf_counter() - start
        contenders[f"{name[-2:].upper()} fused (torch.compile)"] = fused
    for layer in contenders.values():
        layer.train()
        step_seconds(layer, x, 3)  # warm-up

    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, layer in contenders.items():
            times[name].append(step_seconds(layer, x, args.iters))

    base = statistics.median(times["BatchNorm2d+ReLU"])
    hand = {"B0": statistics.median(times["B0 hand-written"])}
    hand["S0"] = statistics.median(times["S0 hand-written"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input {tuple(x.shape)}")
    print(f"{'layer':32} {'ms/step':>8} {'× BN-ReLU':>10} {'× hand-written':>15}")
    for name, samples in times.items():
        median = statistics.median(samples)
        family = name[:2]
        vs_hand = f"{median / hand[family]:.2f}" if family in hand else "-"
        print(f"{name:32} {median * 1e3:8.2f} {median / base:10.2f} {vs_hand:>15}")
    for name, seconds in compile_seconds.items():
        print(f"one-off compile of {name} (forward+backward): {seconds:.1f} s")


if __name__ == "__main__":
    main()
