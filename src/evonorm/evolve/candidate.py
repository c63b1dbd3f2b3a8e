"""A candidate layer bound to a trial, and the outcome of evaluating it — both plain JSON, so the
steps of a search can run in different processes or pods and talk only through the storage."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field

from evonorm.space import LayerGraph

__all__ = ["Candidate", "Outcome"]


@dataclass(frozen=True)
class Candidate:
    """One layer to evaluate. ``cid`` names the candidate for its whole life: a candidate whose
    worker died is re-queued under a new trial with the same ``cid``."""

    graph: LayerGraph
    space: str
    generation: int  # 0 for random layers; parent's generation + 1 for mutants
    origin: str  # "random" | "mutation"
    parent: int | None = None  # trial number of the tournament winner
    cid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    trial: int | None = None  # the trial that evaluates it (set when bound)

    @property
    def structural_hash(self) -> str:
        return self.graph.prune().structural_hash()

    def attrs(self) -> dict:
        """The trial's user attributes describing this candidate (JSON values)."""
        return {
            "cid": self.cid,
            "graph": self.graph.to_dict(),
            "formula": self.graph.formula(),
            "hash": self.structural_hash,
            "space": self.space,
            "generation": self.generation,
            "origin": self.origin,
            "parent": self.parent,
        }

    @classmethod
    def from_attrs(cls, attrs: dict, trial: int | None = None) -> Candidate:
        return cls(
            graph=LayerGraph.from_dict(attrs["graph"]),
            space=attrs["space"],
            generation=int(attrs["generation"]),
            origin=attrs["origin"],
            parent=attrs.get("parent"),
            cid=attrs["cid"],
            trial=trial,
        )

    def to_json(self) -> str:
        return json.dumps({**self.attrs(), "trial": self.trial}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        data = json.loads(text)
        return cls.from_attrs(data, data.get("trial"))


@dataclass(frozen=True)
class Outcome:
    """What evaluating a candidate found. ``status`` is ``accepted`` (scores per anchor),
    ``rejected`` (``stage`` and ``reason``), ``duplicate`` (same structure or function as trial
    ``duplicate_of``: its result is reused) or ``error`` (``reason`` holds the error text)."""

    trial: int
    status: str
    scores: dict[str, float] = field(default_factory=dict)
    stage: str = ""
    reason: str = ""
    fingerprint: str = ""
    duplicate_of: int | None = None
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in ("accepted", "rejected", "duplicate", "error"):
            raise ValueError(f"unknown outcome status {self.status!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        return cls(**json.loads(text))
