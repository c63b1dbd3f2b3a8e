"""The search space: ops, layer graphs, known layers, random graphs and mutations. No torch here."""

from evonorm.space.graph import SCHEMA, GraphError, LayerGraph, Node
from evonorm.space.known import BASELINES, KNOWN_LAYERS, known_layer
from evonorm.space.mutations import MUTATIONS, mutate_by
from evonorm.space.ops import OPS, SPACES, Kind, Op
from evonorm.space.random import mutate, random_graph

__all__ = [
    "BASELINES",
    "KNOWN_LAYERS",
    "MUTATIONS",
    "OPS",
    "SCHEMA",
    "SPACES",
    "GraphError",
    "Kind",
    "LayerGraph",
    "Node",
    "Op",
    "known_layer",
    "mutate",
    "mutate_by",
    "random_graph",
]
