"""Torch kernels for the aggregation ops, and the element-wise ops as code templates.

Every op of :data:`evonorm.space.ops.OPS` has exactly one entry here: element-wise ops in
:data:`ELEMENTWISE`, aggregations through :func:`aggregation_call`. The functions below import
only torch, because the code generator copies their source into standalone layer files.

Every aggregation of a tensor is derived from its per-(sample, channel) mean and variance over
(H, W), computed once per tensor (``hw_moments``): one full pass however many statistics a graph
takes of the same node. Statistics of half-precision inputs are computed in float32 and cast back
to the input's dtype. Aggregations keep the reduced dimensions (size 1), so their results
broadcast back over the input.
"""

from __future__ import annotations

import torch

from evonorm.space.ops import DIV_FLOOR, LOG_FLOOR, OPS, SQRT_FLOOR

# Dimensions reduced beyond (H, W) by the instance and layer statistics.
_EXTRA_DIMS = {"layer": (1,), "instance": ()}


def _upcast(a: torch.Tensor) -> torch.Tensor:
    """Half-precision inputs are reduced in float32; float32/float64 stay as they are."""
    return a.float() if a.dtype in (torch.float16, torch.bfloat16) else a


class _HWMoments(torch.autograd.Function):
    """Mean and biased variance over (H, W), centred in two passes, with a hand-written backward.

    On CPU, ``torch.var_mean`` over (H, W) runs a scalar Welford loop that costs ~10x two
    vectorised means, and autograd's backward of the centred form takes four more passes. The
    gradient is one fused op: d/da = g_mean / n + g_var * 2 (a - mean) / n (bench/layer_speed.py,
    docs/benchmarks.md). First-order only: nothing in the search differentiates a gradient."""

    @staticmethod
    def forward(ctx, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = a.mean((2, 3), keepdim=True)
        centred = a - mean
        var = (centred * centred).mean((2, 3), keepdim=True)
        ctx.save_for_backward(centred)
        return mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_mean: torch.Tensor, grad_var: torch.Tensor) -> torch.Tensor:
        (centred,) = ctx.saved_tensors
        n = centred.shape[2] * centred.shape[3]
        return torch.addcmul(grad_mean / n, centred, grad_var * (2.0 / n))


