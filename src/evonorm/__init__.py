"""evonorm: discover normalization-activation layers by evolution (Liu et al., NeurIPS 2020)."""

from evonorm.compile import GraphLayer, build_layer, standalone_source
from evonorm.space import (
    KNOWN_LAYERS,
    OPS,
    GraphError,
    LayerGraph,
    known_layer,
    mutate,
    random_graph,
)

__version__ = "0.1.0"

__all__ = [
    "KNOWN_LAYERS",
    "OPS",
    "GraphError",
    "GraphLayer",
    "LayerGraph",
    "build_layer",
    "known_layer",
    "mutate",
    "random_graph",
    "standalone_source",
]
