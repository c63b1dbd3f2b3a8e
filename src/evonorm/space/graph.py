"""``LayerGraph``: a normalization-activation layer as an immutable DAG of primitive ops.

Nodes 0–3 are the initial nodes: ``x`` (the (N, C, H, W) input), a zero tensor, and two
per-channel trainable vectors ``v0`` (initialised to 0) and ``v1`` (initialised to 1). Every
further node applies one op of :mod:`evonorm.space.ops` to earlier nodes; the last node is the
output. A compiled layer multiplies the output by a per-channel ``gamma`` and adds ``beta``.

The public file format (JSON, schema ``evonorm.graph/v1``)::

    {"schema": "evonorm.graph/v1", "space": "B",
     "nodes": [{"op": "std_instance", "inputs": [0]}, ...]}

lists the intermediate nodes only; their ``inputs`` index the initial nodes (0–3) and earlier
intermediate nodes (4, 5, ...).

Identity: ``==`` compares the node lists exactly. :meth:`LayerGraph.structural_hash` identifies
graphs that compute the same expression tree — equal up to dead nodes, node order, shared versus
repeated subexpressions and the operand order of commutative ops.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

from evonorm.space.ops import OPS, SPACES

SCHEMA = "evonorm.graph/v1"
INITIAL_NODES = ("x", "zero", "v0", "v1")
NUM_INITIAL = len(INITIAL_NODES)
DEFAULT_MAX_NODES = 14  # 4 initial + 10 intermediate, as in the paper


class GraphError(ValueError):
    """An invalid layer graph or graph file. The message names the node and the problem."""


@dataclass(frozen=True)
class Node:
    """One intermediate node: an op applied to earlier nodes (by index)."""

    op: str
    inputs: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"op": self.op, "inputs": list(self.inputs)}


@dataclass(frozen=True, eq=False)
class LayerGraph:
    """An immutable, validated layer graph. Build one from nodes, JSON or :func:`known_layer`."""

    nodes: tuple[Node, ...]
    space: str = "B"
    max_nodes: int = DEFAULT_MAX_NODES

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(_as_node(n, i) for i, n in enumerate(self.nodes)))
        _validate(self)

    # -- identity ---------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerGraph):
            return NotImplemented
        return self.space == other.space and self.nodes == other.nodes

    def __hash__(self) -> int:
        return hash((self.space, self.nodes))

    def __repr__(self) -> str:
        return f"LayerGraph(space={self.space!r}, formula={self.formula()!r})"

    @property
    def num_nodes(self) -> int:
        """Total node count, the four initial nodes included."""
        return NUM_INITIAL + len(self.nodes)

    @property
    def output(self) -> int:
        return self.num_nodes - 1

    def node(self, index: int) -> Node:
        """The intermediate node at a global index (4, 5, ...)."""
        return self.nodes[index - NUM_INITIAL]

    # -- file format ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "space": self.space, "nodes": [n.to_dict() for n in self.nodes]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: object, *, max_nodes: int = DEFAULT_MAX_NODES) -> LayerGraph:
        if not isinstance(data, dict):
            raise GraphError(f"graph must be a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise GraphError(f"graph 'schema' must be {SCHEMA!r}, got {data.get('schema')!r}")
        unknown = sorted(set(data) - {"schema", "space", "nodes"})
        if unknown:
            raise GraphError(f"graph has unknown keys {unknown}; allowed: schema, space, nodes")
        nodes = data.get("nodes")
        if not isinstance(nodes, list):
            raise GraphError("graph 'nodes' must be a list of {'op': ..., 'inputs': [...]}")
        return cls(tuple(nodes), space=data.get("space", "B"), max_nodes=max_nodes)

    @classmethod
    def from_json(cls, text: str, *, max_nodes: int = DEFAULT_MAX_NODES) -> LayerGraph:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"malformed graph JSON: {exc}") from None
        return cls.from_dict(data, max_nodes=max_nodes)

    # -- structure --------------------------------------------------------------------------

    @cached_property
    def live(self) -> frozenset[int]:
        """Indices of the nodes the output depends on (the output included)."""
        seen = {self.output}
        stack = [self.output]
        while stack:
            i = stack.pop()
            if i >= NUM_INITIAL:
                for j in self.node(i).inputs:
                    if j not in seen:
                        seen.add(j)
                        stack.append(j)
        return frozenset(seen)

    @property
    def uses_batch(self) -> bool:
        """True when a live node aggregates over the batch (the layer needs running statistics)."""
        return any(i >= NUM_INITIAL and OPS[self.node(i).op].uses_batch for i in self.live)

    def prune(self) -> LayerGraph:
        """The same layer without dead nodes; live nodes keep their order."""
        kept = [i for i in range(NUM_INITIAL, self.num_nodes) if i in self.live]
        if len(kept) == len(self.nodes):
            return self
        remap = {i: i for i in range(NUM_INITIAL)}
        remap.update({old: NUM_INITIAL + new for new, old in enumerate(kept)})
        nodes = tuple(
            Node(self.node(i).op, tuple(remap[j] for j in self.node(i).inputs)) for i in kept
        )
        return LayerGraph(nodes, space=self.space, max_nodes=self.max_nodes)

    def structural_hash(self) -> str:
        """SHA-256 (hex) of the output's expression tree, canonicalised: dead nodes, node order,
        repeated subexpressions and commutative operand order do not change it."""
        digests: dict[int, str] = {i: name for i, name in enumerate(INITIAL_NODES)}
        for i in sorted(self.live):
            if i < NUM_INITIAL:
                continue
            node = self.node(i)
            args = [digests[j] for j in node.inputs]
            if OPS[node.op].commutative:
                args.sort()
            text = f"{node.op}({','.join(args)})"
            digests[i] = hashlib.sha256(text.encode()).hexdigest()
        return digests[self.output]

    def formula(self) -> str:
        """A readable expression, e.g. ``x / max(std_batch(x), v1*x + std_instance(x))``."""
        from evonorm.space.formula import render

        return render(self)

    def replace_node(self, index: int, node: Node) -> LayerGraph:
        """A new graph with the intermediate node at ``index`` replaced (validated)."""
        nodes = list(self.nodes)
        nodes[index - NUM_INITIAL] = node
        return LayerGraph(tuple(nodes), space=self.space, max_nodes=self.max_nodes)


def _as_node(raw: object, position: int) -> Node:
    index = NUM_INITIAL + position
    if isinstance(raw, Node):
        return raw
    if not isinstance(raw, dict):
        raise GraphError(f"node {index}: must be an object with 'op' and 'inputs', got {raw!r}")
    extra = sorted(set(raw) - {"op", "inputs"})
    if extra:
        raise GraphError(f"node {index}: unknown keys {extra}; a node has only 'op' and 'inputs'")
    op, inputs = raw.get("op"), raw.get("inputs")
    if not isinstance(op, str):
        raise GraphError(f"node {index}: 'op' must be an op name string, got {op!r}")
    if not isinstance(inputs, list | tuple) or not all(
        isinstance(j, int) and not isinstance(j, bool) for j in inputs
    ):
        raise GraphError(f"node {index} ({op}): 'inputs' must be a list of node indices")
    return Node(op, tuple(inputs))


def _validate(graph: LayerGraph) -> None:
    if graph.space not in SPACES:
        raise GraphError(f"unknown space {graph.space!r}; expected one of {sorted(SPACES)}")
    if not isinstance(graph.max_nodes, int) or graph.max_nodes <= NUM_INITIAL:
        raise GraphError(f"max_nodes must be an integer above {NUM_INITIAL}, got {graph.max_nodes}")
    if not graph.nodes:
        raise GraphError(f"graph has no intermediate node; node {NUM_INITIAL} must be the first op")
    if graph.num_nodes > graph.max_nodes:
        raise GraphError(
            f"node {graph.max_nodes}: over the node budget — the graph has {graph.num_nodes} "
            f"nodes, at most {graph.max_nodes} are allowed ({NUM_INITIAL} initial included)"
        )
    allowed = SPACES[graph.space]
    for position, node in enumerate(graph.nodes):
        index = NUM_INITIAL + position
        op = OPS.get(node.op)
        if op is None:
            raise GraphError(f"node {index}: unknown op {node.op!r}; see evonorm.space.ops.OPS")
        if node.op not in allowed:
            raise GraphError(
                f"node {index} ({node.op}): batch aggregations are not allowed in space "
                f"{graph.space!r}; use space 'B' or a layer/instance/group statistic"
            )
        if len(node.inputs) != op.arity:
            raise GraphError(
                f"node {index} ({node.op}): expects {op.arity} input(s), got {len(node.inputs)}"
            )
        for j in node.inputs:
            if j < 0 or j >= index:
                kind = "forward" if j >= index else "out-of-range"
                raise GraphError(
                    f"node {index} ({node.op}): {kind} reference to node {j}; inputs must "
                    f"index nodes 0..{index - 1}"
                )
    if 0 not in graph.live:
        raise GraphError(
            f"node {graph.output} (output, {graph.nodes[-1].op}): the output does not depend on x"
        )
