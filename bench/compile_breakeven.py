"""When does compiling a whole proxy network (`torch.compile`) pay for itself?

For each anchor of a preset and each layer: per-step time of a training step eager and
compiled (median of timed steps after warm-up), the one-off compile time (first compiled step
minus one compiled step), and the break-even number of steps = compile / (eager - compiled).

    .venv/bin/python bench/compile_breakeven.py [--preset local] [--layers bn_relu evonorm_b0]
        [--steps 12]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from evonorm import known_layer
from evonorm.proxy.data import load_data
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import seeded_model


def step_times(net, params, data, steps: int, batch: int) -> list[float]:
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(steps):
        x, y = data.batch(batch, generator)
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--layers", nargs="+", default=["bn_relu", "evonorm_b0"])
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    preset = get_preset(args.preset)
    data = load_data(preset.dataset, search_size=1000, rerank_size=1000, fit_size=10000)
    batch = preset.train.batch_size
    print(f"preset {preset.name}, batch {batch}, {torch.get_num_threads()} threads")
    print(
        f"{'layer':12} {'arch':16} {'eager s/step':>12} {'compiled':>9} {'compile s':>9} "
        f"{'break-even steps':>16}"
    )
    for layer in args.layers:
        graph = known_layer(layer)
        for arch in preset.anchor_names:
            model = seeded_model(graph, arch, preset, seed=0)
            eager = statistics.median(
                step_times(model, model.parameters(), data, args.steps, batch)[2:]
            )
            model = seeded_model(graph, arch, preset, seed=0)
            compiled_net = torch.compile(model)
            times = step_times(compiled_net, model.parameters(), data, args.steps, batch)
            compiled = statistics.median(times[2:])
            compile_s = times[0] + times[1] - 2 * compiled  # the first call compiles train mode
            gain = eager - compiled
            even = f"{compile_s / gain:16.0f}" if gain > 0 else f"{'never':>16}"
            print(
                f"{layer:12} {arch:16} {eager:12.3f} {compiled:9.3f} {compile_s:9.1f} {even}",
                flush=True,
            )


if __name__ == "__main__":
    main()
