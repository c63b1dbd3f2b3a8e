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


def __getattr__(name: str):
    """``evonorm.publish_layer`` / ``evonorm.load_layer`` without importing MLflow up front, and
    ``evonorm.place_layer`` without importing torchvision."""
    if name in ("publish_layer", "load_layer"):
        from evonorm import tracking

        return getattr(tracking, name)
    if name == "place_layer":
        from evonorm.proxy.placement import place_layer

        return place_layer
    raise AttributeError(f"module 'evonorm' has no attribute {name!r}")


__all__ = [
    "KNOWN_LAYERS",
    "OPS",
    "GraphError",
    "GraphLayer",
    "LayerGraph",
    "build_layer",
    "known_layer",
    "load_layer",
    "mutate",
    "place_layer",
    "publish_layer",
    "random_graph",
    "standalone_source",
]