def hw_moments(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-(sample, channel) mean and biased variance over (H, W): the only full pass over ``a``
    that its aggregations need. Every axis set (batch, layer, instance, group) contains H and W,
    so each statistic follows exactly from these two small tensors."""
    return _HWMoments.apply(_upcast(a))


def hw_moments_shifted(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`hw_moments` as plain sums, for fused code: ``torch.compile`` turns them into one
    cheap reduction, where a Welford variance costs a division per element. The data are shifted
    by their first value per (sample, channel) first, so E[d²] - E[d]² does not cancel the way
    E[a²] - E[a]² does when |mean| >> std. Same statistic, other rounding."""
    a = _upcast(a)
    shift = a[:, :, :1, :1].detach()
    d = a - shift
    mean_d = d.mean((2, 3), keepdim=True)
    var = ((d * d).mean((2, 3), keepdim=True) - mean_d * mean_d).clamp_min(0.0)
    return mean_d + shift, var


def _combine(
    statistic: str, mean: torch.Tensor, var: torch.Tensor, dims: tuple[int, ...], eps: float
) -> torch.Tensor:
    """A statistic over ``dims`` of groups of equal size whose means and variances are given.
    The variance uses the law of total variance (mean of variances + variance of means), which
    stays accurate where E[a²] - E[a]² would cancel."""
    if statistic == "mean":
        return mean.mean(dims, keepdim=True)
    if statistic == "sqmean":
        return (var + mean * mean).mean(dims, keepdim=True)
    total = var.mean(dims, keepdim=True) + mean.var(dims, correction=0, keepdim=True)
    return torch.sqrt(total + eps)


def aggregate(
    statistic: str,
    a: torch.Tensor,
    moments: tuple[torch.Tensor, torch.Tensor],
    dims: tuple[int, ...],
    eps: float,
) -> torch.Tensor:
    """Instance (``dims=()``) or layer (``dims=(1,)``) statistics from ``hw_moments(a)``."""
    mean, var = moments
    if dims:
        return _combine(statistic, mean, var, dims, eps).to(a.dtype)
    if statistic == "mean":
        return mean.to(a.dtype)
    if statistic == "sqmean":
        return (var + mean * mean).to(a.dtype)
    return torch.sqrt(var + eps).to(a.dtype)


def aggregate_group(
    statistic: str,
    a: torch.Tensor,
    moments: tuple[torch.Tensor, torch.Tensor],
    groups: int,
    channels: int,
    eps: float,
) -> torch.Tensor:
    """A statistic over (C/g, H, W) for each of ``groups`` channel groups, shaped (N, C, 1, 1)."""
    mean, var = moments
    n = mean.shape[0]
    if mean.shape[1] != channels:  # a per-sample constant along C: spread it so groups exist
        mean, var = mean.expand(n, channels, 1, 1), var.expand(n, channels, 1, 1)
    per_group = channels // groups
    mean = mean.reshape(n, groups, per_group)
    var = var.reshape(n, groups, per_group)
    stat = _combine(statistic, mean, var, (2,), eps)  # (N, g, 1)
    return stat.expand(n, groups, per_group).reshape(n, channels, 1, 1).to(a.dtype)


def aggregate_batch(
    statistic: str,
    a: torch.Tensor,
    moments: tuple[torch.Tensor, torch.Tensor],
    running: torch.Tensor,
    training: bool,
    momentum: float,
    eps: float,
) -> torch.Tensor:
    """A statistic over (N, H, W). Training uses the batch (biased variance) and moves the
    running estimate by ``momentum``; eval mode uses the running estimate. ``std`` keeps a running
    *variance*, updated with the unbiased n/(n-1) correction."""
    if not training:
        stat = _upcast(running).reshape(1, -1, 1, 1)
        if statistic == "std":
            stat = torch.sqrt(stat + eps)
        return stat.to(a.dtype)
    mean, var = moments
    if statistic == "std":
        var = var.mean(0, keepdim=True) + mean.var(0, correction=0, keepdim=True)
        with torch.no_grad():
            n = a.numel() // a.shape[1]
            unbiased = var * (n / max(n - 1, 1))
            running.lerp_(unbiased.reshape(-1).to(running.dtype), momentum)
        return torch.sqrt(var + eps).to(a.dtype)
    stat = _combine(statistic, mean, var, (0,), eps)
    with torch.no_grad():
        running.lerp_(stat.reshape(-1).to(running.dtype), momentum)
    return stat.to(a.dtype)


#: Initial value of the running estimate kept by each batch statistic.
RUNNING_INIT = {"mean": 0.0, "sqmean": 1.0, "std": 1.0}

#: Element-wise ops as Python expressions over operands ``{a}`` and ``{b}``. ``safe`` variants
#: apply where the code generator has proved the protection a no-op (see ``positivity``).
ELEMENTWISE: dict[str, str] = {
    "add": "{a} + {b}",
    "mul": "{a} * {b}",
    "div": f"{{a}} / {{b}}.abs().clamp_min({DIV_FLOOR!r}).copysign({{b}})",
    "max": "torch.maximum({a}, {b})",
    "neg": "-{a}",
    "sigmoid": "torch.sigmoid({a})",
    "tanh": "torch.tanh({a})",
    "exp": "torch.exp({a})",
    "log": f"torch.log({{a}}.abs().clamp_min({LOG_FLOOR!r}))",
    "abs": "{a}.abs()",
    "square": "{a} * {a}",
    "sqrt": f"torch.sqrt({{a}}.abs().clamp_min({SQRT_FLOOR!r})).copysign({{a}})",
}

#: Cheaper exact forms: ``div`` by a denominator proved >= the floor, ``log``/``sqrt`` of an
#: operand proved non-negative.
ELEMENTWISE_SAFE: dict[str, str] = {
    "div": "{a} / {b}",
    "log": f"torch.log({{a}}.clamp_min({LOG_FLOOR!r}))",
    "sqrt": f"torch.sqrt({{a}}.clamp_min({SQRT_FLOOR!r}))",
}


def aggregation_call(op_name: str, operand: str, moments: str, running: str | None) -> str:
    """The Python call computing aggregation ``op_name`` of ``operand`` (whose ``hw_moments`` are
    in variable ``moments``) inside a layer's forward, where ``self`` has ``eps``, ``groups``,
    ``num_features``, ``momentum`` and ``training``."""
    op = OPS[op_name]
    stat = repr(op.statistic)
    head = f"{stat}, {operand}, {moments}"
    if op.axes == "group":
        return f"aggregate_group({head}, self.groups, self.num_features, self.eps)"
    if op.axes == "batch":
        return f"aggregate_batch({head}, {running}, self.training, self.momentum, self.eps)"
    return f"aggregate({head}, {_EXTRA_DIMS[op.axes]!r}, self.eps)"


#: The kernel functions generated code may call, in dependency order (for standalone files).
KERNEL_FUNCTIONS = (
    _upcast,
    _HWMoments,
    hw_moments,
    _combine,
    aggregate,
    aggregate_group,
    aggregate_batch,
)
