"""The main job at this stage: sample random layers, compile them beside the known ones and give
each a short real training run on Fashion-MNIST.

For every layer: build a small CNN whose three norm-act slots are the layer, train it for a few
SGD steps on the training split, then report its formula, whether forward and backward stayed
finite, the time per step and the accuracy on a held-out slice of the training set (the test
split is never used). This is a first look at the search space — most random layers do not
train — not yet a search.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from evonorm.compile import build_layer
from evonorm.proxy.data import load_fashion_mnist
from evonorm.space import KNOWN_LAYERS, LayerGraph, random_graph

HELD_OUT = 2000  # last images of the training split, never trained on


@dataclass(frozen=True)
class Outcome:
    name: str
    space: str
    formula: str
    live_ops: int
    finite: bool
    ms_per_step: float
    final_loss: float
    held_out_accuracy: float


def small_cnn(norm_act) -> nn.Module:
    """conv(1→16), norm-act, conv(16→32, /2), norm-act, conv(32→64, /2), norm-act, pool, fc."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        norm_act(16),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        norm_act(32),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False),
        norm_act(64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def evaluate(
    name: str, graph: LayerGraph, data: tuple[torch.Tensor, ...], steps: int, batch: int, seed: int
) -> Outcome:
    train_x, train_y, val_x, val_y = data
    torch.manual_seed(seed)
    model = small_cnn(functools.partial(build_layer, graph))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    generator = torch.Generator().manual_seed(seed)
    finite, loss_value = True, float("nan")
    start = time.perf_counter()
    done = 0
    while done < steps:
        done += 1
        index = torch.randint(len(train_x), (batch,), generator=generator)
        loss = nn.functional.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads_ok = all(
            torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None
        )
        loss_value = float(loss.detach())
        if not (math.isfinite(loss_value) and grads_ok):
            finite = False
            break
        optimizer.step()
    ms = (time.perf_counter() - start) / max(done, 1) * 1e3
    accuracy = 0.0
    if finite:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(chunk) for chunk in val_x.split(500)])
        accuracy = float((logits.argmax(1) == val_y).float().mean())
    return Outcome(
        name=name,
        space=graph.space,
        formula=graph.formula(),
        live_ops=len(graph.prune().nodes),
        finite=finite,
        ms_per_step=round(ms, 2),
        final_loss=round(loss_value, 4),
        held_out_accuracy=round(accuracy, 4),
    )


def load_data() -> tuple[torch.Tensor, ...]:
    images, labels = load_fashion_mnist("train")
    x = (images.float().unsqueeze(1) / 255.0 - 0.2860) / 0.3530  # Fashion-MNIST mean/std
    return x[:-HELD_OUT], labels[:-HELD_OUT], x[-HELD_OUT:], labels[-HELD_OUT:]


def run(samples: int, seed: int, steps: int, batch: int, out: Path, echo=print) -> list[Outcome]:
    data = load_data()
    rng = np.random.default_rng(seed)
    layers: list[tuple[str, LayerGraph]] = list(KNOWN_LAYERS.items())
    layers += [(f"random_{i}", random_graph(rng, "BS"[i % 2])) for i in range(samples)]
    out.mkdir(parents=True, exist_ok=True)
    echo(f"{'layer':12} {'space':5} {'ops':>3} {'finite':6} {'ms/step':>8} {'acc':>6}  formula")
    outcomes = []
    for name, graph in layers:
        o = evaluate(name, graph, data, steps, batch, seed)
        outcomes.append(o)
        echo(
            f"{o.name:12} {o.space:5} {o.live_ops:3d} {o.finite!s:6} {o.ms_per_step:8.1f} "
            f"{o.held_out_accuracy:6.1%}  {o.formula}"
        )
        (out / "graphs").mkdir(exist_ok=True)
        (out / "graphs" / f"{name}.json").write_text(graph.to_json(indent=2) + "\n")
    (out / "results.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    trained = [o for o in outcomes if o.name.startswith("random") and o.held_out_accuracy >= 0.5]
    echo(
        f"\n{len(trained)} of {samples} random layers reached 50 % held-out accuracy in {steps} "
        f"steps; results and graph files in {out}/"
    )
    return outcomes
