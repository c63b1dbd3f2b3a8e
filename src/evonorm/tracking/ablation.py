"""Write an ablation's results (:mod:`evonorm.evolve.ablation`) as markdown with a plot.

The file is regenerated on every run of ``evonorm experiment ablation``; whatever follows the
line ``NOTES_MARKER`` in an existing file (the written analysis) is kept.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import statistics
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from evonorm.evolve.ablation import (
    RERANKED,
    AblationResult,
    Curve,
    display_name,
    pick_seeds,
    references,
    rescore_seeds,
)
from evonorm.proxy.presets import get_preset
from evonorm.space.mutations import mix_text

__all__ = ["NOTES_MARKER", "best_so_far_figure", "markdown", "write_results"]

NOTES_MARKER = "<!-- analysis: kept when this file is regenerated -->"
_COLOURS = {"random": "#7f7f7f", "evolution": "#d62728", "improved": "#1f77b4", "warm": "#2ca02c"}
_LABELS = {
    "random": "random search + rejection",
    "evolution": "evolution + rejection (paper)",
    "improved": "evolution, improved",
    "warm": "evolution, warm start",
}


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100 * value:.1f}"


def best_so_far_figure(curves: list[Curve], budget: int) -> Figure:
    """Best mean search accuracy vs candidates evaluated: one thin line per seed, the mean over
    seeds thick (once every seed has accepted a layer); the dotted line marks a third of the
    budget."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for arm in _LABELS:
        mine = [c for c in curves if c.arm == arm]
        for c in mine:
            ax.plot(
                range(1, len(c.best) + 1),
                100 * np.asarray(c.best),
                color=_COLOURS[arm],
                alpha=0.35,
                linewidth=0.8,
            )
        length = min((len(c.best) for c in mine), default=0)
        if length:
            # drawn from the point where every seed has accepted a layer
            mean = np.array([c.best[:length] for c in mine], dtype=float).mean(axis=0)
            ax.plot(
                range(1, length + 1),
                100 * mean,
                color=_COLOURS[arm],
                linewidth=2.2,
                label=f"{_LABELS[arm]} (mean of {len(mine)} seeds)",
            )
    ax.axvline(budget / 3, color="black", linestyle=":", linewidth=1, label="N/3")
    ax.set_xlabel("candidates evaluated")
    ax.set_ylabel("best mean anchor accuracy so far (%)")
    ax.set_xlim(1, budget)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def _average(row, archs) -> float:
    means = [row.mean(a) for a in archs]
    return statistics.fmean(means) if all(math.isfinite(m) for m in means) else float("nan")


def _arms_line(config) -> list[str]:
    if not {"improved", "warm"} & set(config.arms):
        return []
    mix = mix_text(config.improved_mutations)
    near = (
        f", {config.improved_near_misses:g} of the children bred from near misses (an op on top "
        "of a normaliser rejected for having no activation)"
        if config.improved_near_misses
        else ""
    )
    scale = " (up to a per-channel factor)" if config.improved_up_to_scale else ""
    keep = ", which never age out of its population" if config.warm_keep_seeds else ""
    return [
        f"- Arms: {', '.join(config.arms)}. The improved arm (docs/evolution.md): mutations "
        f"{mix}, distinct children{scale}, accepted layers trained under {config.improved_repeats} "
        f"seeds (their mean is the score), mutation from {config.improved_warmup} accepted "
        f"layers on{near}; the warm arm the same, started from {', '.join(config.warm_layers)}"
        f"{keep}.",
        "- CPU-seconds: each candidate's evaluation (and, for distinct arms, proposal) time on a "
        "one-thread worker, summed; two workers shared the two cores.",
    ]


