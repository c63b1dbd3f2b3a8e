"""A pipeline's parameters: their defaults, ``k=v`` strings typed like them, and a check of
every value against the code's own registries, done before a run is started (so a bad value
never reaches a cluster) — one ``ValueError`` line naming the parameter and what it allows.

Everything here reads the compiled IR (``compiled/NAME.yaml``, shipped with the package), never
the pipeline definitions, so it works without a checkout.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml

from evonorm.parameters import check_values, whole_numbers

__all__ = ["COMPILED", "check_arguments", "compiled", "defaults", "names", "parse_params"]

COMPILED = Path(__file__).with_name("compiled")
# The IR's parameter types; a protobuf Value holds every number as a double, so whole numbers in
# list defaults (rerank_seeds: [0.0, 1.0]) are read back as ints.
_TYPES = {
    "STRING": str,
    "NUMBER_INTEGER": int,
    "NUMBER_DOUBLE": float,
    "BOOLEAN": bool,
    "LIST": list,
    "STRUCT": dict,
}


def names() -> tuple[str, ...]:
    """The pipelines shipped compiled."""
    return tuple(sorted(p.stem for p in COMPILED.glob("*.yaml")))


def compiled(name: str) -> Path:
    """The compiled IR of pipeline ``name``."""
    path = COMPILED / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(names())}")
    return path


@cache
def defaults(name: str) -> dict:
    """The pipeline's parameters and their defaults (the KFP UI form), typed by the IR."""
    spec = next(yaml.safe_load_all(compiled(name).read_text()))
    out = {}
    for key, field in spec["root"]["inputDefinitions"]["parameters"].items():
        kind = _TYPES[field["parameterType"]]
        value = kind(field["defaultValue"]) if "defaultValue" in field else kind()
        if isinstance(value, list):
            value = whole_numbers(value)
        out[key] = value
    return out


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
            elif kind is bool:  # bool("false") is True
                value = {"true": True, "1": True, "false": False, "0": False}[text.lower()]
            else:
                value = kind(text)
        except (ValueError, KeyError):
            raise ValueError(
                f"--param {key}={text}: expected {kind.__name__} (default {known[key]!r})"
            ) from None
        out[key] = value
    return out


def check_arguments(name: str, arguments: dict) -> None:
    """Raise one ``ValueError`` for the first parameter whose value the pipeline would refuse
    later (in a pod, minutes into a run); the pipeline's first step runs the same check."""
    check_values({**defaults(name), **arguments})
