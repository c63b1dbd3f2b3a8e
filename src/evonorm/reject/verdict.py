"""The outcome of one rejection stage (or of the whole chain)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Stage", "Verdict"]


class Stage(enum.StrEnum):
    """Where the chain stopped a layer, in the order it runs; ``ACCEPTED`` when none did.
    ``WORKER`` marks a candidate whose worker died too often (crash recovery), ``BUDGET`` one
    that went past its memory or time budget (:mod:`evonorm.proxy.limits`) at any stage."""

    STRUCTURAL = "structural"
    FINGERPRINT = "fingerprint"
    STABILITY = "stability"
    QUALITY = "quality"
    ACCEPTED = "accepted"
    WORKER = "worker"
    BUDGET = "budget"


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    stage: Stage
    reason: str = ""
    metrics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", Stage(self.stage))  # a JSON string read back

    def to_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "stage": self.stage,
            "reason": self.reason,
            "metrics": self.metrics,
        }
