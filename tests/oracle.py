"""A naive graph interpreter written independently of the code generator: one plain torch
function per op, applied node by node. Test oracle for compiled layers (train mode)."""

from __future__ import annotations

import torch

from evonorm.space.graph import NUM_INITIAL, LayerGraph


def _safe(t: torch.Tensor, floor: float) -> torch.Tensor:
    magnitude = torch.where(t.abs() < floor, torch.full_like(t, floor), t.abs())
    return torch.where(torch.signbit(t), -magnitude, magnitude)


def _stat(kind: str, t: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    if kind == "mean":
        return t.mean(dim=dims, keepdim=True)
    if kind == "sqmean":
        return (t**2).mean(dim=dims, keepdim=True)
    centred = t - t.mean(dim=dims, keepdim=True)
    return torch.sqrt((centred**2).mean(dim=dims, keepdim=True) + eps)


def _group(kind: str, t: torch.Tensor, groups: int, eps: float) -> torch.Tensor:
    n, c = t.shape[:2]
    parts = torch.chunk(t, groups, dim=1)
    stats = [_stat(kind, p, (1, 2, 3), eps).expand(n, c // groups, 1, 1) for p in parts]
    return torch.cat(stats, dim=1)


ELEMENTWISE = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / _safe(b, 1e-6),
    "max": torch.maximum,
    "neg": lambda a: -a,
    "sigmoid": lambda a: 1 / (1 + torch.exp(-a)),
    "tanh": torch.tanh,
    "exp": torch.exp,
    "log": lambda a: torch.log(torch.clamp(a.abs(), min=1e-12)),
    "abs": torch.abs,
    "square": lambda a: a * a,
    "sqrt": lambda a: (
        torch.where(torch.signbit(a), -1.0, 1.0) * torch.sqrt(torch.clamp(a.abs(), min=1e-12))
    ),
}

AXES = {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3)}


def interpret(
    graph: LayerGraph, x: torch.Tensor, v0: torch.Tensor, v1: torch.Tensor, groups: int, eps: float
) -> torch.Tensor:
    """Train-mode output of ``graph`` before the output affine, broadcast to x's shape."""
    full = x.shape
    values = [x, torch.zeros(full), v0.view(1, -1, 1, 1).expand(full), v1.view(1, -1, 1, 1)]
    values[3] = values[3].expand(full)
    for i in range(NUM_INITIAL, graph.num_nodes):
        node = graph.node(i)
        args = [values[j].expand(full) for j in node.inputs]
        if node.op in ELEMENTWISE:
            out = ELEMENTWISE[node.op](*args)
        else:
            kind, axes = node.op.split("_")
            if axes == "group":
                out = _group(kind, args[0], groups, eps)
            else:
                out = _stat(kind, args[0], AXES[axes], eps)
        values.append(out.expand(full))
    return values[-1]
