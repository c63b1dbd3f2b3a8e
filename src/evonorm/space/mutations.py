"""A catalogue of mutations, each a small named function ``(graph, rng) -> child | None``.

Every mutation returns a valid graph that differs from its parent (``child != parent``), or
``None`` when it cannot apply to that parent (no room to insert, nothing to remove, ...). All
draws use the given ``numpy.random.Generator``, so a seed fixes the child.

- ``redraw`` — the paper's: one intermediate node (live or dead) gets a new op and new inputs
  (:func:`evonorm.space.random.mutate`). The default, and the paper-faithful ablation arm's only
  mutation.
- ``op`` — one live node's op is replaced by another of the same arity; its inputs stay.
- ``rewire`` — one input of one live node points to another earlier node.
- ``insert`` — an op is spliced into one edge of the live graph: a unary op, or a binary op
  whose second input is drawn among the earlier nodes. The layer's output is an edge too, so an
  op can be put on top of the whole layer (an activation after a normaliser). A graph at its
  node budget first gives up one dead node; one with no dead node left cannot grow.
- ``remove`` — one live node is bypassed (its consumers read one of its inputs instead) and
  deleted; the output node can be removed when its bypass is the node just before it.
- ``normalise`` — a normaliser is spliced into one live edge (the output edge included):
  ``s / std_X(s)``, or centred, ``(s - mean_X(s)) / std_X(s - mean_X(s))``, with ``X`` one of
  the space's axis sets. None of the others makes a normaliser from a random start in one step
  (it needs two or five specific nodes), and a norm-act layer needs one (docs/evolution.md).

The last five act on live nodes only, so the child computes another expression tree (a change
to a dead node would only be seen by a later mutation). :func:`mutate_by` draws one mutation by
the search's mixing probabilities and falls back to the others when it cannot apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from evonorm.space.graph import NUM_INITIAL, GraphError, LayerGraph, Node
from evonorm.space.ops import OPS, SPACES
from evonorm.space.random import mutate as redraw

__all__ = [
    "DEFAULT_MIX",
    "MUTATIONS",
    "Mutation",
    "check_mix",
    "mix_text",
    "mutate_by",
    "parse_mix",
    "put_on_top",
]

Mutation = Callable[[LayerGraph, np.random.Generator], LayerGraph | None]
_TRIES = 64  # random choices one mutation tries before it says it cannot apply


def _live_nodes(graph: LayerGraph) -> list[int]:
    return sorted(i for i in graph.live if i >= NUM_INITIAL)


def _valid(nodes: list[Node], graph: LayerGraph) -> LayerGraph | None:
    try:
        child = LayerGraph(tuple(nodes), space=graph.space, max_nodes=graph.max_nodes)
    except GraphError:
        return None  # e.g. the output no longer depends on x
    return child if child != graph else None


def change_op(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """One live node's op → another op of the same arity (inputs kept)."""
    live = _live_nodes(graph)
    for _ in range(_TRIES):
        index = live[int(rng.integers(len(live)))]
        node = graph.node(index)
        same = [o for o in SPACES[graph.space] if OPS[o].arity == OPS[node.op].arity]
        others = [o for o in same if o != node.op]
        op = others[int(rng.integers(len(others)))]
        nodes = list(graph.nodes)
        nodes[index - NUM_INITIAL] = Node(op, node.inputs)
        child = _valid(nodes, graph)
        if child is not None:
            return child
    return None


