"""The op vocabulary of the search space: 12 element-wise ops and 12 aggregations.

Op names are part of the public graph file format (``evonorm.graph/v1``); never rename one.

Element-wise ops act on broadcastable tensors. Three of them are *protected* so that any graph
evaluates to a number for every input (a bad layer is for rejection to judge, never a crash):

- ``div(a, b)`` divides by ``b`` pushed away from zero: ``b' = copysign(max(|b|, 1e-6), b)``
  (a zero denominator counts as positive). Where ``|b| >= 1e-6`` it is exact division.
- ``log(a)`` is the natural log of the magnitude: ``log(max(|a|, 1e-12))``. Exact on ``a >= 1e-12``.
- ``sqrt(a)`` is the odd extension ``copysign(sqrt(max(|a|, 1e-12)), a)``. Exact on ``a >= 1e-12``;
  the floor keeps its gradient finite at zero.

Aggregations take one tensor and return a statistic that broadcasts back to the input's shape.
Each is a statistic over an axis set of the (N, C, H, W) input:

- ``mean_X``: the mean, ``mu_X(a)``;
- ``sqmean_X``: the uncentred second moment, ``mu_X(a*a)``;
- ``std_X``: ``sqrt(mu_X((a - mu_X(a))**2) + eps)`` with the biased variance and ``eps`` from the
  layer (default 1e-5), so it is never below ``sqrt(eps)``.

``X`` is ``batch`` (N, H, W; uses running estimates in eval mode), ``layer`` (C, H, W),
``instance`` (H, W) or ``group`` (C/g, H, W with g groups of channels).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

DIV_FLOOR = 1e-6
LOG_FLOOR = 1e-12
SQRT_FLOOR = 1e-12


class Kind(enum.Enum):
    ELEMENTWISE = "elementwise"
    AGGREGATION = "aggregation"


#: Axes reduced by each aggregation family, as names of (N, C, H, W) dimensions.
AXES: dict[str, tuple[str, ...]] = {
    "batch": ("N", "H", "W"),
    "layer": ("C", "H", "W"),
    "instance": ("H", "W"),
    "group": ("C/g", "H", "W"),
}

STATISTICS = ("mean", "sqmean", "std")


@dataclass(frozen=True)
class Op:
    """One primitive of the search space."""

    name: str
    arity: int
    kind: Kind
    symbol: str  # how the paper writes it
    statistic: str | None = None  # mean | sqmean | std, aggregations only
    axes: str | None = None  # batch | layer | instance | group, aggregations only
    commutative: bool = False

    @property
    def is_aggregation(self) -> bool:
        return self.kind is Kind.AGGREGATION

    @property
    def uses_batch(self) -> bool:
        """True when the op mixes samples of a batch (and needs running statistics)."""
        return self.axes == "batch"


def _elementwise() -> list[Op]:
    e = Kind.ELEMENTWISE
    return [
        Op("add", 2, e, "a + b", commutative=True),
        Op("mul", 2, e, "a × b", commutative=True),
        Op("div", 2, e, "a / b"),
        Op("max", 2, e, "max(a, b)", commutative=True),
        Op("neg", 1, e, "−a"),
        Op("sigmoid", 1, e, "σ(a)"),
        Op("tanh", 1, e, "tanh(a)"),
        Op("exp", 1, e, "exp(a)"),
        Op("log", 1, e, "log|a|"),
        Op("abs", 1, e, "|a|"),
        Op("square", 1, e, "a²"),
        Op("sqrt", 1, e, "sign(a)·√|a|"),
    ]


_STAT_SYMBOL = {"mean": "μ_{I}(a)", "sqmean": "μ_{I}(a²)", "std": "s_{I}(a)"}
_AXES_LETTER = {"batch": "b", "layer": "l", "instance": "i", "group": "g"}


def _aggregations() -> list[Op]:
    return [
        Op(
            f"{stat}_{axes}",
            1,
            Kind.AGGREGATION,
            _STAT_SYMBOL[stat].replace("{I}", _AXES_LETTER[axes]),
            statistic=stat,
            axes=axes,
        )
        for axes in AXES
        for stat in STATISTICS
    ]


#: All primitives by name, element-wise first, in a fixed order (random draws index into it).
OPS: dict[str, Op] = {op.name: op for op in _elementwise() + _aggregations()}

ELEMENTWISE_OPS = tuple(name for name, op in OPS.items() if not op.is_aggregation)
AGGREGATION_OPS = tuple(name for name, op in OPS.items() if op.is_aggregation)

#: The searchable spaces: ``B`` has every op; ``S`` has no batch aggregation, so its layers
#: treat each sample independently (no running statistics, any batch size).
SPACES: dict[str, tuple[str, ...]] = {
    "B": tuple(OPS),
    "S": tuple(name for name, op in OPS.items() if not op.uses_batch),
}
