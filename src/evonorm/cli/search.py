"""``evonorm evolve`` and the commands on a search's results: ``report``, ``rerank``,
``transfer``, ``publish``."""

from __future__ import annotations

import argparse
from pathlib import Path

from evonorm.cli.common import (
    PRESET_NAMES,
    UsageError,
    open_search,
    positive,
    preset_data,
    stderr,
    storage_of,
    study_command,
)
from evonorm.space import BASELINES


def cmd_evolve(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError, StorageError
    from evonorm.evolve.worker import Stopped, WorkerSettings, run_search
    from evonorm.parameters import search_config
    from evonorm.proxy.data import DataError
    from evonorm.proxy.limits import Limits

    storage = storage_of(args)
    try:
        graphs = registry_seeds(args)
        config = search_config(
            preset=args.preset,
            space=args.space,
            strategy=args.strategy,
            population=args.population,
            tournament=args.tournament,
            selection=args.selection,
            seed=args.seed,
            warmup=args.warmup,
            novel=args.novel,
            mutations=args.mutations or "",
            seed_layers=args.seed_layers or "",
            distinct=args.distinct,
            repeats=args.repeats,
            near_misses=args.near_misses,
            up_to_scale=args.up_to_scale,
            keep_seeds=args.keep_seeds,
            seed_graphs=graphs,
        )
        settings = WorkerSettings(
            study=args.study,
            storage=storage,
            budget=args.budget,
            device=args.device,
            limits=Limits(args.candidate_memory_mb, args.candidate_seconds),
        )
        observe = None
        if not args.no_tracking:
            from evonorm.tracking import SearchTracker, check_tracking, default_tracking_uri

            uri = check_tracking(
                args.tracking_uri or default_tracking_uri(Path(args.runs) / args.study)
            )

            def observe(search):
                return SearchTracker(search, uri, experiment=args.experiment)

        census = run_search(
            config, settings, workers=args.workers, progress=not args.quiet, observe=observe
        )
    except (SearchError, StorageError, DataError, ValueError, KeyError, LookupError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: workers stopped, trials re-queued
        stderr(
            f"{args.study}: stopped; candidates in flight were re-queued; run it again to resume"
        )
        raise SystemExit(143 if isinstance(stop, Stopped) else 130) from None
    best = "-" if census.best != census.best else f"{census.best:.2%}"
    stderr(
        f"{args.study}: {census.done} recorded ({census.accepted} accepted, {census.rejected} "
        f"rejected, {census.duplicates} duplicates, {census.errors} errors, {census.lost} lost "
        f"and re-queued), best average accuracy {best}; storage {storage}"
        + ("" if args.no_tracking else f"; MLflow {uri}")
    )


def registry_seeds(args: argparse.Namespace) -> dict[str, dict]:
    """The graphs of the registry URIs among ``--seed-layers``, read from the tracking server
    (``--tracking-uri``, else the search's local store); {} when there are none."""
    if "models:/" not in (args.seed_layers or ""):
        return {}
    from evonorm.tracking import default_tracking_uri
    from evonorm.tracking.registry import seed_graphs

    uri = args.tracking_uri or default_tracking_uri(Path(args.runs) / args.study)
    return seed_graphs(args.seed_layers.split(","), tracking_uri=uri)


def cmd_report(args: argparse.Namespace) -> None:
    from evonorm.tracking.report import write_report

    search = open_search(args)
    out = args.out or str(Path(args.runs) / args.study / "report")
    print(write_report(search, out, top=args.top))


def cmd_rerank(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError
    from evonorm.evolve.after import rerank_search
    from evonorm.proxy.presets import get_preset
    from evonorm.tracking.report import rerank_markdown

    search = open_search(args)
    preset = get_preset(search.config.preset)
    data = preset_data(preset, seed=0, device=args.device)
    try:
        summary = rerank_search(
            search,
            preset,
            data,
            top=args.top,
            seeds=args.seeds,
            archs=args.archs,
            baselines=args.baselines,
            echo=stderr,
        )
    except (SearchError, KeyError, ValueError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    print("\n".join(rerank_markdown(summary)))


def cmd_transfer(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError
    from evonorm.evolve.after import transfer_data, transfer_search
    from evonorm.proxy.data import DataError
    from evonorm.proxy.presets import get_preset
    from evonorm.tracking.report import transfer_markdown
    from evonorm.transfer.coco import CocoError, coco_splits

    search = open_search(args)
    preset = get_preset(search.config.preset)
    out = args.out or str(Path(args.runs) / args.study / "transfer")
    try:
        data = transfer_data(preset)
        coco = coco_splits(args.coco) if args.coco else None
    except (DataError, CocoError) as exc:
        raise UsageError(str(exc)) from None
    try:
        results = transfer_search(
            search,
            preset,
            data,
            tasks=args.tasks,
            baselines=args.baselines,
            seed=args.seed,
            out=out,
            coco=coco,
            coco_limit=args.coco_limit,
            echo=stderr,
        )
    except (SearchError, CocoError) as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(transfer_markdown(results)))


def cmd_publish(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError
    from evonorm.tracking import TrackingError, default_tracking_uri
    from evonorm.tracking.registry import publish_search

    search = open_search(args)
    uri = args.tracking_uri or default_tracking_uri(Path(args.runs) / args.study)
    try:
        published = publish_search(search, uri)
    except (SearchError, TrackingError) as exc:
        raise UsageError(str(exc)) from None
    for entry in published:
        print(f"{entry.line()}  {uri}")
    if not any(entry.verdict.passed for entry in published):
        print(f"no layer of search {search.name!r} passed the champion gate (beat BN-ReLU)")


def add(commands) -> None:
    """Add ``evolve``, ``report``, ``rerank``, ``transfer`` and ``publish``."""
    from evonorm.transfer import TASKS

    evolve = commands.add_parser("evolve", help="run or resume a search in W local processes")
    evolve.add_argument("--study", default="evonorm", help="search name (resumes if it exists)")
    evolve.add_argument(
        "--storage",
        help="journal:PATH, sqlite:///PATH (1 worker) or postgresql+psycopg2://… "
        "(default: journal:RUNS/STUDY/optuna.log)",
    )
    evolve.add_argument("--runs", default="runs", help="run folder for default storages")
    evolve.add_argument("--preset", choices=PRESET_NAMES, default="local")
    evolve.add_argument("--workers", type=positive, default=1)
    evolve.add_argument("--budget", type=positive, required=True, help="candidates in total")
    evolve.add_argument("--strategy", choices=["evolution", "random"], default="evolution")
    evolve.add_argument("--space", choices=["B", "S"], default="B")
    evolve.add_argument("--population", type=positive, default=16)
    evolve.add_argument("--tournament", default="4", help="a count, or a fraction like 0.25")
    evolve.add_argument("--selection", choices=["pareto", "average"], default="pareto")
    evolve.add_argument(
        "--warmup", type=positive, help="accepted layers before mutation starts (default: all)"
    )
    evolve.add_argument(
        "--novel", action="store_true", help="redraw children already evaluated (same structure)"
    )
    evolve.add_argument(
        "--mutations",
        metavar="NAME=P,...",
        help="evolution's mutation mix, probabilities summing to 1, e.g. "
        "redraw=0.2,op=0.3,rewire=0.2,insert=0.2,remove=0.1 (default: redraw=1, the paper's)",
    )
    evolve.add_argument(
        "--seed-layers",
        metavar="A,B,...",
        help="layers evaluated first, a warm start: known names (e.g. bn_relu,evonorm_b0) or "
        "registry URIs (models:/NAME@champion, read from --tracking-uri); default: none, a "
        "random initial population",
    )
    evolve.add_argument(
        "--keep-seeds",
        action="store_true",
        help="with --seed-layers: accepted seed layers never age out of the population, so a "
        "champion keeps breeding (default: they age out like any member)",
    )
    evolve.add_argument(
        "--distinct",
        action="store_true",
        help="children compute a function no earlier candidate computed (fingerprints), and "
        "each function is a population member once",
    )
    evolve.add_argument(
        "--up-to-scale",
        action="store_true",
        help="with --distinct: not even a rescaled copy (one factor per channel, its sign "
        "included, e.g. -sqrt(x) after sqrt(x)) counts as a new function",
    )
    evolve.add_argument(
        "--repeats",
        type=positive,
        default=1,
        help="training seeds of an accepted layer, 1-5; its scores are their mean (default 1)",
    )
    evolve.add_argument(
        "--near-misses",
        type=float,
        default=0.0,
        metavar="P",
        help="evolution: share of children bred by putting an op on top of a normaliser the "
        "rejection chain refused for having no activation (default 0)",
    )
    evolve.add_argument("--seed", type=int, default=0)
    evolve.add_argument("--device", default="cpu", help="torch device for the workers")
    evolve.add_argument(
        "--candidate-memory-mb",
        type=positive,
        help="memory one candidate may take beyond its worker's (default: no bound); past it "
        "the layer is rejected at stage 'budget'",
    )
    evolve.add_argument(
        "--candidate-seconds",
        type=positive,
        help="wall-clock time for one candidate's whole evaluation (default: no bound)",
    )
    evolve.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: sqlite:///RUNS/STUDY/mlflow.db)"
    )
    evolve.add_argument("--experiment", default="evonorm", help="MLflow experiment name")
    evolve.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    evolve.add_argument("--quiet", action="store_true", help="no progress bar")
    evolve.set_defaults(func=cmd_evolve)

    report = commands.add_parser("report", help="markdown report of a search, with plots")
    report.add_argument("study")
    report.add_argument("--storage", help="default: journal:RUNS/STUDY/optuna.log")
    report.add_argument("--runs", default="runs")
    report.add_argument("-o", "--out", help="folder (default: RUNS/STUDY/report)")
    report.add_argument("--top", type=positive, default=10)
    report.set_defaults(func=cmd_report)

    rr = study_command(
        commands,
        "rerank",
        "retrain the top layers and baselines on held-out data and "
        "architectures; keep the best three",
        cmd_rerank,
    )
    rr.add_argument("--top", type=positive, default=10, help="finalists to rerank")
    rr.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    rr.add_argument("--archs", nargs="+", help="architectures (default: anchors + held-out)")
    rr.add_argument("--baselines", nargs="*", default=list(BASELINES), help="known layers")
    rr.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    tr = study_command(
        commands,
        "transfer",
        "instance segmentation and GAN with the kept layers and baselines",
        cmd_transfer,
    )
    tr.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    tr.add_argument("--baselines", nargs="*", default=list(BASELINES), help="known layers")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--coco",
        metavar="DIR",
        help="segmentation on COCO: DIR holds annotations/"
        "instances_{train,val}2017.json and {train,val}2017/",
    )
    tr.add_argument("--coco-limit", type=positive, help="COCO images per split (seeded sample)")
    tr.add_argument("-o", "--out", help="folder for sample grids (default: RUNS/STUDY/transfer)")
    pub = study_command(
        commands,
        "publish",
        "register the kept layers in the MLflow Model Registry (champion only when beaten)",
        cmd_publish,
    )
    pub.add_argument("--tracking-uri", help="default: sqlite:///RUNS/STUDY/mlflow.db")
