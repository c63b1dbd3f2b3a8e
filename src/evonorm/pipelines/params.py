"""A pipeline's parameters: their defaults, ``k=v`` strings typed by the signature, and a check
of every value against the code's own registries, done before a run is started (so a bad value
never reaches a cluster) — one ``ValueError`` line naming the parameter and what it allows.
"""

from __future__ import annotations

import inspect
import json

from evonorm.evolve import SearchConfig
from evonorm.pipelines.form import CHOICES, DEVICE
from evonorm.pipelines.search import PIPELINES

__all__ = ["check_arguments", "defaults", "parse_params", "pipeline"]

_AT_LEAST = {"generations": 1, "children": 1, "rerank_top": 1}


def pipeline(name: str):
    if name not in PIPELINES:
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}")
    return PIPELINES[name]


def defaults(name: str) -> dict:
    """The pipeline's parameters and their defaults (the KFP UI form)."""
    signature = inspect.signature(pipeline(name).pipeline_func)
    return {k: p.default for k, p in signature.parameters.items()}


def parse_params(name: str, pairs: list[str]) -> dict:
    """``["k=v", …]`` → arguments typed like the pipeline's defaults."""
    known = defaults(name)
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        if key not in known:
            raise ValueError(
                f"--param {key!r}: pipeline {name} has no such parameter; it has: "
                f"{', '.join(known)}"
            )
        kind = type(known[key])
        try:
            if kind is list:
                if text.startswith("["):
                    value = json.loads(text)
                else:  # a,b,c: items typed like the default's (rerank_seeds=0,1 -> [0, 1])
                    item = type(known[key][0]) if known[key] else str
                    value = [item(v) for v in text.split(",") if v]
                if not isinstance(value, list):
                    raise ValueError
            else:
                value = kind(text)
        except ValueError:
            raise ValueError(
                f"--param {key}={text}: expected {kind.__name__} (default {known[key]!r})"
            ) from None
        out[key] = value
    return out


def check_arguments(name: str, arguments: dict) -> None:
    """Raise one ``ValueError`` for the first parameter whose value the pipeline would refuse
    later (in a pod, minutes into a run)."""
    values = {**defaults(name), **arguments}
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
    for key, least in _AT_LEAST.items():
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
        tournament = values["tournament"]
        try:
            SearchConfig(
                preset=values["preset"],
                space=values["space"],
                strategy=values["strategy"],
                population=values["population"],
                tournament=int(tournament) if float(tournament).is_integer() else tournament,
                selection=values["selection"],
                seed=values["seed"],
            )
        except (ValueError, KeyError) as error:
            raise ValueError(f"pipeline parameters: {str(error).strip(chr(39))}") from None
