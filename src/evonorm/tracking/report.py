"""``evonorm report``: a markdown report of a search, with its figures, from the storage alone.

Written: ``report.md``; ``pareto_front.png``, ``best_so_far.png``, ``rejection_funnel.png``; one
``layer_<trial>.png`` per top layer. Sections: settings, census, figures, the top accepted layers
(Pareto rank, then mean accuracy) with formula, per-anchor accuracy and picture.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from evonorm.evolve import Search, pareto_indices
from evonorm.space import LayerGraph
from evonorm.tracking.plots import funnel, graph_figure, search_figures

__all__ = ["ranked", "write_report"]


def ranked(records) -> list:
    """Accepted (non-duplicate) layers by Pareto rank (fronts peeled one by one), then by
    mean accuracy."""
    pool = [r for r in records if r.status == "accepted" and r.values]
    order = []
    while pool:
        front = [pool[i] for i in pareto_indices([r.values for r in pool])]
        order += sorted(front, key=lambda r: -float(np.mean(r.values)))
        pool = [r for r in pool if r not in front]
    return order


def write_report(search: Search, out: str | Path, *, top: int = 10) -> Path:
    """Write the report of ``search`` into folder ``out``; returns the markdown file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = search.records()
    config, census = search.config, search.census()
    anchors = list(config.anchors)
    for filename, figure in search_figures(records, anchors, config.strategy).items():
        figure.savefig(out / filename, dpi=110)
        plt.close(figure)
    lines = [
        f"# Search report: `{search.name}`",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in config.to_attrs().items()),
        "",
        f"**{census.done} candidates recorded**: {census.accepted} accepted, {census.rejected} "
        f"rejected, {census.duplicates} cache hits, {census.errors} errors; {census.lost} lost "
        "to dead workers and re-evaluated.",
        "",
        "| ended at | candidates |",
        "|---|---:|",
        *(f"| {stage} | {n} |" for stage, n in funnel(records).items()),
        "",
        "![Pareto front](pareto_front.png) ![Best so far](best_so_far.png)",
        "![Rejection funnel](rejection_funnel.png)",
        "",
        f"## Top {top} layers (Pareto rank, then mean held-out accuracy)",
        "",
        f"| rank | trial | formula | {' | '.join(anchors)} | mean |",
        f"|---:|---:|---|{'---:|' * len(anchors)}---:|",
    ]
    best = ranked(records)[:top]
    for i, r in enumerate(best, 1):
        accs = " | ".join(f"{100 * v:.2f}" for v in r.values)
        lines.append(f"| {i} | {r.number} | `{r.attrs['formula']}` | {accs} | "
                     f"{100 * float(np.mean(r.values)):.2f} |")  # fmt: skip
    lines.append("")
    for i, r in enumerate(best, 1):
        graph = LayerGraph.from_dict(r.attrs["graph"])
        figure = graph_figure(graph, title=f"#{i} (trial {r.number}): {graph.formula()}"[:120])
        figure.savefig(out / f"layer_{r.number}.png", dpi=100)
        plt.close(figure)
        lines.append(f"![layer {r.number}](layer_{r.number}.png)")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
