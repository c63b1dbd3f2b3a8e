"""``evonorm report``: a markdown report of a search, with its figures, from the storage alone.

Written: ``report.md``; ``pareto_front.png``, ``best_so_far.png``, ``rejection_funnel.png``; one
``layer_<trial>.png`` per top layer; ``rerank.png`` once reranked. Sections: settings, census,
figures, the top accepted layers (Pareto rank, then mean accuracy) with formula, per-anchor
accuracy and picture; then, when they have run, the rerank table (finalists beside the
baselines, the kept layers named) and the transfer tables.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from evonorm.evolve import Search
from evonorm.evolve.after import ranked, rerank_summary, transfer_summary
from evonorm.space import LayerGraph
from evonorm.tracking.gate import kept_evidence, verdict
from evonorm.tracking.plots import funnel, graph_figure, search_figures

__all__ = ["rerank_figure", "rerank_markdown", "transfer_markdown", "write_report"]


def _pct(values) -> str:
    """Mean ± sample std (the champion gate's) over seeds, in percent."""
    values = [100 * v for v in values]
    std = np.std(values, ddof=1) if len(values) > 1 else 0.0
    return f"{np.mean(values):.2f} ± {std:.2f}"


def _label(name: str, kept: dict[str, str]) -> str:
    published = [k for k, v in kept.items() if v == name]
    return f"**{published[0]}** ({name})" if published else name


def rerank_markdown(summary: dict) -> list[str]:
    """The rerank table: per architecture mean ± std (%) over seeds, best first."""
    archs, kept = summary["archs"], summary["kept"]
    lines = [
        "## Rerank",
        "",
        f"Finalists and baselines retrained for {summary['steps']} steps (preset "
        f"`{summary['preset']}`), scored on the `{summary['split']}` split that the search never "
        f"used; mean ± std over seeds {summary['seeds']}. Kept: "
        + (", ".join(f"`{k}` = {v}" for k, v in kept.items()) or "none")
        + ".",
        "",
        f"| rank | layer | formula | {' | '.join(archs)} | mean |",
        f"|---:|---|---|{'---:|' * len(archs)}---:|",
    ]
    for i, row in enumerate(summary["rows"], 1):
        cells = " | ".join(_pct(row["accuracy"][a]) for a in archs)
        failed = f" ({row['failed']} failed)" if row["failed"] else ""
        name = _label(row["name"], kept) + (" *(baseline)*" if row["kind"] == "baseline" else "")
        lines.append(
            f"| {i} | {name} | `{row['formula'][:80]}` | {cells} | "
            f"{100 * row['metrics']['rerank_accuracy']:.2f}{failed} |"
        )
    return [*lines, "", *gate_markdown(summary)]


def gate_markdown(summary: dict) -> list[str]:
    """The champion gate's verdict on each kept layer (what the registry will do with it)."""
    lines = [
        "### Champion gate",
        "",
        "A kept layer is crowned only if it beat BN-ReLU in this rerank (tracking/gate.py).",
        "",
    ]
    verdicts = {name: verdict(e) for name, e in kept_evidence(summary, "").items()}
    for name, gate in verdicts.items():
        lines.append(f"- `{name}`: {'passed' if gate.passed else 'failed'}: {gate.reason}")
    if not any(gate.passed for gate in verdicts.values()):
        lines.append("- No layer passed: this search crowns nothing.")
    return [*lines, ""]


def rerank_figure(summary: dict):
    rows = summary["rows"][::-1]
    figure, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    colours = ["tab:grey" if r["kind"] == "baseline" else "tab:blue" for r in rows]
    ax.barh(
        [_label(r["name"], summary["kept"]).replace("*", "") for r in rows],
        [100 * r["metrics"]["rerank_accuracy"] for r in rows],
        color=colours,
    )
    best = max(100 * r["metrics"]["rerank_accuracy"] for r in rows)
    ax.set_xlim(max(0.0, best - 25), best + 2)
    ax.set_xlabel("mean held-out accuracy (%) over architectures and seeds")
    ax.set_title("Rerank (blue: finalists, grey: baselines)")
    figure.tight_layout()
    return figure


def transfer_markdown(transfer: dict) -> list[str]:
    """One table per transfer task that has run."""
    lines = []
    if "segmentation" in transfer:
        seg = transfer["segmentation"]
        s = seg["settings"]
        lines += [
            "## Transfer: instance segmentation (Mask R-CNN)",
            "",
            f"{s['train_canvases']} training / {s['eval_canvases']} held-out canvases of "
            f"{s['canvas']}² px, {s['steps']} steps of batch {s['batch_size']}, seed {s['seed']}; "
            "COCO AP (%) on held-out canvases.",
            "",
            "| layer | box AP | box AP50 | mask AP | mask AP50 | s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, r in seg["layers"].items():
            keys = ("box_ap", "box_ap50", "mask_ap", "mask_ap50")
            values = " | ".join("failed" if r[k] < 0 else f"{100 * r[k]:.1f}" for k in keys)
            lines.append(f"| {_label(name, seg.get('kept', {}))} | {values} | {r['seconds']:.0f} |")
        lines.append("")
    if "gan" in transfer:
        gan = transfer["gan"]
        s = gan["settings"]
        lines += [
            "## Transfer: GAN (DCGAN generator)",
            "",
            f"{s['steps']} steps of batch {s['batch_size']}, seed {s['seed']}; Fréchet distance "
            f"over {s['samples']} samples in the features of a Fashion-MNIST classifier trained "
            f"here ({100 * gan['classifier']['accuracy']:.1f} % accurate). Lower is better.",
            "",
            "| layer | FID | s |",
            "|---|---:|---:|",
        ]
        for name, r in gan["layers"].items():
            fid = "failed" if r["fid"] is None else f"{r['fid']:.2f}"
            lines.append(f"| {_label(name, gan.get('kept', {}))} | {fid} | {r['seconds']:.0f} |")
        lines.append("")
    return lines


def threads_line(records) -> str:
    """How many torch threads scored the accepted layers. CPU scores move slightly with the
    count (docs/benchmarks.md), so a study scored under several counts says so."""
    counts = Counter(
        (r.attrs.get("metrics") or {}).get("threads") for r in records if r.status == "accepted"
    )
    known = sorted((n, c) for n, c in counts.items() if n is not None)
    if not known:
        return "Torch threads per scoring worker: not recorded."
    if len(known) == 1 and None not in counts:
        return f"Torch threads per scoring worker: {known[0][0]} (every accepted layer)."
    parts = [f"threads={n}: {c}" for n, c in known]
    if None in counts:
        parts.append(f"not recorded: {counts[None]}")
    return (
        f"**Accepted layers were scored under several torch thread counts** ({'; '.join(parts)}"
        "). CPU scores differ slightly by thread count, so near-equal ranks may reflect the mix."
    )


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
        *(f"| {k} | {v} |" for k, v in search.stored_attrs().items()),
        "",
        f"**{census.done} candidates recorded**: {census.accepted} accepted, {census.rejected} "
        f"rejected, {census.duplicates} duplicates, {census.errors} errors; {census.lost} lost "
        "to dead workers and re-evaluated.",
        "",
        threads_line(records),
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
        lines.append(
            f"| {i} | {r.number} | `{r.attrs['formula']}` | {accs} | "
            f"{100 * float(np.mean(r.values)):.2f} |"
        )
    lines.append("")
    for i, r in enumerate(best, 1):
        graph = LayerGraph.from_dict(r.attrs["graph"])
        figure = graph_figure(graph, title=f"#{i} (trial {r.number}): {graph.formula()}"[:120])
        figure.savefig(out / f"layer_{r.number}.png", dpi=100)
        plt.close(figure)
        lines.append(f"![layer {r.number}](layer_{r.number}.png)")
    lines.append("")
    summary = rerank_summary(search)
    if summary:
        figure = rerank_figure(summary)
        figure.savefig(out / "rerank.png", dpi=110)
        plt.close(figure)
        lines += [*rerank_markdown(summary), "![Rerank](rerank.png)", ""]
    lines += transfer_markdown(transfer_summary(search))
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
