"""Functional fingerprints: equal layers get equal fingerprints, whatever their graphs look like.

A layer's fingerprint hashes its outputs on fixed-seed inputs: two train-mode passes (a standard
normal batch, then a scaled and shifted one, which also moves any running statistics) and one
eval-mode pass, with ``v0``/``v1`` set to fixed random values so that layers using them
differently differ, except a parameter that gets no gradient at its initial value (``v0 = 0``,
``v1 = 1``): training never moves it, so it keeps that value in the passes too
(:func:`frozen_parameters`). Running estimates move with momentum 1, so the eval pass uses the
second pass's batch statistics: a batch statistic of something constant over the batch (``v0``, the
zero tensor) then equals that constant in eval mode too, as it does once training has
converged the estimate. Outputs are rounded to float16 (about three significant digits) before
hashing, so rounding noise between equivalent computations (``x*v1`` vs ``v1*x``, reassociated
sums) rarely changes the fingerprint; ``x + 0`` and ``x`` match exactly. A rare miss only costs a
re-evaluation; a collision of different layers would need equal outputs on all three passes.

The same outputs say whether the layer is *affine in x*: at every sample and channel, its output
over the spatial positions is ``a·x + b`` (with ``a``, ``b`` free to depend on statistics). Every
statistic in the search space is constant over a sample-channel's positions, so this is exactly
the layers that apply no element-wise nonlinearity to x: normalisers without an activation, such
as ``x / std_batch(x)`` or BatchNorm's affine part alone (docs/proxy.md, "Linear layers and the
canvas").

:func:`scale_free_digest` hashes the same outputs up to one factor per channel, its sign
included: ``sqrt(x)``, ``-sqrt(x)``, ``sqrt(x + x)`` and ``sqrt(x / v1)`` share it. The next
network layer is linear, so such a factor is a different initial gain, not a different layer;
``distinct`` searches with ``up_to_scale`` avoid proposing them again (docs/evolution.md).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from evonorm.compile import build_layer
from evonorm.space import LayerGraph

SHAPE = (4, 8, 3, 3)  # N, C, H, W; 8 channels, 4 groups
GROUPS = 4

# What the fingerprint means. A study stores it, and a search refuses to add candidates to a
# study fingerprinted by another version: its duplicates, rejections and distinct-children keys
# would not mean what the new ones mean. Bump it with every change that moves any layer's digest
# or verdict (tests/reject/test_fingerprint.py pins a few of each).
# 1: v0/v1 at fixed random values in every pass (before 2e142bd); a study that stores no
#    version was made before this constant existed and reads as 1.
# 2: parameters that training never moves keep their initial value (frozen_parameters).
FINGERPRINT_VERSION = 2


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(20200403)
    x1 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    x2 = 3.0 * torch.randn(SHAPE, generator=g, dtype=torch.float64) + 0.5
    v0 = 0.5 * torch.randn(SHAPE[1], generator=g, dtype=torch.float64)
    v1 = 1.0 + 0.5 * torch.randn(SHAPE[1], generator=g, dtype=torch.float64)
    return x1, x2, v0, v1


AFFINE_TOLERANCE = 1e-4  # residual of the best affine fit, relative to the output's spread
NORMALISED = 1.5  # a normaliser's output spread moves by at most this when x's triples


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # hex SHA-256 of the rounded outputs
    finite: bool  # every output of the three passes is finite
    depends_on_x: bool  # the two train-mode passes give different outputs
    # The largest :func:`affine_residual` over the three passes (0 for ``v1·x + v0``; 0.48 to
    # 0.95 for the known layers, bench/affine_gap.py); ``nan`` where the outputs are not finite.
    nonlinearity: float
    # The output's spread on the second train pass over its spread on the first, whose input
    # has a third of the spread: about 1 for a normaliser, 3 for ``v1·x``; ``nan`` where the
    # first pass's output is flat or not finite
    spread_ratio: float = math.nan

    @property
    def affine(self) -> bool:
        """On every pass, sample and channel the output is ``a·x + b`` over the positions."""
        return self.nonlinearity <= AFFINE_TOLERANCE

    @property
    def normaliser(self) -> bool:
        """Affine in x, varying over the positions, with a spread that does not follow the
        input's (``x / std_batch(x)``, BatchNorm without its activation): an activation put on
        top of it makes a norm-act layer. Searches may breed from such near misses."""
        return (
            self.affine and self.depends_on_x and 1 / NORMALISED <= self.spread_ratio <= NORMALISED
        )


def affine_residual(x: torch.Tensor, y: torch.Tensor) -> float:
    """The largest residual, over samples and channels, of the least-squares fit ``y ≈ a·x + b``
    across spatial positions, relative to the spread of ``y`` there (0 where ``y`` is flat)."""
    xc = (x - x.mean(dim=(2, 3), keepdim=True)).flatten(2)
    yc = (y - y.mean(dim=(2, 3), keepdim=True)).flatten(2)
    slope = (xc * yc).sum(-1, keepdim=True) / (xc * xc).sum(-1, keepdim=True)
    residual = (yc - slope * xc).norm(dim=-1)
    spread = yc.norm(dim=-1)
    relative = torch.where(spread > 1e-12, residual / spread, 0.0)
    return float(relative.max())


def _layer(graph: LayerGraph) -> torch.nn.Module:
    # momentum 1: the eval pass reads the last train pass's statistics, as a trained layer reads
    # converged ones, not a start value two updates old (which told sqmean_batch(v1) from v1²)
    return build_layer(graph, SHAPE[1], groups=GROUPS, dtype=torch.float64, momentum=1.0)


def _unmoved(layer: torch.nn.Module, names: list[str]) -> set[str]:
    """Which of ``names`` get exactly no gradient (of a random projection of the two train
    passes' outputs) at ``layer``'s current parameter values (a fresh layer: the passes move
    its running statistics)."""
    x1, x2, _, _ = _inputs()
    g = torch.Generator().manual_seed(20201206)
    with torch.enable_grad():
        outputs = [layer(x1), layer(x2)]
        projection = sum(
            (torch.randn(y.shape, generator=g, dtype=y.dtype) * y).sum() for y in outputs
        )
        if not projection.requires_grad:  # the outputs do not depend on v0 or v1 at all
            return set(names)
        grads = torch.autograd.grad(
            projection, [getattr(layer, n) for n in names], allow_unused=True
        )
    # NaN != 0, so a parameter with a NaN gradient is not frozen
    return {n for n, d in zip(names, grads, strict=True) if d is None or not (d != 0).any()}


def frozen_parameters(graph: LayerGraph) -> frozenset[str]:
    """Which of ``v0`` and ``v1`` training never moves: exactly no gradient at their initial
    values (``v0 = 0``, ``v1 = 1``), and still none once the other parameter has moved (set to
    its fingerprint value), so that ``v1`` in ``v1*v0`` is not frozen by ``v0``'s start at
    zero. Norm-layer vectors get no weight decay in the proxy's training. Examples: ``v0``
    behind a protected ``log`` of zero, inside a ``max`` whose other input wins, or in a
    statistic of a constant. Layers that differ only there train identically
    (``bench/score_repeats.py``). A heuristic: a gradient that appears only later in training
    goes unseen, and then two layers share a fingerprint that training would tell apart (a
    missed candidate, where a miss of the other kind costs a training)."""
    layer = _layer(graph)
    names = [n for n in ("v0", "v1") if hasattr(layer, n)]
    if not names:
        return frozenset()
    still = _unmoved(layer, names)
    moving = [n for n in names if n not in still]
    if still and moving:
        _, _, v0, v1 = _inputs()
        drawn = {"v0": v0, "v1": v1}
        layer = _layer(graph)
        with torch.no_grad():
            for name in moving:
                getattr(layer, name).copy_(drawn[name])
        still &= _unmoved(layer, sorted(still))
    return frozenset(still)


def passes(graph: LayerGraph) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...]]:
    """The layer's outputs on the fingerprint's three passes (float64), and the inputs
    of each pass (``x1``, ``x2``, ``x1``)."""
    x1, x2, v0, v1 = _inputs()
    frozen = frozen_parameters(graph)
    layer = _layer(graph)
    with torch.no_grad():
        if hasattr(layer, "v0") and "v0" not in frozen:
            layer.v0.copy_(v0)
        if hasattr(layer, "v1") and "v1" not in frozen:
            layer.v1.copy_(v1)
        outputs = [layer(x1), layer(x2)]
        layer.eval()
        outputs.append(layer(x1))
    return outputs, (x1, x2, x1)


def fingerprint(graph: LayerGraph) -> Fingerprint:
    """The layer's outputs on fixed inputs (computed in float64), rounded and hashed."""
    outputs, xs = passes(graph)
    finite = all(bool(torch.isfinite(y).all()) for y in outputs)
    nonlinearity = (
        max(affine_residual(x, y) for x, y in zip(xs, outputs, strict=True)) if finite else math.nan
    )
    spread = [float(y.std(dim=(2, 3)).mean()) if finite else math.nan for y in outputs[:2]]
    ratio = spread[1] / spread[0] if spread[0] > 1e-9 else math.nan
    digest = hashlib.sha256()
    for y in outputs:
        rounded = y.to(torch.float16)
        rounded = torch.where(torch.isnan(rounded), torch.full_like(rounded, float("nan")), rounded)
        digest.update(rounded.numpy().tobytes())
    return Fingerprint(
        digest=digest.hexdigest(),
        finite=finite,
        depends_on_x=not torch.equal(outputs[0], outputs[1]),
        nonlinearity=nonlinearity,
        spread_ratio=ratio,
    )


def scale_free_digest(graph: LayerGraph) -> str:
    """The fingerprint passes' outputs, each channel divided by its norm over all three passes
    and by the sign of its largest entry, rounded to float16 and hashed. A factor that moves
    between passes (a batch statistic) is not removed: ``x / std_batch(x)`` keeps its own."""
    outputs, _ = passes(graph)
    y = torch.stack(outputs).transpose(0, 2).reshape(SHAPE[1], -1)  # channel, everything else
    norm = y.norm(dim=1, keepdim=True)
    sign = torch.sign(y.gather(1, y.abs().argmax(dim=1, keepdim=True)))
    y = torch.where(norm > 1e-12, y / (norm * sign), y)
    # NaNs are hashed as they come (fingerprint() makes them one NaN), as before, and a layer
    # with NaN outputs is rejected before training anyway (keys of layers with a frozen parameter
    # changed in FINGERPRINT_VERSION 2)
    return hashlib.sha256(y.to(torch.float16).numpy().tobytes()).hexdigest()
