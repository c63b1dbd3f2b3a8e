"""The search pipeline's parameter rules, in one place: the allowed values of the choice
parameters (read from the registries that define them, so they never drift from the code), the
lower bounds of the numbers, and :func:`check_values`. The CLI checks a run's arguments with it
before any request (:mod:`evonorm.workflow.params`), the run form lists the allowed values
(:mod:`evonorm.workflow.form`), and the pipeline's first step checks them again, for runs
started from the KFP UI.
"""

from __future__ import annotations

import inspect
import re

from evonorm.evolve import SearchConfig
from evonorm.evolve.selection import SELECTIONS, STRATEGIES, tournament_value
from evonorm.proxy.architectures import ARCHITECTURES
from evonorm.proxy.presets import PRESETS
from evonorm.space import SPACES
from evonorm.space.mutations import parse_mix
from evonorm.transfer import TASKS

__all__ = ["AT_LEAST", "CHOICES", "DEVICE", "check_values", "whole_numbers"]

#: The allowed values of the choice parameters (list parameters: any subset).
CHOICES: dict[str, tuple[str, ...]] = {
    "preset": tuple(PRESETS),
    "space": tuple(SPACES),
    "strategy": tuple(STRATEGIES),
    "selection": SELECTIONS,
    "rerank_archs": tuple(ARCHITECTURES),
    "transfer_tasks": TASKS,
}
DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
AT_LEAST = {
    "generations": 1,
    "children": 1,
    "candidates_per_task": 1,
    "rerank_top": 1,
    "candidate_memory_mb": 0,
    "candidate_seconds": 0,
}


def search_config(
    *,
    preset: str,
    space: str,
    strategy: str,
    population: int,
    tournament: float | str,
    selection: str,
    seed: int,
    mutations: str = "",
    seed_layers: str = "",
    distinct: bool = False,
    repeats: int = 1,
    near_misses: float = 0.0,
    up_to_scale: bool = False,
    keep_seeds: bool = False,
    warmup: int | None = None,
    novel: bool = False,
    seed_graphs: dict[str, dict] | None = None,
) -> SearchConfig:
    """The :class:`SearchConfig` of a run form's values (text as the form holds it: the mix as
    NAME=P,..., the seed layers as a,b,..., a whole-number tournament as a count); the one
    reading of them, for the check-params step, ``init-study``, ``pipeline submit`` and
    ``evonorm evolve`` (which also sets ``warmup`` and ``novel``). ``seed_graphs`` holds the
    graphs of registry URIs among the seed layers, read by the caller (the check-params step
    only checks their form)."""
    return SearchConfig(
        preset=preset,
        space=space,
        strategy=strategy,
        population=population,
        tournament=tournament_value(tournament),
        selection=selection,
        seed=seed,
        warmup=warmup,
        novel=novel,
        mutations=parse_mix(mutations) if mutations else None,
        seed_layers=tuple(n for n in seed_layers.split(",") if n),
        distinct=bool(distinct),
        repeats=int(repeats) if isinstance(repeats, float) and repeats.is_integer() else repeats,
        near_misses=near_misses,
        up_to_scale=bool(up_to_scale),
        keep_seeds=bool(keep_seeds),
        seed_graphs=seed_graphs or {},
    )


def whole_numbers(items: list) -> list:
    """List items as KFP hands them over (a protobuf Value holds every number as a double:
    ``[0.0, 1.0]``), whole ones read back as the integers they were."""
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in items]


def check_values(values: dict) -> None:
    """Raise one ``ValueError`` naming the first parameter of ``values`` the pipeline would
    refuse and what it allows (parameters absent from ``values`` are not checked)."""
    for key, allowed in CHOICES.items():
        if key not in values:
            continue
        given = values[key]
        for value in given if isinstance(given, list) else [given]:
            if value not in allowed:
                raise ValueError(
                    f"pipeline parameter {key}={value!r} is not allowed; allowed: "
                    f"{', '.join(allowed)}"
                )
    if "device" in values and not DEVICE.match(str(values["device"])):
        raise ValueError(
            f"pipeline parameter device={values['device']!r} is not allowed; allowed: auto, "
            "cpu, cuda, cuda:N"
        )
    for key, least in AT_LEAST.items():
        if key in values and values[key] < least:
            raise ValueError(f"pipeline parameter {key}={values[key]} must be >= {least}")
    if "rerank_seeds" in values and not (
        values["rerank_seeds"] and all(isinstance(s, int) for s in values["rerank_seeds"])
    ):
        raise ValueError(
            f"pipeline parameter rerank_seeds={values['rerank_seeds']!r}: expected a non-empty "
            "list of integers, e.g. [0, 1]"
        )
    if "population" in values:
        try:
            keys = inspect.signature(search_config).parameters  # the search's settings
            search_config(**{k: v for k, v in values.items() if k in keys})
        except (ValueError, KeyError) as error:
            raise ValueError(f"pipeline parameters: {str(error).strip(chr(39))}") from None
