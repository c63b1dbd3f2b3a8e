"""Torch kernels for the aggregation ops, and the element-wise ops as code templates.

Every op of :data:`evonorm.space.ops.OPS` has exactly one entry here: element-wise ops in
:data:`ELEMENTWISE`, aggregations through :func:`aggregation_call`. The functions below import
only torch, because the code generator copies their source into standalone layer files.

Statistics of half-precision inputs are computed in float32 and cast back to the input's dtype.
Aggregations keep the reduced dimensions (size 1), so their results broadcast back over the input.
"""

from __future__ import annotations

import torch

from evonorm.space.ops import DIV_FLOOR, LOG_FLOOR, OPS, SQRT_FLOOR

_DIMS = {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3)}


def _upcast(a: torch.Tensor) -> torch.Tensor:
    """Half-precision inputs are reduced in float32; float32/float64 stay as they are."""
    return a.float() if a.dtype in (torch.float16, torch.bfloat16) else a


def _reduce(statistic: str, a: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    a32 = _upcast(a)
    if statistic == "mean":
        return a32.mean(dims, keepdim=True)
    if statistic == "sqmean":
        return (a32 * a32).mean(dims, keepdim=True)
    return torch.sqrt(a32.var(dims, correction=0, keepdim=True) + eps)


def aggregate(statistic: str, a: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    """Layer, instance (and batch in training) statistics over ``dims``, float32, cast back."""
    return _reduce(statistic, a, dims, eps).to(a.dtype)


def aggregate_group(
    statistic: str, a: torch.Tensor, groups: int, channels: int, eps: float
) -> torch.Tensor:
    """A statistic over (C/g, H, W) for each of ``groups`` channel groups, shaped (N, C, 1, 1)."""
    n, c, h, w = a.shape
    if c != channels:  # a per-sample constant along C: spread it so the groups exist
        a = a.expand(n, channels, h, w)
    grouped = a.reshape(n, groups, channels // groups, h, w)
    stat = _reduce(statistic, grouped, (2, 3, 4), eps)  # (N, g, 1, 1, 1)
    return stat.expand(n, groups, channels // groups, 1, 1).reshape(n, channels, 1, 1).to(a.dtype)


def aggregate_batch(
    statistic: str,
    a: torch.Tensor,
    running: torch.Tensor,
    training: bool,
    momentum: float,
    eps: float,
) -> torch.Tensor:
    """A statistic over (N, H, W). Training uses the batch (biased variance) and moves the
    running estimate by ``momentum``; eval mode uses the running estimate. ``std`` keeps a running
    *variance*, updated with the unbiased n/(n-1) correction."""
    if training:
        dims = (0, 2, 3)
        a32 = _upcast(a)
        if statistic == "std":
            var = a32.var(dims, correction=0, keepdim=True)
            with torch.no_grad():
                n = a.numel() // a.shape[1]
                unbiased = var * (n / max(n - 1, 1))
                running.lerp_(unbiased.reshape(-1).to(running.dtype), momentum)
            return torch.sqrt(var + eps).to(a.dtype)
        stat = _reduce(statistic, a, dims, eps)
        with torch.no_grad():
            running.lerp_(stat.reshape(-1).to(running.dtype), momentum)
        return stat.to(a.dtype)
    stat = _upcast(running).reshape(1, -1, 1, 1)
    if statistic == "std":
        stat = torch.sqrt(stat + eps)
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


def aggregation_call(op_name: str, operand: str, running: str | None) -> str:
    """The Python call computing aggregation ``op_name`` on ``operand`` inside a layer's forward
    (which has ``self`` with ``eps``, ``groups``, ``num_features``, ``momentum``, ``training``)."""
    op = OPS[op_name]
    stat = repr(op.statistic)
    if op.axes == "group":
        return f"aggregate_group({stat}, {operand}, self.groups, self.num_features, self.eps)"
    if op.axes == "batch":
        return (
            f"aggregate_batch({stat}, {operand}, {running}, self.training, self.momentum, self.eps)"
        )
    return f"aggregate({stat}, {operand}, {_DIMS[op.axes]!r}, self.eps)"


#: The kernel functions generated code may call, in dependency order (for standalone files).
KERNEL_FUNCTIONS = (_upcast, _reduce, aggregate, aggregate_group, aggregate_batch)
