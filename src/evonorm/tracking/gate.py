"""The champion gate: a layer is crowned only when it beat BN-ReLU in its own rerank.

A layer passes when, in one rerank run:

- BN-ReLU was reranked beside it;
- the run covered at least one held-out network (one the search never scored on);
- its mean accuracy over the rerank networks beats BN-ReLU's by more than BN-ReLU's seed
  standard deviation for the preset (:attr:`evonorm.proxy.presets.Preset.seed_std`, or the
  spread the rerank itself measured over its seeds, whichever is larger; a preset where it was
  never measured needs a rerank over two or more seeds);
- it is never more than :data:`MAX_DROP` below BN-ReLU on any rerank network.

The registry (:func:`evonorm.tracking.publish_layer`) applies the gate to every version it
registers; the report shows the same verdicts. :class:`RerankEvidence` is what the gate reads:
it is built from a search's stored rerank summary (:func:`evidence_from_rerank`) and carried in
the version's tags.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from evonorm.proxy.presets import get_preset

__all__ = [
    "MAX_DROP",
    "GateDecision",
    "RerankEvidence",
    "evidence_from_rerank",
    "kept_evidence",
    "verdict",
]

MAX_DROP = 0.02  # the most a champion may lose to BN-ReLU on any one rerank network
BASELINE = "bn_relu"


@dataclass(frozen=True)
class RerankEvidence:
    """One layer's rerank beside BN-ReLU. Accuracies are fractions (means over seeds)."""

    search: str  # the search the layer came from
    protocol: str  # preset revision + rerank budget, split and networks (see Preset.protocol)
    layer: Mapping[str, float]  # per rerank network
    bn_relu: Mapping[str, float] | None  # per rerank network; None: not reranked beside it
    held_out: tuple[str, ...]  # rerank networks the search never scored on
    seed_std: float | None  # BN-ReLU's seed std of the mean (None: never measured)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.layer.values())

    @property
    def bn_relu_mean(self) -> float | None:
        return statistics.fmean(self.bn_relu.values()) if self.bn_relu else None


@dataclass(frozen=True)
class GateDecision:
    """The champion gate's decision on one layer (not to be confused with the rejection
    chain's :class:`evonorm.reject.verdict.Verdict` on a candidate)."""

    passed: bool
    reason: str  # why it passed or failed, one line


def verdict(evidence: RerankEvidence | None) -> GateDecision:
    """The gate's verdict on ``evidence`` (None: the layer was never reranked)."""
    if evidence is None:
        return GateDecision(False, "no rerank: the layer was never reranked beside BN-ReLU")
    if not evidence.bn_relu:
        return GateDecision(False, "BN-ReLU was not reranked beside it")
    if evidence.seed_std is None:
        return GateDecision(
            False,
            "BN-ReLU's seed std is not measured for this preset: rerank with two or more seeds",
        )
    failures = []
    if not evidence.held_out:
        failures.append("the rerank covered no held-out network")
    gap = evidence.mean - evidence.bn_relu_mean
    if gap <= evidence.seed_std:
        failures.append(
            f"mean {evidence.mean:.2%} vs BN-ReLU {evidence.bn_relu_mean:.2%} "
            f"({100 * gap:+.2f} points) does not exceed BN-ReLU's seed std "
            f"({100 * evidence.seed_std:.2f})"
        )
    for arch, accuracy in evidence.layer.items():
        reference = evidence.bn_relu.get(arch)
        if reference is None:
            failures.append(f"BN-ReLU was not reranked on {arch}")
        elif accuracy < reference - MAX_DROP:
            failures.append(
                f"{arch} {accuracy:.2%} is more than {100 * MAX_DROP:.0f} points below "
                f"BN-ReLU's {reference:.2%}"
            )
    if failures:
        return GateDecision(False, "; ".join(failures))
    return GateDecision(
        True,
        f"beats BN-ReLU by {100 * gap:.2f} points on the mean (seed std "
        f"{100 * evidence.seed_std:.2f}), within {100 * MAX_DROP:.0f} points on every network",
    )


def evidence_from_rerank(summary: Mapping, row_name: str, search: str) -> RerankEvidence:
    """The evidence for row ``row_name`` of a stored rerank summary
    (:func:`evonorm.evolve.after.rerank_summary`)."""
    rows = {row["name"]: row for row in summary["rows"]}
    preset = get_preset(summary["preset"])
    archs = list(summary["archs"])

    def means(row: Mapping) -> dict[str, float]:
        return {a: statistics.fmean(row["accuracy"][a]) for a in archs}

    baseline = rows.get(BASELINE)
    seed_std = preset.seed_std
    if baseline and len(summary["seeds"]) > 1:  # the rerank's own spread, when it measured one
        per_seed = zip(*(baseline["accuracy"][a] for a in archs), strict=True)
        measured = statistics.stdev(statistics.fmean(s) for s in per_seed)
        seed_std = measured if seed_std is None else max(seed_std, measured)
    return RerankEvidence(
        search=search,
        protocol=summary.get("protocol") or f"{summary['preset']}/unversioned",
        layer=means(rows[row_name]),
        bn_relu=means(baseline) if baseline else None,
        held_out=tuple(a for a in archs if a not in preset.anchor_names),
        seed_std=seed_std,
    )


def kept_evidence(summary: Mapping, search: str) -> dict[str, RerankEvidence]:
    """``{published name: evidence}`` for every layer the rerank kept."""
    return {
        name: evidence_from_rerank(summary, row, search) for name, row in summary["kept"].items()
    }
