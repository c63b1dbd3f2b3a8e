"""Milliseconds per fingerprint over 300 random B-space graphs (two passes; the second, with
the layer code already generated, is the one quoted). Run it under two source trees to compare
fingerprint versions side by side:

    PYTHONPATH=/tmp/old/src .venv/bin/python bench/fingerprint_cost.py
    .venv/bin/python bench/fingerprint_cost.py
"""

import contextlib
import time

import numpy as np

from evonorm.reject import fingerprint
from evonorm.space import random_graph


def main() -> None:
    graphs = [random_graph(np.random.default_rng(i), "B") for i in range(300)]
    for label in ("first pass", "second pass"):
        start = time.perf_counter()
        for graph in graphs:
            # a graph the chain would reject counts its time all the same
            with contextlib.suppress(Exception):
                fingerprint(graph)
        print(
            f"{label}: {1000 * (time.perf_counter() - start) / len(graphs):.2f} ms per fingerprint"
        )


if __name__ == "__main__":
    main()
