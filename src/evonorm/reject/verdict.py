"""The outcome of one rejection stage (or of the whole chain)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    stage: str  # structural | fingerprint | stability | quality | accepted
    reason: str = ""
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"accepted": self.accepted, "stage": self.stage, "reason": self.reason,
                "metrics": self.metrics}  # fmt: skip
