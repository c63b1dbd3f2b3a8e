"""Statistical tests of random graphs and mutation, with fixed seeds."""

from collections import Counter

import numpy as np
import pytest

from evonorm import LayerGraph, known_layer, mutate, random_graph
from evonorm.space.graph import NUM_INITIAL
from evonorm.space.ops import SPACES

DRAWS = 400


@pytest.mark.parametrize("space", ["B", "S"])
def test_random_graphs_reach_every_op_and_input_slot_and_are_valid(space):
    rng = np.random.default_rng(0)
    ops, inputs = Counter(), Counter()
    for _ in range(DRAWS):
        g = random_graph(rng, space)
        assert g.space == space and g.num_nodes == 14
        LayerGraph.from_json(g.to_json())  # never invalid
        assert 0 in g.live
        for node in g.nodes:
            ops[node.op] += 1
            inputs.update(node.inputs)
    assert set(ops) == set(SPACES[space])
    assert set(inputs) == set(range(13))  # every initial and intermediate slot but the output
    # uniform op draws: no op is starved (expected count per op is ~DRAWS*10/len(space))
    expected = DRAWS * 10 / len(SPACES[space])
    assert min(ops.values()) > 0.6 * expected


def test_random_graph_is_reproducible_and_sized():
    a = random_graph(np.random.default_rng(7), "B")
    b = random_graph(np.random.default_rng(7), "B")
    assert a == b
    assert random_graph(np.random.default_rng(7), "S", num_nodes=6).num_nodes == 6
    with pytest.raises(ValueError, match="space"):
        random_graph(np.random.default_rng(0), "Z")
    with pytest.raises(ValueError, match="num_nodes"):
        random_graph(np.random.default_rng(0), "B", num_nodes=4)


@pytest.mark.parametrize("space", ["B", "S"])
def test_mutation_changes_exactly_one_node_and_reaches_everything(space):
    rng = np.random.default_rng(1)
    parent = random_graph(rng, space)
    positions, ops, inputs = Counter(), Counter(), Counter()
    for _ in range(DRAWS * 2):
        child = mutate(parent, rng)
        changed = [
            i for i, (a, b) in enumerate(zip(parent.nodes, child.nodes, strict=True)) if a != b
        ]
        assert len(changed) == 1
        index = NUM_INITIAL + changed[0]
        node = child.node(index)
        assert all(j < index for j in node.inputs)
        assert child.space == space and 0 in child.live
        positions[index] += 1
        ops[node.op] += 1
        inputs.update(node.inputs)
        parent = child
    assert set(positions) == set(range(NUM_INITIAL, 14))
    assert set(ops) == set(SPACES[space])
    assert set(inputs) == set(range(13))


def test_mutation_is_reproducible_and_keeps_the_parent():
    parent = known_layer("evonorm_s0")
    before = parent.to_json()
    a = mutate(parent, np.random.default_rng(3))
    b = mutate(parent, np.random.default_rng(3))
    assert a == b and a != parent
    assert parent.to_json() == before
