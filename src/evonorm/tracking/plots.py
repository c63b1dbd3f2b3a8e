"""Matplotlib figures for a search: a layer's graph, the Pareto front, best-so-far, the funnel.
Each function returns a Figure (Agg backend; no display needed); callers save and close it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from evonorm.space import OPS, LayerGraph
from evonorm.space.graph import INITIAL_NODES, NUM_INITIAL

__all__ = [
    "FUNNEL",
    "best_so_far_figure",
    "funnel",
    "funnel_figure",
    "graph_figure",
    "pareto_figure",
    "search_figures",
]

FUNNEL = (
    "structural",
    "fingerprint",
    "stability",
    "quality",
    "budget",
    "worker",
    "error",
    "accepted",
    "duplicate",
)

_KIND_COLOURS = {"initial": "#d9d9d9", "elementwise": "#9ecae1", "aggregate": "#fdae6b"}


def graph_figure(graph: LayerGraph, title: str = "") -> Figure:
    """The live graph drawn left to right by depth: inputs grey, element-wise ops blue,
    aggregations orange, the output outlined."""
    g = graph.prune()
    depth: dict[int, int] = dict.fromkeys(range(NUM_INITIAL), 0)
    for i in range(NUM_INITIAL, g.num_nodes):
        depth[i] = 1 + max(depth[j] for j in g.node(i).inputs)
    used = {j for i in range(NUM_INITIAL, g.num_nodes) for j in g.node(i).inputs}
    shown = [i for i in range(g.num_nodes) if i >= NUM_INITIAL or i in used]
    columns: dict[int, list[int]] = {}
    for i in shown:
        columns.setdefault(depth[i], []).append(i)
    pos = {}
    for d, members in columns.items():
        for k, i in enumerate(members):
            pos[i] = (d, (len(members) - 1) / 2 - k)
    width = max(4.0, 1.6 * (max(columns) + 1))
    height = max(2.5, 0.9 * max(len(m) for m in columns.values()) + 1)
    fig, ax = plt.subplots(figsize=(width, height))
    for i in range(NUM_INITIAL, g.num_nodes):
        for j in g.node(i).inputs:
            ax.annotate(
                "",
                xy=pos[i],
                xytext=pos[j],
                arrowprops={"arrowstyle": "->", "color": "#636363", "shrinkA": 14, "shrinkB": 14},
            )
    for i in shown:
        if i < NUM_INITIAL:
            label, kind = INITIAL_NODES[i], "initial"
        else:
            op = OPS[g.node(i).op]
            label, kind = op.name, ("aggregate" if op.axes else "elementwise")
        ax.text(
            *pos[i],
            label,
            ha="center",
            va="center",
            fontsize=8,
            bbox={
                "boxstyle": "round,pad=0.35",
                "fc": _KIND_COLOURS[kind],
                "ec": "black" if i == g.output else "none",
                "lw": 1.5,
            },
        )
    ax.set_xlim(-0.6, max(columns) + 0.6)
    ys = [y for _, y in pos.values()]
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    ax.set_title(title or g.formula(), fontsize=9)
    fig.tight_layout()
    return fig


def pareto_figure(
    scores: Sequence[Sequence[float]], front: Sequence[int], names: Sequence[str]
) -> Figure:
    """Accepted layers by their first two scores (colour: the third, if any); the Pareto front
    (indices into ``scores``) circled."""
    fig, ax = plt.subplots(figsize=(5, 4))
    if scores:
        xs, ys = [s[0] for s in scores], [s[1] for s in scores]
        colour = [s[2] for s in scores] if len(names) > 2 else None
        points = ax.scatter(xs, ys, c=colour, cmap="viridis", s=18)
        if colour is not None:
            fig.colorbar(points, ax=ax, label=names[2])
        ax.scatter(
            [xs[i] for i in front],
            [ys[i] for i in front],
            s=80,
            facecolors="none",
            edgecolors="red",
            label="Pareto front",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if len(names) > 1 else "")
    ax.set_title("Accepted layers (held-out accuracy)", fontsize=10)
    fig.tight_layout()
    return fig


def best_so_far_figure(curves: dict[str, Sequence[float]]) -> Figure:
    """Best average accuracy against candidates evaluated, one line per labelled curve."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, values in curves.items():
        ax.step(range(1, len(values) + 1), values, where="post", label=label)
    ax.set_xlabel("candidates evaluated")
    ax.set_ylabel("best average accuracy")
    if len(curves) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def funnel_figure(counts: dict[str, int]) -> Figure:
    """Candidates ending at each stage (horizontal bars, in order)."""
    fig, ax = plt.subplots(figsize=(5, 0.45 * len(counts) + 1))
    labels = list(counts)
    ax.barh(labels[::-1], [counts[k] for k in labels][::-1], color="#6baed6")
    for y, k in enumerate(labels[::-1]):
        ax.text(counts[k], y, f" {counts[k]}", va="center", fontsize=8)
    ax.set_xlabel("candidates")
    ax.set_title("Where candidates ended", fontsize=10)
    fig.tight_layout()
    return fig


def funnel(records) -> dict[str, int]:
    """Recorded candidates (``evonorm.evolve.Record``s) by the stage they ended at; duplicates
    under ``duplicate``."""
    counts = dict.fromkeys(FUNNEL, 0)
    for r in records:
        if r.status == "duplicate":
            counts["duplicate"] += 1
        elif r.status == "error":
            counts["error"] += 1
        elif r.status in ("accepted", "rejected"):
            stage = r.attrs.get("stage", "")
            counts[stage if stage in counts else "error"] += 1
    return counts


def search_figures(records, anchors: Sequence[str], label: str) -> dict[str, Figure]:
    """The search-level figures from a search's records, by file name."""
    from evonorm.evolve.selection import pareto_indices

    scores = [r.values for r in records if r.state == "COMPLETE" and r.values]
    recorded = sorted(
        (r for r in records if r.status and r.completed), key=lambda r: (r.completed, r.number)
    )
    best, curve = -math.inf, []
    for r in recorded:
        if r.state == "COMPLETE" and r.values:
            best = max(best, float(np.mean(r.values)))
        curve.append(best if best > -math.inf else math.nan)
    return {
        "pareto_front.png": pareto_figure(scores, pareto_indices(scores), list(anchors)),
        "best_so_far.png": best_so_far_figure({label: curve}),
        "rejection_funnel.png": funnel_figure(funnel(records)),
    }
