"""The messages between a search's steps: a candidate layer bound to a trial, the rejection
chain's verdict on it (:class:`Screened`) and the outcome of evaluating it. All are plain JSON,
so the steps can run in different processes or pods and talk only through the storage.
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import asdict, dataclass, field

from evonorm.reject.verdict import Verdict
from evonorm.space import LayerGraph

__all__ = ["Candidate", "Outcome", "Screened", "Status"]


class Status(enum.StrEnum):
    """What a recorded trial came to (its ``status`` attribute)."""

    ACCEPTED = "accepted"  # passed the chain and was trained: scores per anchor
    REJECTED = "rejected"  # stopped by a stage of the chain: stage and reason
    DUPLICATE = "duplicate"  # same structure or function as an earlier trial: its result reused
    ERROR = "error"  # an unexpected exception (a bug) or a worker that died too often


@dataclass(frozen=True)
class Candidate:
    """One layer to evaluate. ``cid`` names the candidate for its whole life: a candidate whose
    worker died is re-queued under a new trial with the same ``cid``."""

    graph: LayerGraph
    space: str
    generation: int  # 0 for random layers; parent's generation + 1 for mutants
    origin: str  # "random" | "mutation" | "seed" (a known layer of a warm start) | "near-miss"
    parent: int | None = None  # trial number of the tournament winner (or of the near miss)
    mutation: str = ""  # which mutation made it (space.mutations), "" for random layers
    cid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    trial: int | None = None  # the trial that evaluates it (set when bound)

    @property
    def structural_hash(self) -> str:
        return self.graph.prune().structural_hash()

    def attrs(self) -> dict:
        """The trial's user attributes describing this candidate (JSON values); a re-queued
        trial gets exactly these, read back through :meth:`from_attrs`."""
        return {
            "cid": self.cid,
            "graph": self.graph.to_dict(),
            "formula": self.graph.formula(),
            "hash": self.structural_hash,
            "space": self.space,
            "generation": self.generation,
            "origin": self.origin,
            "parent": self.parent,
            "mutation": self.mutation,
        }

    @classmethod
    def from_attrs(cls, attrs: dict, trial: int | None = None) -> Candidate:
        return cls(
            graph=LayerGraph.from_dict(attrs["graph"]),
            space=attrs["space"],
            generation=int(attrs["generation"]),
            origin=attrs["origin"],
            parent=attrs.get("parent"),
            mutation=attrs.get("mutation", ""),
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
    status: Status
    scores: dict[str, float] = field(default_factory=dict)
    stage: str = ""
    reason: str = ""
    fingerprint: str = ""
    duplicate_of: int | None = None
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "status", Status(self.status))
        except ValueError:
            raise ValueError(f"unknown outcome status {self.status!r}") from None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Screened:
    """What the rejection step hands the training step: the candidate and the chain's verdict
    with the seconds it took, or an outcome already decided there: the error when the chain
    itself failed (a bug), or the rejection of a candidate that went past its budget."""

    candidate: Candidate
    verdict: Verdict | None = None
    seconds: float = 0.0
    outcome: Outcome | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "candidate": json.loads(self.candidate.to_json()),
                "verdict": self.verdict and self.verdict.to_dict(),
                "seconds": self.seconds,
                "outcome": self.outcome and asdict(self.outcome),
            },
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> Screened:
        data = json.loads(text)
        candidate = data["candidate"]
        return cls(
            candidate=Candidate.from_attrs(candidate, candidate.get("trial")),
            verdict=Verdict(**data["verdict"]) if data["verdict"] else None,
            seconds=data["seconds"],
            outcome=Outcome(**data["outcome"]) if data["outcome"] else None,
        )
