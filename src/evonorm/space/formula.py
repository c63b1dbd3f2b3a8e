"""Render a layer graph as a readable infix formula, e.g. ``x*sigmoid(v1*x) / std_group(x)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evonorm.space.graph import INITIAL_NODES, NUM_INITIAL

if TYPE_CHECKING:
    from evonorm.space.graph import LayerGraph

# Binding strength of each rendered form; a child binding weaker than its slot needs brackets.
_SUM, _PRODUCT, _UNARY, _ATOM = 1, 2, 3, 4
_INITIAL_TEXT = {"x": "x", "zero": "0", "v0": "v0", "v1": "v1"}


def render(graph: LayerGraph) -> str:
    cache: dict[int, tuple[str, int]] = {}

    def expr(i: int) -> tuple[str, int]:
        if i < NUM_INITIAL:
            return _INITIAL_TEXT[INITIAL_NODES[i]], _ATOM
        if i not in cache:
            cache[i] = _render_node(graph, i, expr)
        return cache[i]

    return expr(graph.output)[0]


def _wrap(part: tuple[str, int], at_least: int) -> str:
    text, strength = part
    return text if strength >= at_least else f"({text})"


def _render_node(graph: LayerGraph, i: int, expr) -> tuple[str, int]:
    node = graph.node(i)
    args = [expr(j) for j in node.inputs]
    op = node.op
    if op == "add":
        left, right = args
        neg_right = node.inputs[1] >= NUM_INITIAL and graph.node(node.inputs[1]).op == "neg"
        if neg_right:  # a + (-b) reads as a - b
            inner = expr(graph.node(node.inputs[1]).inputs[0])
            return f"{_wrap(left, _SUM)} - {_wrap(inner, _PRODUCT)}", _SUM
        return f"{_wrap(left, _SUM)} + {_wrap(right, _SUM)}", _SUM
    if op == "mul":
        return f"{_wrap(args[0], _PRODUCT)}*{_wrap(args[1], _PRODUCT)}", _PRODUCT
    if op == "div":
        return f"{_wrap(args[0], _PRODUCT)} / {_wrap(args[1], _UNARY)}", _PRODUCT
    if op == "neg":
        return f"-{_wrap(args[0], _UNARY)}", _UNARY
    return f"{op}({', '.join(text for text, _ in args)})", _ATOM
