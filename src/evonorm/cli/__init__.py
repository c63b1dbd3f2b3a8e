"""The ``evonorm`` command line. Each module of this package adds its commands (``add``) and
runs them: ``layers``, ``search``, ``pipeline``, ``experiment``; ``common`` holds what they share.

    evonorm layer show NAME|FILE.json      formula, node count, space, parameter count
    evonorm layer random --space B|S --seed N
    evonorm layer pull NAME[@ALIAS] -o DIR     graph JSON + standalone module from the registry
    evonorm evaluate NAME|FILE.json --preset smoke|local|paper [--arch A ...] [--json]
    evonorm baselines --preset local [--seeds 0 1] [--out docs/baselines.md]
    evonorm evolve --study NAME [--storage URL] --preset P --workers W --budget N
        [--strategy evolution|random] [--space B|S]   run or resume a search
    evonorm report STUDY [--storage URL] [-o DIR]    markdown report with plots
    evonorm rerank|transfer|publish STUDY ...    held-out rerank, transfer tasks, the registry
    evonorm pipeline compile|run-local|submit|schedule [--param K=V ...]    the KFP pipeline
    evonorm experiment ablation [--preset ablation] --budget N --seeds S [--space B|S]
        random layers, random search and evolution against the baselines -> docs/results.md

Bad input ends with one line on stderr naming the problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from evonorm.cli import experiment, layers, pipeline, search
from evonorm.cli.common import EXIT_USAGE, UsageError, read_graph

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "main", "read_graph"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evonorm", description="Evolve normalization-activation layers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (layers, search, pipeline, experiment):
        module.add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command, for results files
    try:
        if args.command == "layer" and args.layer_command == "random" and args.nodes <= 4:
            raise UsageError(f"--nodes must be above 4 (the initial nodes), got {args.nodes}")
        args.func(args)
    except UsageError as exc:
        print(f"evonorm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
