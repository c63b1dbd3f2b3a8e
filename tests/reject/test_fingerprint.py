import hashlib

import torch

from evonorm import KNOWN_LAYERS, LayerGraph, known_layer
from evonorm.reject import fingerprint
from evonorm.reject.fingerprint import (
    FINGERPRINT_VERSION,
    affine_residual,
    frozen_parameters,
    scale_free_digest,
)
from evonorm.space import Node


def g(*nodes, space="B"):
    return LayerGraph(tuple(Node(op, tuple(ins)) for op, *ins in nodes), space=space)


def test_functionally_equal_layers_share_a_fingerprint():
    assert fingerprint(g(("add", 0, 1))).digest == fingerprint(g(("max", 0, 0))).digest  # x+0, x
    a = g(("mul", 3, 0), ("sigmoid", 4), ("mul", 0, 5), ("std_group", 0), ("div", 6, 7), space="S")
    b = g(("std_group", 0), ("mul", 0, 3), ("sigmoid", 5), ("mul", 6, 0), ("div", 7, 4), space="S")
    assert a.structural_hash() != b.structural_hash() or a != b
    assert fingerprint(a).digest == fingerprint(known_layer("evonorm_s0")).digest
    assert fingerprint(b).digest == fingerprint(a).digest


def test_a_batch_statistic_of_a_constant_is_that_constant():
    # mean_batch(v1) is v1 once the running mean has converged; ablation-D trained such pairs twice
    plain = fingerprint(g(("mul", 0, 3), ("tanh", 4))).digest
    assert fingerprint(g(("mean_batch", 3), ("mul", 0, 4), ("tanh", 5))).digest == plain
    squared = fingerprint(g(("mul", 3, 3), ("div", 0, 4), ("sqrt", 5))).digest
    assert fingerprint(g(("sqmean_batch", 3), ("div", 0, 4), ("sqrt", 5))).digest == squared
    batch = fingerprint(g(("mean_batch", 0), ("neg", 4), ("add", 0, 5))).digest  # x - mean_b(x)
    assert batch != fingerprint(g(("mean_instance", 0), ("neg", 4), ("add", 0, 5))).digest


def test_known_layers_have_distinct_finite_fingerprints():
    prints = {name: fingerprint(graph) for name, graph in KNOWN_LAYERS.items()}
    assert len({p.digest for p in prints.values()}) == len(KNOWN_LAYERS)
    assert all(p.finite and p.depends_on_x for p in prints.values())


def test_v_parameters_matter():
    assert fingerprint(g(("mul", 3, 0))).digest != fingerprint(g(("mul", 2, 0))).digest


def test_a_parameter_that_never_moves_keeps_its_initial_value():
    """v0 starts at zero; behind log(v0 / s) or log(v0 * s) with s = std_instance(v0) = 0, or in
    a max that std_batch(x) always wins, it gets no gradient and stays zero, so these layers
    train identically (ablation-E-warm's candidates 402 and 405; four spellings of
    x / std_batch(x) in its kept-seeds arm) and must share a fingerprint. A v0 that does get a
    gradient (tanh(x + v0)) still counts."""
    over = g(("tanh", 0), ("std_instance", 2), ("div", 2, 5), ("log", 6), ("mul", 4, 7))
    times = g(("tanh", 0), ("std_instance", 2), ("mul", 2, 5), ("log", 6), ("mul", 4, 7))
    assert frozen_parameters(over) == frozen_parameters(times) == {"v0"}
    assert fingerprint(over).digest == fingerprint(times).digest
    losing = g(
        ("std_batch", 0), ("mul", 2, 0), ("log", 2), ("add", 5, 6), ("max", 4, 7), ("div", 0, 8)
    )
    plain = g(("std_batch", 0), ("div", 0, 4))
    assert fingerprint(losing).digest == fingerprint(plain).digest
    assert fingerprint(losing).normaliser  # it trains as x / std_batch(x): no activation
    moving = g(("add", 0, 2), ("tanh", 4))
    assert frozen_parameters(moving) == set()
    assert fingerprint(moving).digest != fingerprint(g(("tanh", 0))).digest
    assert all(not frozen_parameters(graph) for graph in KNOWN_LAYERS.values())
    # v1's gradient in tanh(x + v1*v0) is v0, zero at the start, but v0 moves and then so does v1
    assert frozen_parameters(g(("mul", 3, 2), ("add", 0, 4), ("tanh", 5))) == set()


def test_degenerate_layers_are_flagged():
    assert not fingerprint(g(("exp", 0), ("exp", 4), ("exp", 5))).finite
    constant = fingerprint(g(("neg", 0), ("add", 0, 4)))  # x - x
    assert constant.finite and not constant.depends_on_x


# Layers with no element-wise nonlinearity on x: BatchNorm's affine part alone, and the bests of
# the searches before the affine check (docs/history/2026-12-02-n600/results.md).
AFFINE = {
    "x + 0": g(("add", 0, 1)),
    "bn_linear": LayerGraph(known_layer("bn_relu").nodes[:-1]),  # BN-ReLU without the ReLU
    "x / std_batch(x)": g(("std_batch", 0), ("div", 0, 4)),
    "x / std_group(x)": g(("std_group", 0), ("div", 0, 4)),
    "x / std_layer(sqrt(max(mean_batch(v0), sqrt(x))))": g(
        ("mean_batch", 2), ("sqrt", 0), ("max", 4, 5), ("sqrt", 6), ("std_layer", 7), ("div", 0, 8)
    ),
    "v1 * x + mean_instance(x)": g(("mul", 3, 0), ("mean_instance", 0), ("add", 4, 5)),
}
NOT_AFFINE = {
    "tanh(x)": g(("tanh", 0)),
    "sqrt(x)": g(("sqrt", 0)),
    "tanh(sqrt(x)) + sqrt(x)": g(("sqrt", 0), ("tanh", 4), ("add", 5, 4)),
    "max(x, v0)": g(("max", 0, 2)),
    "x * x / std_batch(x)": g(("mul", 0, 0), ("std_batch", 0), ("div", 4, 5)),
}


