"""The stability statistic (worst-case gradient norm, evonorm.reject.stability) of the nine
known layers and of deliberately explosive graphs, on each anchor of a preset.

    .venv/bin/python bench/stability_known.py [--preset local] [--seeds 0 1]
"""

from __future__ import annotations

import argparse

from evonorm import KNOWN_LAYERS, LayerGraph
from evonorm.proxy.presets import get_preset
from evonorm.proxy.score import seeded_model
from evonorm.reject import worst_case_grad_norm
from evonorm.space import Node

EXPLOSIVE = {
    "exp(exp(x))": (("exp", 0), ("exp", 4)),
    "x / (x - x)": (("neg", 0), ("add", 0, 4), ("div", 0, 5)),
    "exp(x)*exp(x)": (("exp", 0), ("mul", 4, 4)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    preset = get_preset(args.preset)
    data = preset.load_data()
    graphs = dict(KNOWN_LAYERS)
    for formula, nodes in EXPLOSIVE.items():
        graphs[formula] = LayerGraph(tuple(Node(op, tuple(ins)) for op, *ins in nodes))
    limit = preset.stability.max_grad_norm
    print(f"preset {preset.name}: {preset.stability}")
    print(f"{'layer':16} " + " ".join(f"{a:>16}" for a in preset.anchor_names) + "  verdict")
    for name, graph in graphs.items():
        worst = {}
        for arch in preset.anchor_names:
            worst[arch] = max(
                worst_case_grad_norm(seeded_model(graph, arch, preset, s), data, preset.stability)
                for s in args.seeds
            )
        verdict = "pass" if all(v <= limit for v in worst.values()) else "reject"
        cells = " ".join(f"{worst[a]:16.3g}" for a in preset.anchor_names)
        print(f"{name:16} {cells}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
