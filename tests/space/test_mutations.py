"""Statistical tests of the mutation catalogue (space.mutations), with fixed seeds: every
mutation gives a valid, different child or says it cannot apply, and reaches every op and
input slot it can change."""

import hashlib
from collections import Counter

import numpy as np
import pytest

from evonorm import LayerGraph, known_layer, random_graph
from evonorm.space.graph import Node
from evonorm.space.mutations import (
    MUTATIONS,
    change_op,
    check_mix,
    insert_node,
    mutate_by,
    normalise_edge,
    put_on_top,
    remove_node,
    rewire_input,
)
from evonorm.space.ops import OPS, SPACES

PARENTS = 150


def _parents(space: str, seed: int = 0) -> list[LayerGraph]:
    rng = np.random.default_rng(seed)
    graphs = [random_graph(rng, space) for _ in range(PARENTS)]
    small = [known_layer(n) for n in ("bn_relu", "evonorm_b0", "evonorm_s0", "dyt")]
    return graphs + [g for g in small if g.space == space or space == "B"]


def _live(graph: LayerGraph) -> int:
    return len(graph.prune().nodes)


@pytest.mark.parametrize("space", ["B", "S"])
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_gives_a_valid_different_child_or_none(name, space):
    rng = np.random.default_rng(1)
    applied = 0
    for parent in _parents(space):
        child = MUTATIONS[name](parent, rng)
        if child is None:
            continue
        applied += 1
        assert child != parent and child.space == parent.space
        assert LayerGraph.from_json(child.to_json()) == child  # valid by the file format too
        assert 0 in child.live and child.num_nodes <= child.max_nodes
        if name != "redraw":  # the others change the live expression tree
            assert child.prune() != parent.prune()
    assert applied >= 0.6 * PARENTS, f"{name} applied to {applied} parents only"


@pytest.mark.parametrize("space", ["B", "S"])
def test_change_op_keeps_inputs_and_arity_and_reaches_every_op(space):
    rng = np.random.default_rng(2)
    reached = Counter()
    for parent in _parents(space) * 4:
        child = change_op(parent, rng)
        changed = [(a, b) for a, b in zip(parent.nodes, child.nodes, strict=True) if a != b]
        ((before, after),) = changed
        assert before.inputs == after.inputs and before.op != after.op
        assert OPS[before.op].arity == OPS[after.op].arity
        reached[after.op] += 1
    assert set(reached) == set(SPACES[space])


def test_rewire_changes_one_input_and_reaches_every_source():
    rng = np.random.default_rng(3)
    sources = Counter()
    for parent in _parents("B") * 4:
        child = rewire_input(parent, rng)
        if child is None:  # e.g. tanh(x): every other input loses x
            continue
        changed = [(a, b) for a, b in zip(parent.nodes, child.nodes, strict=True) if a != b]
        ((before, after),) = changed
        assert before.op == after.op
        moved = [(x, y) for x, y in zip(before.inputs, after.inputs, strict=True) if x != y]
        assert len(moved) == 1
        sources[moved[0][1]] += 1
    assert set(sources) == set(range(13))  # every node but the output can become an input


@pytest.mark.parametrize("space", ["B", "S"])
def test_insert_adds_one_live_node_with_every_op(space):
    rng = np.random.default_rng(4)
    ops = Counter()
    full_without_dead = 0
    for parent in _parents(space) * 3:
        child = insert_node(parent, rng)
        if child is None:
            assert parent.num_nodes == parent.max_nodes and len(parent.prune().nodes) == len(
                parent.nodes
            )
            full_without_dead += 1
            continue
        assert _live(child) >= _live(parent) + 1  # more when a second input revives dead nodes
        new = Counter(child.nodes) - Counter(parent.nodes)
        ops.update(n.op for n in new)
    assert set(SPACES[space]) <= set(ops)
    assert full_without_dead < 0.05 * PARENTS * 3


def test_insert_draws_the_children_it_drew_before_normalise_shared_its_splicing():
    """A study resumed on newer code proposes what it would have: the digest of insert's
    children over the test parents, computed with the code of commit 1840f31."""
    rng = np.random.default_rng(12)
    digest = hashlib.sha256()
    for parent in _parents("B"):
        child = insert_node(parent, rng)
        digest.update((child.to_json() if child else "none").encode())
    assert digest.hexdigest()[:16] == "914e1e74a6cac20b"


def test_insert_can_put_an_op_on_top_of_the_layer():
    # from a normaliser, an activation on top is one insert away: max(x / std_batch(x), 0)
    rng = np.random.default_rng(8)
    normaliser = LayerGraph((Node("std_batch", (0,)), Node("div", (0, 4))))
    children = {insert_node(normaliser, rng) for _ in range(400)} - {None}
    on_top = [c for c in children if c.nodes[:2] == normaliser.nodes and len(c.nodes) == 3]
    assert LayerGraph((*normaliser.nodes, Node("max", (5, 1)))) in on_top
    assert {OPS[c.nodes[-1].op].arity for c in on_top} == {1, 2}
    assert all(c.nodes[-1].inputs[0] == normaliser.output for c in on_top)


