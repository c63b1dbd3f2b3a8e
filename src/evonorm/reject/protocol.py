"""The rejection chain and the full evaluation of one candidate layer.

Stages run cheapest first; the first that fails decides the verdict, and a bad layer never
raises:

1. ``structural`` — the pruned graph's structural hash was already evaluated (a duplicate);
2. ``fingerprint`` — the functional fingerprint (:mod:`evonorm.reject.fingerprint`) matches an
   evaluated layer (a functional duplicate), or the layer's outputs on the fixed inputs are not
   finite, or do not depend on x, or (where the preset rejects them) are affine in x: no
   activation;
3. ``stability`` — worst-case gradient norm (:mod:`evonorm.reject.stability`) on every anchor;
4. ``quality`` — a short training run on every anchor against the preset's threshold.

Stability (a few gradient steps) runs before quality (about a hundred training steps) because it
is cheaper. A layer that passes all four is ``accepted`` and fully trained on the anchors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from evonorm.proxy.data import ProxyData
from evonorm.proxy.presets import Preset
from evonorm.proxy.score import seeded_model, train_layer
from evonorm.proxy.trainer import TrainConfig, TrainResult, mean_result
from evonorm.reject.fingerprint import fingerprint
from evonorm.reject.stability import worst_case_grad_norm
from evonorm.reject.verdict import Stage, Verdict
from evonorm.space import LayerGraph, known_layer

REPEAT_STRIDE = 1000  # repeat k of a training uses seed + 1000·k, never another search's seed

Progress = Callable[[str], None]


@dataclass
class RejectionChain:
    """Runs the stages for one search. ``seen_hashes`` / ``seen_fingerprints`` map the keys of
    layers already evaluated to an identifier (e.g. a trial number), reported on a match in the
    reason and as ``metrics["duplicate_of"]``."""

    preset: Preset
    data: ProxyData
    seed: int = 0
    seen_hashes: dict[str, object] = field(default_factory=dict)
    seen_fingerprints: dict[str, object] = field(default_factory=dict)
    references: dict[str, float] = field(default_factory=dict)  # BN-ReLU at the quality budget

    def quality_config(self) -> TrainConfig:
        q = self.preset.quality
        return replace(self.preset.train, steps=q.steps, compile=q.compile)

    def reference(self, arch: str) -> float:
        """BN-ReLU's accuracy on ``arch`` after the quality budget (computed once)."""
        if arch not in self.references:
            result = train_layer(
                known_layer("bn_relu"),
                arch,
                self.preset,
                self.data,
                self.quality_config(),
                self.seed,
            )
            self.references[arch] = result.accuracy
        return self.references[arch]

    def prepare(self) -> None:
        """Train the BN-ReLU references the quality stage will need, so that no candidate's
        budget pays for them."""
        if self.preset.quality.min_relative > 0:
            for arch in self.preset.anchor_names:
                self.reference(arch)

    def run(self, graph: LayerGraph, progress: Progress | None = None) -> Verdict:
        say = progress or (lambda _: None)
        metrics: dict = {}
        structural = graph.prune().structural_hash()
        metrics["structural_hash"] = structural
        if structural in self.seen_hashes:
            metrics["duplicate_of"] = self.seen_hashes[structural]
            reason = f"duplicate: same structure as {metrics['duplicate_of']}"
            return Verdict(False, Stage.STRUCTURAL, reason, metrics)

        say("fingerprint")
        fp = fingerprint(graph)
        metrics["fingerprint"] = fp.digest
        if fp.digest in self.seen_fingerprints:
            metrics["duplicate_of"] = self.seen_fingerprints[fp.digest]
            reason = f"duplicate: same function as {metrics['duplicate_of']}"
            return Verdict(False, Stage.FINGERPRINT, reason, metrics)
        if not fp.finite:
            return Verdict(
                False, Stage.FINGERPRINT, "non-finite outputs on the test inputs", metrics
            )
        if not fp.depends_on_x:
            return Verdict(False, Stage.FINGERPRINT, "output does not depend on the input", metrics)
        if fp.affine and self.preset.reject_affine:
            reason = "affine in x at every position: a normaliser with no activation"
            metrics["normaliser"] = fp.normaliser  # a near miss searches may breed from
            return Verdict(False, Stage.FINGERPRINT, reason, metrics)

        stability = self.preset.stability
        for arch in self.preset.anchor_names:
            say(f"stability on {arch}")
            model = seeded_model(graph, arch, self.preset, self.seed)
            norm = worst_case_grad_norm(model, self.data, stability)
            metrics[f"grad_norm/{arch}"] = norm
            if not norm <= stability.max_grad_norm:
                shown = "inf" if math.isinf(norm) else f"{norm:.3g}"
                reason = (
                    f"worst-case gradient norm {shown} on {arch} exceeds "
                    f"{stability.max_grad_norm:.3g}"
                )
                return Verdict(False, Stage.STABILITY, reason, metrics)

        quality = self.preset.quality
        for arch in self.preset.anchor_names:
            say(f"quality on {arch} ({quality.steps} steps)")
            result = train_layer(
                graph, arch, self.preset, self.data, self.quality_config(), self.seed
            )
            reference = self.reference(arch) if quality.min_relative > 0 else None
            needed = quality.threshold(reference)
            metrics[f"quality/{arch}"] = result.accuracy
            if reference is not None:
                metrics[f"quality_reference/{arch}"] = reference
            if result.diverged or result.timed_out or result.accuracy < needed:
                why = result.reason or f"accuracy {result.accuracy:.1%} < {needed:.1%}"
                return Verdict(False, Stage.QUALITY, f"{arch}: {why}", metrics)
        return Verdict(True, Stage.ACCEPTED, "", metrics)


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    results: dict[str, TrainResult]  # full training per anchor (empty when rejected)
    seconds: float

    @property
    def accuracy(self) -> dict[str, float]:
        return {arch: r.accuracy for arch, r in self.results.items()}

    def to_dict(self) -> dict:
        """A JSON-safe summary: non-finite numbers become strings ("inf", "nan")."""
        return json_safe(
            {
                "accepted": self.verdict.accepted,
                "stage": self.verdict.stage,
                "reason": self.verdict.reason,
                "accuracy": self.accuracy,
                "seconds": round(self.seconds, 3),
                "metrics": self.verdict.metrics,
                "results": {arch: asdict(r) for arch, r in self.results.items()},
            }
        )


