"""Turn a layer graph into straight-line PyTorch code.

The forward pass of a compiled layer is one generated Python function with one statement per
live node, so running it costs no per-call walk over the graph. The same statements make the
standalone ``.py`` file of a published layer (:func:`standalone_source`), which imports only torch.

A small static analysis (``_bounds``) finds operands that are provably non-negative or provably
at least the division floor (every ``std_*`` is >= sqrt(eps)); for those, the protected
``div``/``log``/``sqrt`` forms reduce to exact cheaper ones with the same values.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass

from evonorm.compile import kernels
from evonorm.space.graph import NUM_INITIAL, LayerGraph
from evonorm.space.ops import DIV_FLOOR, OPS

_NONNEG_OPS = {"abs", "square", "exp", "sigmoid"}


@dataclass(frozen=True)
class Generated:
    """Generated forward code for one (pruned) graph."""

    graph: LayerGraph  # pruned
    body: tuple[str, ...]  # statements of ``forward(self, x)``, without indentation
    batch_nodes: tuple[tuple[int, str], ...]  # (node, statistic) of each batch aggregation
    uses: frozenset[str]  # initial nodes used: subset of {"zero", "v0", "v1"}

    def forward_source(self) -> str:
        lines = ["def forward(self, x):", *(f"    {s}" for s in self.body)]
        return "\n".join(lines) + "\n"


def running_name(node: int, statistic: str) -> str:
    """Name of the buffer holding the running estimate of a batch aggregation node."""
    return f"running_{'var' if statistic == 'std' else statistic}_{node}"


def _bounds(graph: LayerGraph, eps: float) -> tuple[set[int], set[int]]:
    """(non-negative nodes, nodes >= DIV_FLOOR), both provable from the graph alone."""
    nonneg: set[int] = set()
    floor: set[int] = set()
    std_floored = eps**0.5 >= DIV_FLOOR
    for i in range(NUM_INITIAL, graph.num_nodes):
        node = graph.node(i)
        op = OPS[node.op]
        ins = node.inputs
        if node.op in _NONNEG_OPS or op.statistic == "sqmean":
            nonneg.add(i)
        elif op.statistic == "std":
            nonneg.add(i)
            if std_floored:
                floor.add(i)
        elif op.statistic == "mean" or node.op == "sqrt":
            if ins[0] in nonneg:
                nonneg.add(i)
        elif node.op == "max":
            if any(j in nonneg for j in ins):
                nonneg.add(i)
            if any(j in floor for j in ins):
                floor.add(i)
        elif node.op in ("add", "mul"):
            if all(j in nonneg for j in ins):
                nonneg.add(i)
                if node.op == "add" and any(j in floor for j in ins):
                    floor.add(i)
        elif node.op == "div" and ins[0] in nonneg and ins[1] in floor:
            nonneg.add(i)
    return nonneg, floor


def _folded_negations(graph: LayerGraph) -> set[int]:
    """``neg`` nodes whose every consumer is an ``add``: ``a + (-b)`` becomes ``a - b``, one
    pass instead of two (forward and backward)."""
    consumers: dict[int, set[str]] = {}
    for node in graph.nodes:
        for j in node.inputs:
            consumers.setdefault(j, set()).add(node.op)
    return {
        i
        for i in range(NUM_INITIAL, graph.num_nodes - 1)  # never the output
        if graph.node(i).op == "neg" and consumers.get(i) == {"add"}
    }


def _subtraction(graph: LayerGraph, inputs, names: dict[int, str], folded: set[int]) -> str:
    """``add`` with one or two folded negations as a subtraction."""
    a, b = inputs
    if a in folded and b in folded:
        return f"-{names[graph.node(a).inputs[0]]} - {names[graph.node(b).inputs[0]]}"
    if a in folded:
        a, b = b, a
    return f"{names[a]} - {names[graph.node(b).inputs[0]]}"


def _batch_only_sources(graph: LayerGraph) -> set[int]:
    """Nodes whose every aggregation is over the batch (their moments are unused in eval)."""
    kinds: dict[int, set[bool]] = {}
    for node in graph.nodes:
        op = OPS[node.op]
        if op.is_aggregation:
            kinds.setdefault(node.inputs[0], set()).add(op.uses_batch)
    return {j for j, batch in kinds.items() if batch == {True}}


def generate(graph: LayerGraph, eps: float) -> Generated:
    """Straight-line forward code for ``graph`` (pruned first)."""
    graph = graph.prune()
    nonneg, floor = _bounds(graph, eps)
    names = {0: "x", 1: "zero", 2: "v0", 3: "v1"}
    body: list[str] = []
    batch_nodes: list[tuple[int, str]] = []
    moments: set[int] = set()
    batch_only = _batch_only_sources(graph)
    folded = _folded_negations(graph)
    for i in range(NUM_INITIAL, graph.num_nodes):
        node = graph.node(i)
        op = OPS[node.op]
        args = [names.get(j, "") for j in node.inputs]  # "" only for folded negations
        if op.is_aggregation:
            source = node.inputs[0]
            if source not in moments:  # one pass over a node serves all its statistics
                moments.add(source)
                call = f"hw_moments({args[0]})"
                if source in batch_only:  # eval mode reads running estimates instead
                    call += " if self.training else None"
                body.append(f"m{source} = {call}")
            running = None
            if op.uses_batch:
                batch_nodes.append((i, op.statistic))
                running = f"self.{running_name(i, op.statistic)}"
            expr = kernels.aggregation_call(node.op, args[0], f"m{source}", running)
        elif i in folded:
            continue  # a negation only ever added: emitted as a subtraction by its consumers
        elif node.op == "add" and any(j in folded for j in node.inputs):
            expr = _subtraction(graph, node.inputs, names, folded)
        elif node.op == "max" and 1 in node.inputs and node.inputs != (1, 1):
            other = args[1] if node.inputs[0] == 1 else args[0]
            expr = f"torch.relu({other})"  # max(a, 0), with relu's cheaper backward
        else:
            safe = (node.op == "div" and node.inputs[1] in floor) or (
                node.op in ("log", "sqrt") and node.inputs[0] in nonneg
            )
            template = (kernels.ELEMENTWISE_SAFE if safe else kernels.ELEMENTWISE)[node.op]
            expr = template.format(a=args[0], b=args[1] if len(args) > 1 else "")
        names[i] = f"n{i}"
        body.append(f"n{i} = {expr}  # {node.op}")
    used = {j for n in graph.nodes for j in n.inputs if 0 < j < NUM_INITIAL}
    code = "\n".join(body)
    prelude = []
    if re.search(r"\bzero\b", code):  # max(a, 0) became relu(a) and needs no zero tensor
        prelude.append("zero = x.new_zeros((1, 1, 1, 1))")
    for j, name in ((2, "v0"), (3, "v1")):
        if j in used:
            prelude.append(f"{name} = self.{name}.reshape(1, -1, 1, 1)")
    epilogue = [
        f"y = n{graph.output}",
        "if y.shape != x.shape:  # a statistic-only output: broadcast it over x",
        "    y = y.expand_as(x)",
        "return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)",
    ]
    return Generated(
        graph=graph,
        body=tuple(prelude + body + epilogue),
        batch_nodes=tuple(batch_nodes),
        uses=frozenset({1: "zero", 2: "v0", 3: "v1"}[j] for j in used),
    )


_STANDALONE = '''\
"""{title}

