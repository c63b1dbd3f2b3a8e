"""Stability rejection: estimate a layer's worst-case gradient norm near initialisation.

The estimator, exactly:

- network: each anchor architecture of the preset, hosting the candidate layer, initialised
  with the given seed, in train mode;
- data: one fixed batch — the first ``batch_size`` images of the ``fit`` split, no augmentation;
- procedure: ``steps`` steps of *normalised gradient ascent on the training loss* in parameter
  space: θ ← θ + η·‖θ‖·g/‖g‖ with g = ∇θ L(θ) and η = ``step_size`` (a relative step: 5 steps of
  0.05 move the parameters by at most 25 % of their norm, an adversarial walk towards higher loss);
- statistic: the largest gradient norm ‖g‖₂ (all parameters, one vector) seen at the start
  point and after each step: the worst case over the walk. A non-finite loss or gradient counts
  as infinite.

A layer is rejected when the statistic exceeds ``max_grad_norm`` on any anchor. Layers that
explode (``exp(exp(x))``, ``x / (x - x)``) give infinite or astronomically large norms within a
step or two; well-behaved layers stay within a small multiple of their initial norm.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from evonorm.proxy.data import ProxyData
from evonorm.proxy.limits import over_budget
from evonorm.proxy.presets import StabilityConfig


def _grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list]:
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    if not torch.isfinite(loss):
        return math.inf, []
    loss.backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    return (norm if math.isfinite(norm) else math.inf), grads


def worst_case_grad_norm(model: nn.Module, data: ProxyData, config: StabilityConfig) -> float:
    """The estimator above, on one (already initialised) network."""
    model = model.to(data.device).train()
    x = data.normalise(data.images["fit"][: config.batch_size])
    y = data.labels["fit"][: config.batch_size]
    params = list(model.parameters())
    worst = 0.0
    try:
        for step in range(config.steps + 1):
            norm, grads = _grad_norm(model, x, y)
            worst = max(worst, norm)
            if not math.isfinite(worst) or step == config.steps:
                break
            with torch.no_grad():
                theta = float(torch.linalg.vector_norm(torch.stack([p.norm() for p in params])))
                scale = config.step_size * theta / max(norm, 1e-12)
                for p, g in zip(params, grads, strict=True):
                    p.add_(g, alpha=scale)
    except (RuntimeError, ValueError, ArithmeticError) as error:
        if over_budget(error):  # over the candidate's budget, not unstable
            raise
        return math.inf
    return worst