def markdown(result: AblationResult, *, command: str, root: Path, plot: str) -> str:
    config = result.config
    preset = get_preset(config.preset)
    archs = config.archs
    anchors = set(preset.anchor_names)
    head = " | ".join(f"{a}{' (held-out)' if a not in anchors else ''}" for a in archs)
    lines = [
        "# Results: the ablation at proxy scale",
        "",
        "Does evolution with rejection find better layers than random layers, random layers "
        "that pass rejection, and random search with rejection — with BN-ReLU, BN-SiLU, GN-ReLU "
        "and the EvoNorms beside them (the paper's ablation, `../shared/docs/paper-notes.md` "
        "§7)? Generated by the command below; the analysis at the end is written by hand.",
        "",
        f"- Command: `{command}`",
        f"- Preset `{config.preset}` ({preset.dataset}); space {config.space}; budget N = "
        f"{config.budget} candidates per arm and seed; seeds 0–{config.seeds - 1}; evolution: "
        f"population {config.population}, tournament {config.tournament}, Pareto selection, "
        f"mutation from {config.warmup} accepted layers on.",
        *_arms_line(config),
        f"- Every row trained with the rerank budget ({preset.rerank_train.steps} steps, batch "
        f"{preset.rerank_train.batch_size}), accuracy on the `rerank` split "
        f"({preset.rerank_size} images never scored by the search); the data split and the "
        "training use the seed of the search they come from.",
        f"- Wall time: {result.wall_seconds / 60:.1f} min in all runs of this ablation "
        f"(studies and trainings in `{root}`).",
        f"- Machine: {_machine()}; written {dt.date.today().isoformat()}.",
        "",
        "## Table",
        "",
        "Top-1 accuracy (%) on the held-out split, mean ± std over seeds (baselines, the two "
        "searches) or over sampled layers (the two Random rows; n = layers).",
        "",
        f"| layer | n | {head} | mean |",
        "|---|---:|" + "---:|" * (len(archs) + 1),
    ]
    for row in result.rows:
        n = max((len(v) for v in row.cells.values()), default=0)
        cells = " | ".join(
            f"{_pct(row.mean(a))} ± {_pct(row.std(a))}" if row.cells[a] else "–" for a in archs
        )
        lines.append(f"| {row.name} | {n} {row.over} | {cells} | {_pct(_average(row, archs))} |")
    lines += ["", "Layers behind the search rows (one per seed) and the random samples:", ""]
    for row in result.rows:
        if row.kind != "baseline" and row.layers:
            shown = "; ".join(f"`{f}`" for f in row.layers[:12])
            more = f" (+{len(row.layers) - 12} more)" if len(row.layers) > 12 else ""
            lines.append(f"- {row.name}: {shown}{more}")
    lines += [
        "",
        "## Search efficiency",
        "",
        f"![best-so-far]({plot})",
        "",
        "Best mean anchor accuracy on the `search` split after each candidate (the score the "
        "searches select on). Both arms draw the same random layers until evolution starts "
        "mutating, so their curves start together.",
        "",
        "| seed | arm | accepted | rejected | duplicates | CPU-s per candidate | "
        "candidates per CPU-hour | best at N |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in sorted(result.curves, key=lambda c: (c.seed, c.arm)):
        per = c.seconds / max(1, len(c.best))
        best = c.best[-1] if c.best else float("nan")
        lines.append(
            f"| {c.seed} | {c.arm} | {c.accepted} | {c.rejected} | {c.duplicates} | "
            f"{per:.1f} | {3600 / per if per else float('nan'):.0f} | {_pct(best)} |"
        )
    lines += [
        "",
        f"Candidates and CPU-seconds each evolution arm needed to reach random search's best at "
        f"N = {config.budget} (targets: ≤ N/3 = {config.budget // 3} candidates, ≤ ½ of random "
        "search's CPU-seconds):",
        "",
        "| seed | arm | random search best at N | arm best at N | reached it after | "
        "CPU-s then / random search's at N |",
        "|---:|---|---:|---:|---|---:|",
    ]
    for e in result.efficiency():
        needed = e["needed"]
        if needed is None:
            verdict, ratio = "never (within N)", "—"
        else:
            meets = "meets" if needed <= config.budget / 3 else "misses"
            verdict = f"{needed} candidates ({meets} the target)"
            ratio = f"{e['needed_seconds'] / max(e['random_seconds'], 1e-9):.2f}"
        lines.append(
            f"| {e['seed']} | {e['arm']} | {_pct(e['random_best'])} | {_pct(e['best'])} | "
            f"{verdict} | {ratio} |"
        )
    lines += rescored_markdown(result)
    return "\n".join(lines) + "\n"


def rescored_markdown(result: AblationResult) -> list[str]:
    """Each arm's best-so-far layers re-scored under one protocol, and the issue-14 targets
    read from them (the search scores above are single-protocol, selection-biased)."""
    config = result.config
    if not result.rescored:
        return []
    preset = get_preset(config.preset)
    anchors, held = preset.anchor_names, config.held_out
    each = held if len(held) > 1 else ()  # one column per held-out network beside their mean
    seeds = ", ".join(str(s) for s in rescore_seeds(config))
    lines = [
        "",
        "### Best-so-far layers re-scored",
        "",
        f"Each arm's best layer (by its search score) after N/3 = {config.budget // 3} and N = "
        f"{config.budget} candidates, and for the evolution arms within half of random "
        f"search's CPU-seconds at N, trained again with seeds {seeds} (rerank budget, `rerank` "
        "split of the search's seed), beside BN-ReLU under the same protocol. Means over those "
        "seeds and the networks."
        + (
            f" `{RERANKED}`: the arm's best at N as the paper names it, the best mean over the "
            f"anchors of its top {config.rerank_top} layers by search score retrained with pick "
            f"seeds {', '.join(map(str, pick_seeds(config)))} (rerank budget, scored on the "
            "`search` split, so neither the rerank split nor the held-out networks choose it)."
            if config.rerank_top
            else ""
        ),
        "",
        "| seed | arm | at | candidates | layer | search score | anchors | held-out |"
        + "".join(f" {a} |" for a in each),
        "|---:|---|---|---:|---|---:|---:|---:|" + "---:|" * len(each),
    ]
    for r in sorted(result.rescored, key=lambda r: (r.point.seed, r.point.arm, r.point.at)):
        p = r.point
        n = len(r.cells.get(anchors[0], []))
        lines.append(
            f"| {p.seed} | {p.arm} | {p.at} | {p.candidates or '—'} | `{p.graph.formula()[:50]}` "
            f"| {_pct(p.search_score)} | {_pct(r.mean(anchors))} ({n}) | {_pct(r.mean(held))} |"
            + "".join(f" {_pct(r.mean([a]))} |" for a in each)
        )
    lines += [
        "",
        "Targets, re-scored (per seed; an empty cell: not reached yet; held-out: the mean over "
        + ", ".join(held)
        + ("; each network's lead follows it" if each else "")
        + "):",
        "",
    ]
    lines += [
        "| seed | arm | at N/3 ≥ RS at N | half CPU ≥ RS at N | "
        "at N ≥ BN-ReLU (anchors, held-out) | reranked at N ≥ BN-ReLU (anchors, held-out) |"
    ]
    lines += ["|---:|---|---|---|---|---|"]
    found = {(r.point.seed, r.point.arm, r.point.at): r for r in result.rescored}

    def beats(a, b, archs, *, per_network: bool = False) -> str:
        if a is None or b is None or not all(math.isfinite(x.mean(archs)) for x in (a, b)):
            return ""
        ahead = a.mean(archs) - b.mean(archs)
        per = _leads(a, b, archs) if per_network else ""
        return f"{'yes' if ahead >= 0 else 'no'} ({100 * ahead:+.1f}{per})"

    for seed in range(config.seeds):
        rs, bn = found.get((seed, "random", "N")), found.get((seed, "bn_relu", "reference"))
        for arm in config.arms:
            if arm == "random":
                continue
            third, half = (found.get((seed, arm, at)) for at in ("N/3", "half CPU"))
            versus_bn = []
            for best in (found.get((seed, arm, at)) for at in ("N", RERANKED)):
                on_held = beats(best, bn, held, per_network=bool(each))
                versus_bn.append(f"{beats(best, bn, anchors)}, {on_held}".strip(", "))
            lines.append(
                f"| {seed} | {arm} | {beats(third, rs, anchors)} | {beats(half, rs, anchors)} | "
                f"{' | '.join(versus_bn)} |"
            )
    if "warm" in config.arms:
        lines += warm_target_markdown(result, found)
    return lines


def warm_target_markdown(result: AblationResult, found: dict) -> list[str]:
    """The warm-started arm's target: its best at N leads the best known layer (re-scored, same
    seed) on the anchors by more than twice BN-ReLU's seed std, and leads the best known layer
    on the held-out networks too."""
    config = result.config
    anchors, held = get_preset(config.preset).anchor_names, config.held_out
    known = references(config)
    lines = [
        "",
        "Warm start against the best known layer (" + ", ".join(known) + "), re-scored: the "
        "target is a lead on the anchors of more than 2× BN-ReLU's std over the re-scoring "
        "seeds, and a lead on the held-out networks over the best known layer there:",
        "",
        "| seed | at | warm | anchors: best known | lead | 2× BN-ReLU std | held-out: best known "
        "| lead | met |",
        "|---:|---|---|---|---:|---:|---|---:|---|",
    ]
    for seed, at in ((s, at) for s in range(config.seeds) for at in ("N", RERANKED)):
        warm, bn = found.get((seed, "warm", at)), found.get((seed, "bn_relu", "reference"))
        refs = [found[(seed, n, "reference")] for n in known if (seed, n, "reference") in found]
        trained = (*anchors, *held)
        refs = [r for r in refs if math.isfinite(r.mean(trained))]
        if warm is None or bn is None or not refs or not math.isfinite(warm.mean(trained)):
            continue
        top_a = max(refs, key=lambda r: r.mean(anchors))
        top_h = max(refs, key=lambda r: r.mean(held))
        lead_a, lead_h = (
            warm.mean(anchors) - top_a.mean(anchors),
            warm.mean(held) - top_h.mean(held),
        )
        bar = 2 * bn.seed_std(anchors)
        met = "–" if not math.isfinite(bar) else "yes" if lead_a > bar and lead_h > 0 else "no"
        name_a, name_h = display_name(top_a.point.arm), display_name(top_h.point.arm)
        lines.append(
            f"| {seed} | {at} | `{warm.point.graph.formula()[:40]}` | {name_a} "
            f"{_pct(top_a.mean(anchors))} | {100 * lead_a:+.1f} | {_pct(bar)} | "
            f"{name_h} {_pct(top_h.mean(held))} | {100 * lead_h:+.1f}"
            f"{_leads(warm, top_h, held) if len(held) > 1 else ''} | {met} |"
        )
    return lines


def _leads(a, b, archs) -> str:
    """``; NET +x.x`` for each network: ``a``'s lead over ``b`` there, in points."""
    return "".join(f"; {x} {100 * (a.mean([x]) - b.mean([x])):+.1f}" for x in archs)


def write_results(result: AblationResult, out: Path, *, command: str, root: Path) -> Path:
    """Write ``out`` (markdown) and its plot beside it; keep the notes of an existing ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot = out.with_name(f"{out.stem}-best-so-far.png")
    fig = best_so_far_figure(result.curves, result.config.budget)
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    notes = f"\n{NOTES_MARKER}\n\n## Analysis\n\n(not written yet)\n"
    if out.exists() and NOTES_MARKER in out.read_text():
        notes = "\n" + NOTES_MARKER + out.read_text().split(NOTES_MARKER, 1)[1]
    text = markdown(result, command=command, root=root, plot=plot.name) + notes
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out
