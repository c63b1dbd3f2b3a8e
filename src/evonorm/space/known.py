"""The known layers written as graphs: the paper's EvoNorms and the usual baselines.

Every compiled layer ends with ``* gamma + beta``, so a graph holds only what comes before it.
The baselines put their own affine (``v1``, ``v0``) before the activation, as BN-ReLU does;
at initialisation (``v1 = gamma = 1``, ``v0 = beta = 0``) they compute exactly BN/GN then the
activation. Constants come from the zero node: ``exp(0) = 1``.

The EvoNorms follow paper-notes §3 (timm's S2 adds ``eps`` inside its square root; the formula,
and therefore this graph, does not).
"""

from __future__ import annotations

from evonorm.space.graph import LayerGraph, Node

X, ZERO, V0, V1 = 0, 1, 2, 3


def _graph(space: str, *nodes: tuple) -> LayerGraph:
    return LayerGraph(tuple(Node(op, tuple(inputs)) for op, *inputs in nodes), space=space)


def _standardise(axes: str) -> list[tuple]:
    """Nodes 4–8: ``(x - mean_axes(x)) / std_axes(x)`` ends at node 8."""
    return [
        (f"mean_{axes}", X),  # 4
        ("neg", 4),  # 5
        ("add", X, 5),  # 6  x - mean
        (f"std_{axes}", X),  # 7
        ("div", 6, 7),  # 8  standardised x
        ("mul", V1, 8),  # 9
        ("add", 9, V0),  # 10 z = v1*xhat + v0
    ]


def _known() -> dict[str, LayerGraph]:
    return {
        # max(v1*(x - mu_b)/s_b + v0, 0)
        "bn_relu": _graph("B", *_standardise("batch"), ("max", 10, ZERO)),
        # z*sigmoid(z) with z = v1*(x - mu_b)/s_b + v0
        "bn_silu": _graph("B", *_standardise("batch"), ("sigmoid", 10), ("mul", 10, 11)),
        # max(v1*(x - mu_g)/s_g + v0, 0)
        "gn_relu": _graph("S", *_standardise("group"), ("max", 10, ZERO)),
        # x / max(s_b(x), v1*x + s_i(x))
        "evonorm_b0": _graph(
            "B",
            ("std_batch", X),  # 4
            ("mul", V1, X),  # 5
            ("std_instance", X),  # 6
            ("add", 5, 6),  # 7
            ("max", 4, 7),  # 8
            ("div", X, 8),  # 9
        ),
        # x / max(s_b(x), (x + 1)*sqrt(mu_i(x^2)))
        "evonorm_b1": _graph(
            "B",
            ("std_batch", X),  # 4
            ("exp", ZERO),  # 5  the constant 1
            ("add", X, 5),  # 6
            ("sqmean_instance", X),  # 7
            ("sqrt", 7),  # 8
            ("mul", 6, 8),  # 9
            ("max", 4, 9),  # 10
            ("div", X, 10),  # 11
        ),
        # x / max(s_b(x), sqrt(mu_i(x^2)) - x)
        "evonorm_b2": _graph(
            "B",
            ("std_batch", X),  # 4
            ("sqmean_instance", X),  # 5
            ("sqrt", 5),  # 6
            ("neg", X),  # 7
            ("add", 6, 7),  # 8
            ("max", 4, 8),  # 9
            ("div", X, 9),  # 10
        ),
        # x*sigmoid(v1*x) / s_g(x)
        "evonorm_s0": _graph(
            "S",
            ("mul", V1, X),  # 4
            ("sigmoid", 4),  # 5
            ("mul", X, 5),  # 6
            ("std_group", X),  # 7
            ("div", 6, 7),  # 8
        ),
        # tanh(v1*x): Dynamic Tanh (Zhu, Chen, He, LeCun, Liu, "Transformers without
        # Normalization", CVPR 2025; jiachenzhu/DyT) with a per-channel alpha (init 1, theirs a
        # scalar at 0.5). It does not normalise: the proxy's measure of a layer that only
        # squashes (paper-notes §9; it costs ResNet-50 7.3 points when it replaces BN).
        "dyt": _graph("S", ("mul", V1, X), ("tanh", 4)),
        # x*sigmoid(x) / s_g(x)
        "evonorm_s1": _graph("S", ("sigmoid", X), ("mul", X, 4), ("std_group", X), ("div", 5, 6)),
        # x*sigmoid(x) / sqrt(mu_g(x^2))
        "evonorm_s2": _graph(
            "S",
            ("sigmoid", X),  # 4
            ("mul", X, 4),  # 5
            ("sqmean_group", X),  # 6
            ("sqrt", 6),  # 7
            ("div", 5, 7),  # 8
        ),
    }


KNOWN_LAYERS: dict[str, LayerGraph] = _known()

# What every after-search table (rerank, transfer, ablation) compares evolved layers with.
BASELINES = ("bn_relu", "gn_relu", "evonorm_b0", "evonorm_s0")


def known_layer(name: str) -> LayerGraph:
    """The graph of a known layer: one of :data:`KNOWN_LAYERS`."""
    try:
        return KNOWN_LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; known layers: {', '.join(KNOWN_LAYERS)}") from None
