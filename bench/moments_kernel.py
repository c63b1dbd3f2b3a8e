"""Per-(sample, channel) mean and variance over (H, W), forward + backward: ``torch.var_mean``
against evonorm's kernel (two vectorised passes and a one-op backward), side by side.

    .venv/bin/python bench/moments_kernel.py [--repeats 30]

Prints microseconds per call for each shape and the speed-up (var_mean time / ours).
"""

from __future__ import annotations

import argparse
import time

import torch

from evonorm.compile.kernels import hw_moments


def var_mean(a: torch.Tensor):
    var, mean = torch.var_mean(a, (2, 3), correction=0, keepdim=True)
    return mean, var


def timed(fn, x: torch.Tensor, repeats: int) -> float:
    def once():
        mean, var = fn(x)
        (mean.sum() + var.sum()).backward()

    for _ in range(3):
        once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU")
    print(f"{'shape (N, C, H, W)':24} {'var_mean µs':>12} {'evonorm µs':>11} {'speed-up':>9}")
    for shape in [
        (128, 96, 14, 14),
        (128, 16, 14, 14),
        (128, 144, 7, 7),
        (128, 240, 4, 4),
        (128, 384, 2, 2),
    ]:
        x = torch.randn(shape, requires_grad=True)
        ref = timed(var_mean, x, args.repeats)
        ours = timed(hw_moments, x, args.repeats)
        print(f"{shape!s:24} {ref:12.0f} {ours:11.0f} {ref / ours:8.2f}x")


if __name__ == "__main__":
    main()
