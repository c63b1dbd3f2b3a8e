"""What every command shares: usage errors, reading a layer, progress lines, the preset's data,
a study's default storage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evonorm.proxy.presets import PRESETS
from evonorm.space import KNOWN_LAYERS, GraphError, LayerGraph

EXIT_USAGE = 2
PRESET_NAMES = tuple(PRESETS)


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


def read_graph(spec: str) -> tuple[str, LayerGraph]:
    """A known layer name or the path of a graph JSON file."""
    if spec in KNOWN_LAYERS:
        return spec, KNOWN_LAYERS[spec]
    path = Path(spec)
    if not path.suffix == ".json" and not path.exists():
        raise UsageError(
            f"{spec!r} is neither a known layer ({', '.join(KNOWN_LAYERS)}) nor a graph JSON file"
        )
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {spec}: {exc.strerror}") from None
    try:
        return path.stem, LayerGraph.from_json(text)
    except GraphError as exc:
        raise UsageError(f"{spec}: {exc}") from None


def stderr(line: str) -> None:
    """Progress goes to stderr, so that stdout stays machine-readable."""
    print(line, file=sys.stderr, flush=True)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def preset_data(preset, *, seed: int, device: str):
    """The preset's data on ``device`` ("auto": CUDA when available); missing files -> exit 2."""
    from evonorm.proxy.data import DataError

    try:
        return preset.load_data(seed=seed, device=device)
    except DataError as exc:
        raise UsageError(str(exc)) from None


def storage_of(args: argparse.Namespace) -> str:
    """``--storage``, or the study's JournalFile in its run folder."""
    return args.storage or f"journal:{Path(args.runs) / args.study / 'optuna.log'}"


def open_search(args: argparse.Namespace):
    """The existing search ``args.study`` in ``args.storage`` (default: the run folder's
    JournalFile); a missing storage or study -> exit 2."""
    from evonorm.evolve import Search, SearchError, StorageError, open_storage

    storage = storage_of(args)
    try:
        return Search.open(args.study, open_storage(storage, must_exist=True))
    except (SearchError, StorageError) as exc:
        raise UsageError(str(exc)) from None


def study_command(commands, name: str, help: str, func) -> argparse.ArgumentParser:
    """A subcommand that works on one existing study."""
    command = commands.add_parser(name, help=help)
    command.add_argument("study")
    command.add_argument("--storage", help="default: journal:RUNS/STUDY/optuna.log")
    command.add_argument("--runs", default="runs")
    command.set_defaults(func=func)
    return command