def json_safe(value):
    """``value`` with non-finite floats as strings ("inf", "nan") and dict keys as strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def evaluate(
    graph: LayerGraph,
    chain: RejectionChain,
    *,
    archs: tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """The rejection chain, then (if accepted) full training on each of ``archs`` (default:
    the preset's anchors). The one evaluation path: the CLI calls it whole, a search's workers
    and the pipeline's reject / train steps call its two halves."""
    start = time.perf_counter()
    verdict = chain.run(graph, progress)
    results = train_anchors(graph, chain, archs, progress) if verdict.accepted else {}
    return Evaluation(verdict, results, time.perf_counter() - start)


def repeat_seed(seed: int, repeat: int) -> int:
    """The training seed of a layer's ``repeat``-th training (0: the search's own seed)."""
    return seed + REPEAT_STRIDE * repeat


def train_anchors(
    graph: LayerGraph,
    chain: RejectionChain,
    archs: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    repeats: int = 1,
) -> dict[str, TrainResult]:
    """Full training (the preset's budget, the chain's data and seed) on each of ``archs``
    (default: the preset's anchors). With ``repeats`` > 1 each architecture is trained again
    with seeds :func:`repeat_seed` and scored by the mean (:func:`mean_result`)."""
    preset, results = chain.preset, {}
    for arch in archs or preset.anchor_names:
        runs = []
        for repeat in range(repeats):
            if progress:
                again = f", seed {repeat + 1} of {repeats}" if repeats > 1 else ""
                progress(f"training on {arch} ({preset.train.steps} steps{again})")
            seed = repeat_seed(chain.seed, repeat)
            runs.append(train_layer(graph, arch, preset, chain.data, preset.train, seed))
        results[arch] = mean_result(runs)
    return results
