"""``evonorm experiment ablation``: random layers, random search and evolution against the
baselines (docs/results.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evonorm.cli.common import PRESET_NAMES, UsageError, positive, preset_data, stderr


def cmd_ablation(args: argparse.Namespace) -> None:
    import shlex
    import time

    from evonorm.evolve import SearchError
    from evonorm.evolve.ablation import config_from, run_ablation
    from evonorm.proxy.presets import get_preset
    from evonorm.space.mutations import parse_mix
    from evonorm.tracking.ablation import write_results

    try:
        config = config_from(
            preset=args.preset,
            budget=args.budget,
            seeds=args.seeds,
            space=args.space,
            population=args.population,
            tournament=args.tournament,
            warmup=args.warmup,
            improved_warmup=args.improved_warmup,
            improved_near_misses=args.improved_near_misses,
            improved_mutations=parse_mix(args.improved_mutations)
            if args.improved_mutations
            else None,
            improved_up_to_scale=args.improved_up_to_scale,
            warm_keep_seeds=args.warm_keep_seeds,
            samples=args.samples,
            held_out=tuple(args.held_out) if args.held_out else None,
            novel=args.novel,
            arms=tuple(args.arms) if args.arms else None,
            rescore_seeds=args.rescore_seeds,
            rerank_top=args.rerank_top,
            rerank_seeds=args.rerank_seeds,
        )
    except (ValueError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    preset_data(get_preset(config.preset), seed=0, device="cpu")  # missing data -> exit 2
    root = Path(args.root or f"results/ablation/{config.preset}-{config.space}")
    start = time.perf_counter()
    try:
        result = run_ablation(config, root, jobs=args.jobs, echo=stderr)
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    command = "evonorm " + shlex.join(args.argv)
    out = write_results(result, Path(args.out), command=command, root=root)
    stderr(f"ablation: {time.perf_counter() - start:.0f} s this run; results in {out}")


def add(commands) -> None:
    """Add ``experiment ablation``."""
    exp = commands.add_parser("experiment", help="experiments that test the method's claims")
    exp_commands = exp.add_subparsers(dest="experiment_command", required=True, metavar="NAME")
    abl = exp_commands.add_parser(
        "ablation", help="random layers, random search and evolution vs the baselines"
    )
    abl.add_argument("--preset", choices=PRESET_NAMES, default="ablation")
    abl.add_argument("--budget", type=positive, default=150, help="candidates per arm and seed")
    abl.add_argument("--seeds", type=positive, default=2, help="seeds 0 .. S-1")
    abl.add_argument("--space", choices=["B", "S"], default="B")
    abl.add_argument("--population", type=positive, default=8)
    abl.add_argument("--tournament", type=positive, default=3)
    abl.add_argument(
        "--warmup",
        type=positive,
        default=1,
        help="accepted layers before evolution starts mutating",
    )
    abl.add_argument(
        "--improved-warmup",
        type=positive,
        help="accepted layers before the improved and warm arms mutate (default: "
        "AblationConfig's, 1; ablation-C used 3)",
    )
    abl.add_argument(
        "--improved-near-misses",
        type=float,
        metavar="P",
        help="share of the improved and warm arms' children bred from near misses (an op on "
        "top of a normaliser rejected for having no activation; default: AblationConfig's, 0)",
    )
    abl.add_argument(
        "--improved-mutations",
        metavar="NAME=P,...",
        help="the improved and warm arms' mutation mix (default: AblationConfig's "
        "IMPROVED_MIX, docs/evolution.md; ablations A-D used its EQUAL_MIX)",
    )
    abl.add_argument(
        "--improved-up-to-scale",
        action=argparse.BooleanOptionalAction,
        help="whether the improved and warm arms avoid rescaled copies too (distinct up to a "
        "per-channel factor; default: AblationConfig's, on; ablations A-D ran without)",
    )
    abl.add_argument(
        "--warm-keep-seeds",
        action=argparse.BooleanOptionalAction,
        help="whether the warm arm's seed layers stay in its population for good instead of "
        "ageing out (default: AblationConfig's, off; ablation-E-warm ran without)",
    )
    abl.add_argument(
        "--samples", type=positive, default=6, help="random layers per seed in the Random rows"
    )
    abl.add_argument(
        "--novel", action="store_true", help="both arms redraw already evaluated structures"
    )
    abl.add_argument(
        "--arms",
        nargs="+",
        help="search arms among random, evolution (the paper's), improved, warm (default: "
        "random evolution); may grow between runs",
    )
    abl.add_argument(
        "--rescore-seeds",
        type=positive,
        default=3,
        help="fresh training seeds re-scoring each arm's best-so-far layers (default 3)",
    )
    abl.add_argument(
        "--rerank-top",
        type=int,
        default=10,
        help="finalists per search retrained to name each arm's best at N, as the paper's rerank "
        "does (default 10; 0: none)",
    )
    abl.add_argument(
        "--rerank-seeds",
        type=positive,
        default=2,
        help="training seeds per finalist in that pick (default 2)",
    )
    abl.add_argument(
        "--held-out",
        nargs="+",
        help="held-out columns (default: resnet_basic vgg); a resumed root may add networks "
        "(everything is re-scored on them), never drop one",
    )
    abl.add_argument("--jobs", type=positive, default=2, help="processes (threads split)")
    abl.add_argument("--root", help="studies, trainings (default: results/ablation/PRESET-SPACE)")
    abl.add_argument("-o", "--out", default="docs/results.md", help="markdown results file")
    abl.set_defaults(func=cmd_ablation)
