"""Functional fingerprints: equal layers get equal fingerprints, whatever their graphs look like.

A layer's fingerprint hashes its outputs on fixed-seed inputs: two train-mode passes (a standard
normal batch, then a scaled and shifted one, which also moves any running statistics) and one
eval-mode pass, with ``v0``/``v1`` set to fixed random values so that layers using them
differently differ. Outputs are rounded to float16 (about three significant digits) before
hashing, so rounding noise between equivalent computations (``x*v1`` vs ``v1*x``, reassociated
sums) rarely changes the fingerprint; ``x + 0`` and ``x`` match exactly. A rare miss only costs a
re-evaluation; a collision of different layers would need equal outputs on all three passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from evonorm.compile import build_layer
from evonorm.space import LayerGraph

SHAPE = (4, 8, 3, 3)  # N, C, H, W; 8 channels, 4 groups
GROUPS = 4


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(20200403)
    x1 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    x2 = 3.0 * torch.randn(SHAPE, generator=g, dtype=torch.float64) + 0.5
    v0 = 0.5 * torch.randn(SHAPE[1], generator=g, dtype=torch.float64)
    v1 = 1.0 + 0.5 * torch.randn(SHAPE[1], generator=g, dtype=torch.float64)
    return x1, x2, v0, v1


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # hex SHA-256 of the rounded outputs
    finite: bool  # every output of the three passes is finite
    depends_on_x: bool  # the two train-mode passes give different outputs


def fingerprint(graph: LayerGraph) -> Fingerprint:
    """The layer's outputs on fixed inputs (computed in float64), rounded and hashed."""
    x1, x2, v0, v1 = _inputs()
    layer = build_layer(graph, SHAPE[1], groups=GROUPS, dtype=torch.float64)
    with torch.no_grad():
        if hasattr(layer, "v0"):
            layer.v0.copy_(v0)
        if hasattr(layer, "v1"):
            layer.v1.copy_(v1)
        outputs = [layer(x1), layer(x2)]
        layer.eval()
        outputs.append(layer(x1))
    digest = hashlib.sha256()
    for y in outputs:
        rounded = y.to(torch.float16)
        rounded = torch.where(torch.isnan(rounded), torch.full_like(rounded, float("nan")), rounded)
        digest.update(rounded.numpy().tobytes())
    return Fingerprint(
        digest=digest.hexdigest(),
        finite=all(bool(torch.isfinite(y).all()) for y in outputs),
        depends_on_x=not torch.equal(outputs[0], outputs[1]),
    )
