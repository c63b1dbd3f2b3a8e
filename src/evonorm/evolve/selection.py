"""How a search proposes its next layer: regularized evolution with a multi-objective tournament,
or random search through the same machinery. Pure functions of the population — no storage.

Regularized evolution (Real et al. 2019), as used by the paper with K architecture scores:
- the *population* is the newest ``population_size`` accepted layers (older ones age out);
  with ``keep_seeds``, accepted seed layers of a warm start never age out: they stay in the
  tournament's pool beside the newest ``population_size`` (a champion keeps breeding however
  fast its neighbours fill the population);
- until the population holds ``warmup`` members (default: full), children are random graphs;
  when random layers are rarely accepted, a small ``warmup`` lets mutation start early while the
  population keeps growing to its size;
- a *tournament* draws ``tournament`` members (a count, or a fraction of the population)
  uniformly without replacement; its winner is a uniformly drawn member of the tournament's
  Pareto front over the K scores (``selection="pareto"``, the paper's choice) or the member with
  the best average score (``selection="average"``);
- the child is the winner mutated, redrawn until its live graph differs from the winner's — a
  mutation of a dead node would only re-score the parent. ``mutations`` mixes the catalogue of
  :mod:`evonorm.space.mutations` by probability; the default is the paper's redraw alone;
- with ``novel`` searches (:class:`~evonorm.evolve.search.SearchConfig`), children whose
  structure the search already evaluated are redrawn too (random search as well): a layer with
  a one-node live graph has few distinct mutants, and re-proposing rejected ones spends the
  budget on duplicates. ``distinct`` searches do the same by *function*: ``key`` maps a graph to
  its functional fingerprint, so ``x + 0`` is avoided once ``x*1`` was proposed;
- *near misses*: the fingerprint rejects normalisers without an activation (``x / std_batch(x)``)
  before training, so they never join the population, yet one op on top makes them norm-act
  layers. A search with ``near_misses = p`` breeds each child with probability ``p`` from one
  of its newest near misses by :func:`~evonorm.space.mutations.put_on_top`
  (:func:`near_miss_child`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from evonorm.evolve.candidate import Candidate
from evonorm.space import LayerGraph, random_graph
from evonorm.space.mutations import DEFAULT_MIX, check_mix, mutate_by, put_on_top

__all__ = [
    "SELECTIONS",
    "STRATEGIES",
    "Evolution",
    "Member",
    "RandomSearch",
    "near_miss_child",
    "pareto_front",
    "pareto_indices",
]

SELECTIONS = ("pareto", "average")  # tournament winner: Pareto front over anchors, or mean
MAX_MUTATION_DRAWS = 1000  # ~50 µs each; a live graph of one node changes in ~1 % of draws
MAX_NOVEL_DRAWS = 100  # random graphs redrawn while already evaluated
NOVEL_RESELECT = 200  # mutation draws before a new tournament when avoiding evaluated layers
Key = Callable[[LayerGraph], str]  # what makes two layers "the same" for ``avoid``


def structure(graph: LayerGraph) -> str:
    """The structural hash of the live graph: the default ``key`` of ``avoid``."""
    return graph.prune().structural_hash()


@dataclass(frozen=True)
class Member:
    """An accepted layer of the population: its trial, its K scores (higher is better)."""

    trial: int
    scores: tuple[float, ...]
    graph: LayerGraph
    generation: int = 0
    seed: bool = False  # a seed layer of a warm start (exempt from ageing with keep_seeds)

    @property
    def average(self) -> float:
        return float(np.mean(self.scores))


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def pareto_indices(scores: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the score vectors no other one dominates (>= on every score, > on one)."""
    return [i for i, s in enumerate(scores) if not any(_dominates(o, s) for o in scores)]


def pareto_front(members: Sequence[Member]) -> list[Member]:
    """The members no other member dominates; order kept."""
    return [members[i] for i in pareto_indices([m.scores for m in members])]


@dataclass(frozen=True)
class RandomSearch:
    """Every child is a fresh random graph of the space."""

    name = "random"

    def child(
        self,
        population: Sequence[Member],
        rng: np.random.Generator,
        space: str,
        avoid: AbstractSet[str] = frozenset(),
        key: Key = structure,
    ):
        """A random graph; redrawn (at most ``MAX_NOVEL_DRAWS`` times) while its ``key`` (by
        default the structural hash) is in ``avoid``."""
        graph = random_graph(rng, space)
        for _ in range(MAX_NOVEL_DRAWS if avoid else 0):
            if key(graph) not in avoid:
                break
            graph = random_graph(rng, space)
        return Candidate(graph, space, generation=0, origin="random")


