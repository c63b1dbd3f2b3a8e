"""The search: a population of candidate layers in Optuna storage, evolved step by step.

The only package that imports optuna. See docs/evolution.md for the design.
"""

from evonorm.evolve.candidate import Candidate, Outcome
from evonorm.evolve.search import Census, Record, Search, SearchConfig, SearchError
from evonorm.evolve.selection import (
    Evolution,
    Member,
    RandomSearch,
    pareto_front,
    pareto_indices,
)
from evonorm.evolve.storage import StorageError, StorageSpec, open_storage

__all__ = [
    "Candidate",
    "Census",
    "Evolution",
    "Member",
    "Outcome",
    "RandomSearch",
    "Record",
    "Search",
    "SearchConfig",
    "SearchError",
    "StorageError",
    "StorageSpec",
    "open_storage",
    "pareto_front",
    "pareto_indices",
]