Generated by evonorm from graph {hash}. Imports only torch; no evonorm needed.

    y = ({formula}) * weight + bias

Use it wherever torchvision takes ``norm_layer=``::

    model = torchvision.models.resnet18(norm_layer={class_name})

Graph (schema evonorm.graph/v1):
{graph_json}
"""

import torch
from torch import nn

{kernels}

class {class_name}(nn.Module):
    """Normalization-activation layer ``({formula}) * weight + bias`` (NCHW input)."""

    GRAPH_JSON = {graph_json_repr}

    def __init__(
        self, num_features, *, eps={eps!r}, momentum=0.1, groups=32, device=None, dtype=None
    ):
        super().__init__()
        factory = {{"device": device, "dtype": dtype}}
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        # the group count, decremented until it divides the channels
        self.groups = next(
            g for g in range(min(groups, num_features), 0, -1) if num_features % g == 0
        )
        self.weight = nn.Parameter(torch.ones(num_features, **factory))
        self.bias = nn.Parameter(torch.zeros(num_features, **factory))
{params}
    def reset_parameters(self):
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()
{reset_params}
    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"expected an (N, C, H, W) input, got shape {{tuple(x.shape)}}")
{body}
'''


def standalone_source(
    graph: LayerGraph, *, class_name: str, eps: float = 1e-5, title: str = ""
) -> str:
    """A self-contained Python module defining ``class_name`` for ``graph`` (imports torch only)."""
    gen = generate(graph, eps)
    params, resets = [], []
    for name, init in (("v0", "zeros"), ("v1", "ones")):
        if name in gen.uses:
            params.append(f"self.{name} = nn.Parameter(torch.{init}(num_features, **factory))")
            resets.append(f"self.{name}.fill_({1.0 if init == 'ones' else 0.0})")
    for node, stat in gen.batch_nodes:
        init = kernels.RUNNING_INIT[stat]
        name = running_name(node, stat)
        params.append(
            f"self.register_buffer({name!r}, torch.full((num_features,), {init!r}, **factory))"
        )
        resets.append(f"self.{name}.fill_({init!r})")
    kernel_text = "\n\n".join(
        textwrap.dedent(inspect.getsource(f)) for f in kernels.KERNEL_FUNCTIONS
    )
    graph_json = gen.graph.to_json()
    return _STANDALONE.format(
        title=title or f"Evolved normalization-activation layer {class_name}.",
        hash=gen.graph.structural_hash()[:16],
        formula=gen.graph.formula(),
        class_name=class_name,
        graph_json=graph_json,
        graph_json_repr=repr(graph_json),
        kernels=kernel_text,
        eps=eps,
        params="".join(f"        {p}\n" for p in params),
        reset_params="".join(f"            {r}\n" for r in resets),
        body="\n".join(f"        {s}" for s in gen.body),
    )
