from evonorm import KNOWN_LAYERS, LayerGraph, known_layer
from evonorm.reject import fingerprint
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


def test_known_layers_have_distinct_finite_fingerprints():
    prints = {name: fingerprint(graph) for name, graph in KNOWN_LAYERS.items()}
    assert len({p.digest for p in prints.values()}) == len(KNOWN_LAYERS)
    assert all(p.finite and p.depends_on_x for p in prints.values())


def test_v_parameters_matter():
    assert fingerprint(g(("mul", 3, 0))).digest != fingerprint(g(("mul", 2, 0))).digest


def test_degenerate_layers_are_flagged():
    assert not fingerprint(g(("exp", 0), ("exp", 4), ("exp", 5))).finite
    constant = fingerprint(g(("neg", 0), ("add", 0, 4)))  # x - x
    assert constant.finite and not constant.depends_on_x