def rewire_input(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """One input of one live node → another earlier node."""
    live = _live_nodes(graph)
    for _ in range(_TRIES):
        index = live[int(rng.integers(len(live)))]
        node = graph.node(index)
        slot = int(rng.integers(len(node.inputs)))
        source = int(rng.integers(index))
        if source == node.inputs[slot]:
            continue
        inputs = list(node.inputs)
        inputs[slot] = source
        nodes = list(graph.nodes)
        nodes[index - NUM_INITIAL] = Node(node.op, tuple(inputs))
        child = _valid(nodes, graph)
        if child is not None:
            return child
    return None


def _delete(nodes: list[Node], index: int, bypass: int) -> list[Node]:
    """``nodes`` without the node at global ``index``; readers of it read ``bypass`` instead,
    later indices shift down by one."""
    out = []
    for position, node in enumerate(nodes):
        here = NUM_INITIAL + position
        if here == index:
            continue
        inputs = tuple(bypass if j == index else (j - 1 if j > index else j) for j in node.inputs)
        out.append(Node(node.op, inputs))
    return out


def _room(graph: LayerGraph, rng: np.random.Generator, extra: int = 1) -> LayerGraph | None:
    """``graph`` with room for ``extra`` more nodes: itself, or at its node budget without
    drawn dead nodes; None when it has too few dead nodes to give up."""
    while graph.num_nodes + extra > graph.max_nodes:
        dead = [i for i in range(NUM_INITIAL, graph.num_nodes) if i not in graph.live]
        if not dead:
            return None
        index = dead[int(rng.integers(len(dead)))]
        nodes = tuple(_delete(list(graph.nodes), index, bypass=0))
        graph = LayerGraph(nodes, space=graph.space, max_nodes=graph.max_nodes)
    return graph


def _splice(base: LayerGraph, reader: int, slot: int, new: list[Node]) -> list[Node]:
    """``base``'s nodes with ``new`` (numbered from global index ``reader`` on, its last node
    the spliced value) put just before node ``reader``, which reads that value in ``slot``."""
    shift = len(new)
    shifted = [
        Node(n.op, tuple(j + shift if j >= reader else j for j in n.inputs)) for n in base.nodes
    ]
    position = reader - NUM_INITIAL
    moved = shifted[position]
    rewired = list(moved.inputs)
    rewired[slot] = reader + shift - 1
    return [*shifted[:position], *new, Node(moved.op, tuple(rewired)), *shifted[position + 1 :]]


def insert_node(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """Splice a unary op, or a binary op with a new second input, into one live edge."""
    base = _room(graph, rng)
    if base is None:
        return None
    live = _live_nodes(base)
    names = SPACES[graph.space]
    for _ in range(_TRIES):
        pick = int(rng.integers(len(live) + 1))
        if pick == len(live):  # the output edge
            child = _on_top(base, graph, rng)
            if child is not None:
                return child
            continue
        reader = live[pick]
        slot = int(rng.integers(len(base.node(reader).inputs)))
        source = base.node(reader).inputs[slot]
        op = names[int(rng.integers(len(names)))]
        # the new node goes just before its reader: index `reader`, after every input it reads
        inputs = (source,) if OPS[op].arity == 1 else (source, int(rng.integers(reader)))
        nodes = _splice(base, reader, slot, [Node(op, inputs)])
        child = _valid(nodes, graph)
        if child is not None:
            return child
    return None


def _on_top(base: LayerGraph, graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """``base`` with one drawn op reading its output (and, binary, a drawn earlier node) as the
    new output; None when that equals ``graph`` or is invalid."""
    names = SPACES[graph.space]
    op = names[int(rng.integers(len(names)))]
    top = base.output
    inputs = (top,) if OPS[op].arity == 1 else (top, int(rng.integers(top + 1)))
    return _valid([*base.nodes, Node(op, inputs)], graph)


def put_on_top(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """``insert`` on the output edge only: an op on top of the whole layer (how a search breeds
    from a normaliser without an activation, :attr:`Fingerprint.normaliser`)."""
    base = _room(graph, rng)
    for _ in range(_TRIES if base is not None else 0):
        child = _on_top(base, graph, rng)
        if child is not None:
            return child
    return None


def _normaliser(source: int, at: int, axes: str, centred: bool) -> list[Node]:
    """The nodes of a normaliser of node ``source``, numbered from ``at``; the last is its value."""
    if not centred:
        return [Node(f"std_{axes}", (source,)), Node("div", (source, at))]
    return [
        Node(f"mean_{axes}", (source,)),
        Node("neg", (at,)),
        Node("add", (source, at + 1)),
        Node(f"std_{axes}", (at + 2,)),
        Node("div", (at + 2, at + 3)),
    ]


def normalise_edge(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """Splice ``s / std_X(s)`` or its centred form into one live edge (the output's too)."""
    axes = sorted({OPS[o].axes for o in SPACES[graph.space] if OPS[o].statistic == "std"})
    for _ in range(_TRIES):
        centred = bool(rng.integers(2))
        base = _room(graph, rng, 5 if centred else 2)
        if base is None:
            continue  # no room for the centred form; the next try may draw the short one
        live = _live_nodes(base)
        pick = int(rng.integers(len(live) + 1))
        norm = axes[int(rng.integers(len(axes)))]
        if pick == len(live):  # the output edge: normalise the whole layer's value
            nodes = [*base.nodes, *_normaliser(base.output, base.num_nodes, norm, centred)]
        else:
            reader = live[pick]
            slot = int(rng.integers(len(base.node(reader).inputs)))
            source = base.node(reader).inputs[slot]
            nodes = _splice(base, reader, slot, _normaliser(source, reader, norm, centred))
        child = _valid(nodes, graph)
        if child is not None:
            return child
    return None


def remove_node(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """Bypass one live node and delete it."""
    if len(graph.nodes) < 2:
        return None
    live = _live_nodes(graph)
    for _ in range(_TRIES):
        index = live[int(rng.integers(len(live)))]
        inputs = graph.node(index).inputs
        bypass = inputs[int(rng.integers(len(inputs)))]
        if index == graph.output and bypass != index - 1:
            continue  # the output stays the last node: only its predecessor can replace it
        child = _valid(_delete(list(graph.nodes), index, bypass), graph)
        if child is not None:
            return child
    return None


def redraw_node(graph: LayerGraph, rng: np.random.Generator) -> LayerGraph | None:
    """The paper's mutation: one node, new op and inputs."""
    return redraw(graph, rng)


MUTATIONS: dict[str, Mutation] = {
    "redraw": redraw_node,
    "op": change_op,
    "rewire": rewire_input,
    "insert": insert_node,
    "remove": remove_node,
    "normalise": normalise_edge,
}
DEFAULT_MIX: dict[str, float] = {"redraw": 1.0}  # the paper's


def check_mix(mix: Mapping[str, float]) -> dict[str, float]:
    """``mix`` as a plain dict, or one ``ValueError`` naming what is wrong."""
    unknown = sorted(set(mix) - set(MUTATIONS))
    if unknown:
        raise ValueError(f"unknown mutations {unknown}; known: {', '.join(MUTATIONS)}")
    if any(not p >= 0 for p in mix.values()):
        raise ValueError(f"mutation probabilities must be >= 0, got {dict(mix)}")
    total = sum(mix.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"mutation probabilities must sum to 1, got {total:g} ({dict(mix)})")
    return {k: float(v) for k, v in mix.items() if v > 0}


def mix_text(mix: Mapping[str, float]) -> str:
    """``{"op": 0.5, "rewire": 0.5}`` → ``"op=0.5,rewire=0.5"``, what :func:`parse_mix` reads."""
    return ",".join(f"{name}={p:g}" for name, p in mix.items())


def parse_mix(text: str) -> dict[str, float]:
    """``"op=0.5,rewire=0.5"`` → ``{"op": 0.5, "rewire": 0.5}``, checked; "" → the paper's."""
    if not text.strip():
        return dict(DEFAULT_MIX)
    mix = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"mutations {text!r}: expected NAME=P,... (e.g. op=0.5,rewire=0.5)")
    return check_mix(mix)


def mutate_by(
    graph: LayerGraph, rng: np.random.Generator, mix: Mapping[str, float] = DEFAULT_MIX
) -> tuple[str, LayerGraph]:
    """A child of ``graph`` by one mutation drawn with the probabilities ``mix``; a mutation
    that cannot apply is dropped and the draw repeated over the others (the paper's redraw
    always applies). Returns the mutation's name and the child."""
    left = dict(check_mix(mix))
    while left:
        names = list(left)
        weights = np.array([left[n] for n in names])
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        child = MUTATIONS[name](graph, rng)
        if child is not None:
            return name, child
        del left[name]
    return "redraw", redraw(graph, rng)
