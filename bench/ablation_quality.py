"""How many quality steps does the `ablation` preset's chain need? With 20 steps of batch 32
(the first ablation revision of issue 13) BN-ReLU itself stays at chance on MobileNetV2 and the
chain rejects every layer. This runs the rejection chain of `ablation` with other quality step
counts on layers that must pass (the known normalisers) and layers that must not (identity,
tanh, and `x + x + mean_layer(x)`, which only stability catches at `local`), one row per layer
and setting appended to ``results/ablation_quality.jsonl``.

    .venv/bin/python bench/ablation_quality.py --steps 40 60 100
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from evonorm import known_layer
from evonorm.proxy.presets import get_preset
from evonorm.reject import RejectionChain
from proxy_fidelity import LISTED, graph_of

MUST_PASS = ("bn_relu", "bn_silu", "evonorm_b0", "evonorm_s0")
MUST_FAIL = {
    "identity": LISTED["identity"],
    "tanh": LISTED["tanh"],
    "gen01": [("add", 0, 0), ("mean_layer", 0), ("add", 4, 5)],  # x + x + mean_layer(x)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[40, 60, 100])
    parser.add_argument("--log", type=Path, default=Path("results/ablation_quality.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    base = get_preset("ablation")
    data = base.load_data(seed=0)
    layers = {name: known_layer(name) for name in MUST_PASS}
    layers |= {name: graph_of(nodes) for name, nodes in MUST_FAIL.items()}
    for steps in args.steps:
        preset = dataclasses.replace(base, quality=dataclasses.replace(base.quality, steps=steps))
        chain = RejectionChain(preset, data, seed=0)
        for name, graph in layers.items():
            cpu = time.process_time()
            verdict = chain.run(graph)
            row = {
                "quality_steps": steps,
                "layer": name,
                "must": "pass" if name in MUST_PASS else "fail",
                "accepted": verdict.accepted,
                "stage": verdict.stage,
                "reason": verdict.reason,
                "cpu_s": round(time.process_time() - cpu, 1),
            }
            with args.log.open("a") as log:
                log.write(json.dumps(row) + "\n")
            print(f"{steps:4} {name:12} {verdict.stage:10} {verdict.reason}", flush=True)


if __name__ == "__main__":
    main()