def test_put_on_top_only_adds_an_op_on_the_output_edge():
    rng = np.random.default_rng(9)
    for parent in _parents("B"):
        child = put_on_top(parent, rng)
        if child is None:  # full, with no dead node to give up
            assert parent.num_nodes == parent.max_nodes
            continue
        assert child.nodes[-1].inputs[0] == child.output - 1
        assert child.prune().structural_hash() != parent.prune().structural_hash()
        below = LayerGraph(child.nodes[:-1], space=child.space, max_nodes=child.max_nodes)
        assert below.prune() == parent.prune()  # the parent's layer, untouched, underneath


def test_remove_bypasses_one_node_and_never_empties_a_graph():
    rng = np.random.default_rng(5)
    for parent in _parents("B") * 2:
        child = remove_node(parent, rng)
        if child is None:
            continue
        assert len(child.nodes) == len(parent.nodes) - 1
        assert _live(child) < _live(parent)
    one_node = LayerGraph((Node("tanh", (0,)),))
    assert remove_node(one_node, rng) is None
    two = LayerGraph((Node("std_batch", (0,)), Node("div", (0, 4))))  # x / std_batch(x)
    assert remove_node(two, rng) in (None, LayerGraph((Node("std_batch", (0,)),)))


@pytest.mark.parametrize("space", ["B", "S"])
def test_normalise_splices_a_normaliser_of_either_form_on_every_axis_set(space):
    rng = np.random.default_rng(10)
    forms, axes = Counter(), Counter()
    for parent in _parents(space) * 2:
        child = normalise_edge(parent, rng)
        if child is None:  # full, with too few dead nodes to give up
            assert parent.num_nodes + 2 > parent.max_nodes
            continue
        new = Counter(child.nodes) - Counter(parent.nodes)
        stds = [n for n in new if OPS[n.op].statistic == "std"]
        assert stds and any(n.op == "div" for n in new) and _live(child) > _live(parent)
        forms["centred" if any(OPS[n.op].statistic == "mean" for n in new) else "scale"] += 1
        axes.update(OPS[n.op].axes for n in stds)
    assert set(forms) == {"centred", "scale"}
    assert set(axes) == {OPS[o].axes for o in SPACES[space] if OPS[o].statistic == "std"}


def test_normalise_puts_a_normaliser_inside_an_activation_or_over_the_layer():
    rng = np.random.default_rng(11)
    tanh = LayerGraph((Node("tanh", (0,)),))
    children = {normalise_edge(tanh, rng) for _ in range(300)}
    inside = LayerGraph((Node("std_batch", (0,)), Node("div", (0, 4)), Node("tanh", (5,))))
    over = LayerGraph((Node("tanh", (0,)), Node("std_batch", (4,)), Node("div", (4, 5))))
    centred = LayerGraph(
        (
            Node("mean_group", (0,)),
            Node("neg", (4,)),
            Node("add", (0, 5)),
            Node("std_group", (6,)),
            Node("div", (6, 7)),
            Node("tanh", (8,)),
        )
    )
    assert {inside, over, centred} <= children
    assert {c.formula() for c in children} >= {"tanh(x / std_batch(x))"}
    assert len(children) == 16  # 2 edges x 2 forms x 4 axis sets


def test_a_one_node_parent_has_neighbours_beyond_the_papers_redraw():
    rng = np.random.default_rng(6)
    tanh = LayerGraph((Node("tanh", (0,)),))
    children = {m: {MUTATIONS[m](tanh, rng) for _ in range(200)} - {None} for m in MUTATIONS}
    assert len(children["op"]) == len([o for o in SPACES["B"] if OPS[o].arity == 1]) - 1
    assert all(_live(c) == 2 for c in children["insert"]) and len(children["insert"]) > 30
    assert children["remove"] == set()


def test_mixing_follows_the_probabilities_and_skips_what_cannot_apply():
    rng = np.random.default_rng(7)
    parent = random_graph(rng, "B")
    mix = {"redraw": 0.2, "op": 0.3, "rewire": 0.5}
    drawn = Counter(mutate_by(parent, rng, mix)[0] for _ in range(2000))
    for name, p in mix.items():
        assert abs(drawn[name] / 2000 - p) < 0.04, drawn
    tanh = LayerGraph((Node("tanh", (0,)),))
    names = Counter(mutate_by(tanh, rng, {"remove": 0.5, "op": 0.5})[0] for _ in range(200))
    assert names == {"op": 200}  # remove cannot apply to one node: op is drawn instead


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        (
            {"swap": 1.0},
            "unknown mutations ['swap']; known: redraw, op, rewire, insert, remove, normalise",
        ),
        ({"op": 0.5, "rewire": 0.4}, "must sum to 1, got 0.9"),
        ({"op": 1.5, "rewire": -0.5}, "must be >= 0"),
    ],
)
def test_bad_mixes_are_one_clear_error(mix, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_mix(mix)
