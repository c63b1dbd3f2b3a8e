"""Random layer graphs and the paper's 3-step mutation. Every draw uses an explicit
``numpy.random.Generator``, so a seed fixes the result.

- :func:`random_graph` adds intermediate nodes one at a time (``num_nodes - 4`` of them, 10 by
  default), each with an op drawn uniformly from the space and inputs drawn uniformly from all
  earlier nodes; the output is the last node. Nodes the output does not reach stay in the graph
  as dead nodes, so the effective size varies and later mutations can revive them. A draw whose
  output does not depend on ``x`` is discarded and drawn again.
- :func:`mutate` (1) picks an intermediate node uniformly, (2) replaces its op by one drawn
  uniformly, (3) re-draws its inputs uniformly among the nodes before it, which keeps the graph
  acyclic. A draw that reproduces the node or makes the output independent of ``x`` is drawn
  again, so the child always differs from its parent in exactly one node.
"""

from __future__ import annotations

import numpy as np

from evonorm.space.graph import (
    DEFAULT_MAX_NODES,
    NUM_INITIAL,
    GraphError,
    LayerGraph,
    Node,
)
from evonorm.space.ops import OPS, SPACES

_MAX_ATTEMPTS = 10_000  # a valid draw needs a handful; this bound only guards against a bug


def _draw_node(rng: np.random.Generator, space: str, index: int) -> Node:
    names = SPACES[space]
    op = names[int(rng.integers(len(names)))]
    inputs = tuple(int(j) for j in rng.integers(0, index, size=OPS[op].arity))
    return Node(op, inputs)


def random_graph(
    rng: np.random.Generator, space: str = "B", *, num_nodes: int = DEFAULT_MAX_NODES
) -> LayerGraph:
    """A uniformly drawn valid graph with ``num_nodes`` nodes in total (initial ones included)."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {sorted(SPACES)}, got {space!r}")
    if not isinstance(num_nodes, int) or num_nodes <= NUM_INITIAL:
        raise ValueError(f"num_nodes must be an integer above {NUM_INITIAL}, got {num_nodes!r}")
    for _ in range(_MAX_ATTEMPTS):
        nodes = tuple(_draw_node(rng, space, i) for i in range(NUM_INITIAL, num_nodes))
        try:
            return LayerGraph(nodes, space=space, max_nodes=max(num_nodes, DEFAULT_MAX_NODES))
        except GraphError:
            continue  # output does not depend on x: draw again
    raise RuntimeError(f"no valid graph in {_MAX_ATTEMPTS} draws")  # pragma: no cover


def mutate(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph:
    """A child of ``graph`` that differs from it in exactly one intermediate node."""
    for _ in range(_MAX_ATTEMPTS):
        index = NUM_INITIAL + int(rng.integers(len(graph.nodes)))
        node = _draw_node(rng, graph.space, index)
        if node == graph.node(index):
            continue
        try:
            return graph.replace_node(index, node)
        except GraphError:
            continue  # the output no longer depends on x: draw again
    raise RuntimeError(f"no valid mutation in {_MAX_ATTEMPTS} draws")  # pragma: no cover
