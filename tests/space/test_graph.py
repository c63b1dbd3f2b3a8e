import json

import pytest

from evonorm import GraphError, LayerGraph, known_layer
from evonorm.space import KNOWN_LAYERS, Node


def graph(*nodes, space="B", **kw):
    return LayerGraph(tuple(Node(op, tuple(ins)) for op, *ins in nodes), space=space, **kw)


B0_JSON = {
    "schema": "evonorm.graph/v1",
    "space": "B",
    "nodes": [
        {"op": "std_batch", "inputs": [0]},
        {"op": "mul", "inputs": [3, 0]},
        {"op": "std_instance", "inputs": [0]},
        {"op": "add", "inputs": [5, 6]},
        {"op": "max", "inputs": [4, 7]},
        {"op": "div", "inputs": [0, 8]},
    ],
}


def test_public_file_format_reads_b0():
    g = LayerGraph.from_json(json.dumps(B0_JSON))
    assert g == known_layer("evonorm_b0")
    assert json.loads(g.to_json()) == B0_JSON


@pytest.mark.parametrize("name", sorted(KNOWN_LAYERS))
def test_json_round_trip_is_exact(name):
    g = known_layer(name)
    text = g.to_json()
    again = LayerGraph.from_json(text)
    assert again == g and again.to_json() == text and hash(again) == hash(g)


FORMULAS = {
    "evonorm_b0": "x / max(std_batch(x), v1*x + std_instance(x))",
    "evonorm_b1": "x / max(std_batch(x), (x + exp(0))*sqrt(sqmean_instance(x)))",
    "evonorm_b2": "x / max(std_batch(x), sqrt(sqmean_instance(x)) - x)",
    "evonorm_s0": "x*sigmoid(v1*x) / std_group(x)",
    "evonorm_s1": "x*sigmoid(x) / std_group(x)",
    "evonorm_s2": "x*sigmoid(x) / sqrt(sqmean_group(x))",
    "bn_relu": "max(v1*(x - mean_batch(x)) / std_batch(x) + v0, 0)",
    "gn_relu": "max(v1*(x - mean_group(x)) / std_group(x) + v0, 0)",
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_formula(name):
    assert known_layer(name).formula() == FORMULAS[name]


def test_formula_brackets_follow_precedence():
    g = graph(("add", 0, 3), ("neg", 4), ("mul", 5, 0), ("add", 0, 4), ("div", 6, 7))
    assert g.formula() == "-(x + v1)*x / (x + x + v1)"
    assert graph(("add", 0, 2), ("neg", 4), ("add", 0, 5)).formula() == "x - (x + v0)"


def test_known_layers_spaces():
    for name, g in KNOWN_LAYERS.items():
        assert g.space == ("B" if name.startswith(("bn", "evonorm_b")) else "S"), name
        assert g.uses_batch == (g.space == "B")


@pytest.mark.parametrize(
    ("nodes", "kwargs", "message"),
    [
        ((("cube", 0),), {}, "node 4: unknown op 'cube'"),
        ((("add", 0),), {}, "node 4 (add): expects 2 input(s), got 1"),
        ((("neg", 0), ("sigmoid", 6)), {}, "node 5 (sigmoid): forward reference to node 6"),
        ((("neg", 5),), {}, "node 4 (neg): forward reference to node 5"),
        ((("neg", -1),), {}, "node 4 (neg): out-of-range reference to node -1"),
        (
            (("std_batch", 0),),
            {"space": "S"},
            "node 4 (std_batch): batch aggregations are not allowed",
        ),
        ((("exp", 1), ("mul", 4, 3)), {}, "node 5 (output, mul): the output does not depend on x"),
        (tuple(("neg", 0) for _ in range(11)), {}, "node 14: over the node budget"),
        ((("neg", 0),), {"space": "Q"}, "unknown space 'Q'"),
        ((), {}, "no intermediate node"),
    ],
)
def test_validation_names_node_and_problem(nodes, kwargs, message):
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        graph(*nodes, **kwargs)


def test_node_budget_is_configurable():
    nodes = tuple(("neg", 0) for _ in range(11))
    assert graph(*nodes, max_nodes=15).num_nodes == 15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "malformed graph JSON"),
        ("[1, 2]", "graph must be a JSON object"),
        ('{"schema": "other/v9", "nodes": []}', "graph 'schema' must be"),
        ('{"schema": "evonorm.graph/v1", "nodes": {}}', "'nodes' must be a list"),
        ('{"schema": "evonorm.graph/v1", "nodes": [], "x": 1}', "unknown keys"),
        ('{"schema": "evonorm.graph/v1", "nodes": [{"op": "neg"}]}', "node 4 (neg): 'inputs'"),
        ('{"schema": "evonorm.graph/v1", "nodes": [{"op": 3, "inputs": [0]}]}', "node 4: 'op'"),
        ('{"schema": "evonorm.graph/v1", "nodes": [{"op": "neg", "inputs": [true]}]}', "node 4"),
        ('{"schema": "evonorm.graph/v1", "nodes": [7]}', "node 4: must be an object"),
    ],
)
def test_malformed_files(text, message):
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LayerGraph.from_json(text)


def test_graph_error_is_a_value_error():
    assert issubclass(GraphError, ValueError)


def test_prune_drops_dead_nodes_and_renumbers():
    g = graph(("exp", 0), ("std_instance", 0), ("tanh", 4), ("mul", 3, 0), ("div", 0, 5))
    pruned = g.prune()
    assert pruned.nodes == (Node("std_instance", (0,)), Node("div", (0, 4)))
    assert pruned.formula() == g.formula() == "x / std_instance(x)"
    assert pruned.prune() is pruned
    assert g.live == frozenset({0, 5, 8})


def test_structural_hash_ignores_dead_nodes_order_and_commutative_operands():
    reference = known_layer("evonorm_b0").structural_hash()
    reordered = graph(
        ("std_instance", 0),  # 4
        ("mul", 0, 3),  # 5 operands swapped
        ("tanh", 0),  # 6 dead
        ("add", 4, 5),  # 7 operands swapped
        ("std_batch", 0),  # 8
        ("max", 7, 8),  # 9
        ("div", 0, 9),  # 10
    )
    assert reordered.structural_hash() == reference
    assert reordered != known_layer("evonorm_b0")
    # div is not commutative, and a different op changes the hash
    assert (
        graph(("std_instance", 0), ("div", 4, 0)).structural_hash()
        != graph(("std_instance", 0), ("div", 0, 4)).structural_hash()
    )
    assert (
        graph(("std_layer", 0), ("div", 0, 4)).structural_hash()
        != graph(("std_instance", 0), ("div", 0, 4)).structural_hash()
    )


def test_graphs_are_immutable():
    g = known_layer("evonorm_s0")
    with pytest.raises(AttributeError):
        g.space = "B"
    assert isinstance(g.nodes, tuple)