def test_layers_without_an_activation_are_affine_and_others_are_not():
    assert all(fingerprint(graph).affine for graph in AFFINE.values())
    assert not any(fingerprint(graph).affine for graph in NOT_AFFINE.values())
    assert not any(fingerprint(graph).affine for graph in KNOWN_LAYERS.values())


def test_normalisers_without_an_activation_are_told_from_other_affine_layers():
    near = {
        "x / std_batch(x)": g(("std_batch", 0), ("div", 0, 4)),
        "x / std_group(x)": g(("std_group", 0), ("div", 0, 4)),
        "BatchNorm's affine part": LayerGraph(known_layer("bn_relu").nodes[:-1]),
    }
    other = {
        "v1*x": g(("mul", 3, 0)),  # its spread follows x's
        "x / sqmean_batch(x)": g(("sqmean_batch", 0), ("div", 0, 4)),  # follows 1/x's
        "std_group(x)": g(
            ("std_group", 0),
        ),  # flat over the positions
        "BN-ReLU": known_layer("bn_relu"),  # not affine: it has its activation
    }
    assert all(fingerprint(graph).normaliser for graph in near.values())
    assert not any(fingerprint(graph).normaliser for graph in other.values())
    assert 0.9 < fingerprint(near["x / std_batch(x)"]).spread_ratio < 1.1
    assert 2.5 < fingerprint(other["v1*x"]).spread_ratio < 3.5


def test_the_affine_residual_is_zero_for_a_fit_and_large_for_a_bend():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    scale, shift = torch.randn(2, 3, 1, 1), torch.randn(2, 3, 1, 1)
    assert affine_residual(x, scale * x + shift) < 1e-12
    assert affine_residual(x, torch.zeros_like(x) + shift) == 0.0  # flat output
    assert affine_residual(x, torch.relu(x)) > 0.1


def test_the_scale_free_digest_equates_per_channel_factors_and_nothing_else():
    from evonorm.reject.fingerprint import scale_free_digest

    sqrt_x = LayerGraph((Node("sqrt", (0,)),))
    copies = [
        LayerGraph((Node("sqrt", (0,)), Node("neg", (4,)))),  # -sqrt(x)
        LayerGraph((Node("add", (0, 0)), Node("sqrt", (4,)))),  # sqrt(x + x)
        LayerGraph((Node("sqrt", (0,)), Node("mul", (4, 3)))),  # sqrt(x)·v1, v1 per channel
        LayerGraph((Node("div", (0, 2)), Node("sqrt", (4,)))),  # sqrt(x / v0): v0's sign too
    ]
    others = [
        LayerGraph((Node("tanh", (0,)),)),
        LayerGraph((Node("sqrt", (0,)), Node("add", (4, 2)))),  # a shift is not a factor
        LayerGraph((Node("std_batch", (0,)), Node("div", (0, 4)), Node("sqrt", (5,)))),
        LayerGraph((Node("sqrt", (0,)), Node("std_batch", (4,)), Node("div", (4, 5)))),
    ]
    key = scale_free_digest(sqrt_x)
    assert [scale_free_digest(g) for g in copies] == [key] * len(copies)
    assert [fingerprint(g).digest for g in copies].count(fingerprint(sqrt_x).digest) == 0
    keys = {scale_free_digest(g) for g in others}
    assert key not in keys and len(keys) == len(others)


# FINGERPRINT_VERSION -> a hash of what the fingerprint says about the layers of pinned_layers()
PINNED = {2: "5e32e24710fb80d8c6e91557019323966807014e498780a99ea0888a411518cd"}


def pinned_layers() -> list[LayerGraph]:
    """Known layers, a normaliser, and layers with parameters that never move (version 2)."""
    return [
        *(known_layer(name) for name in ("bn_relu", "gn_relu", "evonorm_b0", "evonorm_s0")),
        g(("std_batch", 0), ("div", 0, 4)),
        g(("tanh", 0), ("std_instance", 2), ("div", 2, 5), ("log", 6), ("mul", 4, 7)),
        g(("std_batch", 0), ("mul", 2, 0), ("log", 2), ("add", 5, 6), ("max", 4, 7), ("div", 0, 8)),
        g(("mul", 3, 2), ("add", 0, 4), ("tanh", 5)),
    ]


def fingerprint_summary() -> str:
    said = []
    for graph in pinned_layers():
        p = fingerprint(graph)
        verdicts = f"{p.affine} {p.normaliser} {p.finite} {p.depends_on_x}"
        said.append(f"{p.digest} {scale_free_digest(graph)} {verdicts}")
    return hashlib.sha256("\n".join(said).encode()).hexdigest()


def test_the_fingerprint_is_pinned_to_its_version():
    """Studies store FINGERPRINT_VERSION and refuse code of another one. A change that moves any
    digest or verdict here must bump the version (and pin the new summary), or studies started
    by the old fingerprint would be resumed by the new one without a word."""
    assert fingerprint_summary() == PINNED[FINGERPRINT_VERSION], (
        "the fingerprint changed: bump FINGERPRINT_VERSION in evonorm/reject/fingerprint.py and "
        f"pin {fingerprint_summary()} under it"
    )