def tournament_value(given: str | float) -> int | float:
    """A tournament size as given on a command line or a run form: a whole number (``4``,
    ``"4"``, ``4.0``) is a count, anything else (``0.25``) a fraction of the population.
    One ``ValueError`` for text that is not a number."""
    try:
        value = float(given)
    except (TypeError, ValueError):
        raise ValueError(f"tournament must be a count or a fraction, got {given!r}") from None
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class Evolution:
    """Regularized evolution with a tournament; see the module docstring."""

    population_size: int = 16
    tournament: int | float = 4
    selection: str = "pareto"
    warmup: int | None = None  # members needed before mutating (None: population_size)
    mutations: dict[str, float] | None = None  # mutation -> probability (None: the paper's)
    keep_seeds: bool = False  # accepted seed layers stay in the pool (never age out)

    name = "evolution"

    def __post_init__(self) -> None:
        if isinstance(self.population_size, bool) or not isinstance(self.population_size, int):
            raise ValueError(f"population_size must be an int >= 2, got {self.population_size!r}")
        if self.population_size < 2:
            raise ValueError(f"population_size must be >= 2, got {self.population_size}")
        t = self.tournament
        if isinstance(t, bool) or not isinstance(t, int | float):
            raise ValueError(f"tournament must be a count or a fraction, got {t!r}")
        if isinstance(t, int) and not 1 <= t <= self.population_size:
            raise ValueError(
                f"tournament must be in [1, population_size={self.population_size}] as a count, "
                f"got {t}"
            )
        if isinstance(t, float) and not 0.0 < t <= 1.0:
            raise ValueError(f"tournament must be in (0, 1] as a fraction, got {t}")
        w = self.warmup
        if w is not None and (
            isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= self.population_size
        ):
            raise ValueError(
                f"warmup must be in [1, population_size={self.population_size}], got {w!r}"
            )
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.mutations is not None:
            check_mix(self.mutations)
        if not isinstance(self.keep_seeds, bool):
            raise ValueError(f"keep_seeds must be true or false, got {self.keep_seeds!r}")

    def pool(self, population: Sequence[Member]) -> list[Member]:
        """The members a tournament draws from (``population`` newest first): the newest
        ``population_size``, and with ``keep_seeds`` every older seed layer after them."""
        pool = list(population[: self.population_size])
        if self.keep_seeds:
            pool += [m for m in population[self.population_size :] if m.seed]
        return pool

    def tournament_size(self, population: int) -> int:
        if isinstance(self.tournament, float):
            return max(1, min(population, round(self.tournament * population)))
        return min(self.tournament, population)

    def select(self, population: Sequence[Member], rng: np.random.Generator) -> Member:
        """The tournament winner among ``population``."""
        k = self.tournament_size(len(population))
        picked = [population[int(i)] for i in rng.choice(len(population), size=k, replace=False)]
        if self.selection == "average":
            return max(picked, key=lambda m: m.average)
        front = pareto_front(picked)
        return front[int(rng.integers(len(front)))]

    def child(
        self,
        population: Sequence[Member],
        rng: np.random.Generator,
        space: str,
        avoid: AbstractSet[str] = frozenset(),
        key: Key = structure,
    ):
        """``population`` is newest first; only its :meth:`pool` counts. With ``avoid``
        (``key``s already evaluated: structural hashes by default), mutants in it are redrawn,
        a new tournament held every ``NOVEL_RESELECT`` draws; after ``MAX_MUTATION_DRAWS`` the
        last mutant stands (the rejection chain then reports it as a duplicate)."""
        pool = self.pool(population)
        if len(pool) < (self.warmup or self.population_size):
            return RandomSearch().child(pool, rng, space, avoid, key)
        winner = self.select(pool, rng)
        parent_hash = structure(winner.graph)
        mix = self.mutations or DEFAULT_MIX
        for draw in range(1, MAX_MUTATION_DRAWS + 1):
            name, graph = mutate_by(winner.graph, rng, mix)
            if structure(graph) != parent_hash and (not avoid or key(graph) not in avoid):
                break
            if avoid and draw % NOVEL_RESELECT == 0:
                winner = self.select(pool, rng)
                parent_hash = structure(winner.graph)
        return Candidate(
            graph,
            space,
            generation=winner.generation + 1,
            origin="mutation",
            parent=winner.trial,
            mutation=name,
        )


def near_miss_child(
    near_misses: Sequence[Member],
    rng: np.random.Generator,
    space: str,
    avoid: AbstractSet[str] = frozenset(),
    key: Key = structure,
) -> Candidate | None:
    """An op put on top of a uniformly drawn near miss (a normaliser the chain rejected for
    having no activation), redrawn while its ``key`` is in ``avoid``; None when there is no near
    miss or none yields a new child."""
    for _ in range(NOVEL_RESELECT if near_misses else 0):
        parent = near_misses[int(rng.integers(len(near_misses)))]
        graph = put_on_top(parent.graph, rng)
        if graph is not None and key(graph) not in avoid:
            return Candidate(
                graph,
                space,
                generation=parent.generation + 1,
                origin="near-miss",
                parent=parent.trial,
                mutation="top",
            )
    return None


STRATEGIES = {"evolution": Evolution, "random": RandomSearch}
