"""The ``evonorm`` command line.

    evonorm layer show NAME|FILE.json      formula, node count, space, parameter count
    evonorm layer random --space B|S --seed N
    evonorm layer pull NAME[@ALIAS] -o DIR     graph JSON + standalone module from the registry
    evonorm evaluate NAME|FILE.json --preset smoke|local|paper [--arch A ...] [--json]
    evonorm baselines --preset local [--seeds 0 1] [--out docs/baselines.md]
    evonorm evolve --study NAME [--storage URL] --preset P --workers W --budget N
        [--strategy evolution|random] [--space B|S]   run or resume a search
    evonorm report STUDY [--storage URL] [-o DIR]    markdown report with plots
    evonorm experiment ablation [--preset ablation] --budget N --seeds S [--space B|S]
        random layers, random search and evolution against the baselines -> docs/results.md

Bad input ends with one line on stderr naming the problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from evonorm.proxy.presets import PRESETS
from evonorm.space import BASELINES, KNOWN_LAYERS, GraphError, LayerGraph, random_graph

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


def _stderr(line: str) -> None:
    """Progress goes to stderr, so that stdout stays machine-readable."""
    print(line, file=sys.stderr, flush=True)


def cmd_layer_show(args: argparse.Namespace) -> None:
    from evonorm.compile import build_layer

    name, graph = read_graph(args.layer)
    pruned = graph.prune()
    per_channel = build_layer(graph, 1)
    params = [n for n, _ in per_channel.named_parameters()]
    buffers = [n for n, _ in per_channel.named_buffers()]
    dead = graph.num_nodes - pruned.num_nodes
    print(f"name:        {name}")
    print(f"formula:     {graph.formula()}")
    print(f"space:       {graph.space} ({'uses' if graph.uses_batch else 'no'} batch statistics)")
    print(f"nodes:       {graph.num_nodes} (4 initial + {len(graph.nodes)} ops, {dead} dead)")
    print(f"parameters:  {len(params)} per channel ({', '.join(params)})")
    listed = f" ({', '.join(buffers)})" if buffers else ""
    print(f"running:     {len(buffers)} per channel{listed}")
    print(f"hash:        {graph.structural_hash()[:16]}")


def cmd_layer_pull(args: argparse.Namespace) -> None:
    from evonorm.tracking import LayerNotFound, TrackingError, pull_layer

    uri = args.model if args.model.startswith("models:/") else f"models:/{args.model}"
    if "@" not in uri and not re.search(r"/\d+$", uri):
        uri += "@champion"
    try:
        folder = pull_layer(uri, args.out, tracking_uri=args.tracking_uri)
    except (LayerNotFound, TrackingError) as exc:
        raise UsageError(str(exc)) from None
    for path in sorted(folder.iterdir()):
        print(path)


def cmd_layer_random(args: argparse.Namespace) -> None:
    graph = random_graph(np.random.default_rng(args.seed), args.space, num_nodes=args.nodes)
    print(graph.to_json(indent=2 if args.pretty else None))


def cmd_evaluate(args: argparse.Namespace) -> None:
    import json

    from evonorm.proxy.presets import get_preset
    from evonorm.reject import RejectionChain, evaluate

    name, graph = read_graph(args.layer)
    preset = get_preset(args.preset)
    for arch in args.arch or ():
        try:
            preset.arch(arch)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
    data = _preset_data(preset, seed=args.seed, device=args.device)
    chain = RejectionChain(preset, data, seed=args.seed)

    result = evaluate(
        graph,
        chain,
        archs=tuple(args.arch) if args.arch else None,
        progress=lambda stage: _stderr(f"[{name}] {stage}"),
    )
    if args.json:
        print(json.dumps({"layer": name, "formula": graph.formula(), **result.to_dict()}))
        return
    v = result.verdict
    print(f"layer:    {name}  ({graph.formula()})")
    print(
        f"verdict:  {'accepted' if v.accepted else 'rejected'} at {v.stage}"
        + (f": {v.reason}" if v.reason else "")
    )
    for arch, r in result.results.items():
        print(f"  {arch:16} {r.accuracy:7.2%}  loss {r.final_loss:.3f}  {r.seconds:6.1f} s")
    print(f"seconds:  {result.seconds:.1f}")


def cmd_baselines(args: argparse.Namespace) -> None:
    import shlex
    import time

    from evonorm.proxy.baselines import markdown, run_baselines, write_baselines
    from evonorm.proxy.presets import get_preset

    preset = get_preset(args.preset)
    unknown = [layer for layer in args.layers or () if layer not in KNOWN_LAYERS]
    if unknown:
        raise UsageError(f"unknown layers {unknown}; known: {', '.join(KNOWN_LAYERS)}")
    data = _preset_data(preset, seed=0, device=args.device)
    start = time.perf_counter()
    table = run_baselines(
        preset, data, layers=args.layers or tuple(KNOWN_LAYERS), seeds=args.seeds, echo=_stderr
    )
    command = "evonorm " + shlex.join(args.argv)
    text = markdown(
        table, preset, command=command, seeds=args.seeds, wall_seconds=time.perf_counter() - start
    )
    write_baselines(Path(args.out), text)
    print(text)


def cmd_evolve(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchConfig, SearchError, StorageError
    from evonorm.evolve.selection import tournament_value
    from evonorm.evolve.worker import Stopped, WorkerSettings, run_search
    from evonorm.proxy.data import DataError
    from evonorm.proxy.limits import Limits

    storage = _storage(args)
    try:
        config = SearchConfig(
            preset=args.preset,
            space=args.space,
            strategy=args.strategy,
            population=args.population,
            tournament=tournament_value(args.tournament),
            selection=args.selection,
            seed=args.seed,
            warmup=args.warmup,
            novel=args.novel,
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
    except (SearchError, StorageError, DataError, ValueError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: workers stopped, trials re-queued
        _stderr(
            f"{args.study}: stopped; candidates in flight were re-queued; run it again to resume"
        )
        raise SystemExit(143 if isinstance(stop, Stopped) else 130) from None
    best = "-" if census.best != census.best else f"{census.best:.2%}"
    _stderr(
        f"{args.study}: {census.done} recorded ({census.accepted} accepted, {census.rejected} "
        f"rejected, {census.duplicates} cache hits, {census.errors} errors, {census.lost} lost "
        f"and re-queued), best average accuracy {best}; storage {storage}"
        + ("" if args.no_tracking else f"; MLflow {uri}")
    )


def _storage(args: argparse.Namespace) -> str:
    """``--storage``, or the study's JournalFile in its run folder."""
    return args.storage or f"journal:{Path(args.runs) / args.study / 'optuna.log'}"


def _open_search(args: argparse.Namespace):
    """The existing search ``args.study`` in ``args.storage`` (default: the run folder's
    JournalFile); a missing storage or study -> exit 2."""
    from evonorm.evolve import Search, SearchError, StorageError, open_storage

    storage = _storage(args)
    try:
        return Search.open(args.study, open_storage(storage, must_exist=True))
    except (SearchError, StorageError) as exc:
        raise UsageError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> None:
    from evonorm.tracking.report import write_report

    search = _open_search(args)
    out = args.out or str(Path(args.runs) / args.study / "report")
    print(write_report(search, out, top=args.top))


def cmd_ablation(args: argparse.Namespace) -> None:
    import shlex
    import time

    from evonorm.evolve import SearchError
    from evonorm.evolve.ablation import config_from, run_ablation
    from evonorm.proxy.presets import get_preset
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
            samples=args.samples,
            held_out=tuple(args.held_out) if args.held_out else None,
            novel=args.novel,
        )
    except (ValueError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    _preset_data(get_preset(config.preset), seed=0, device="cpu")  # missing data -> exit 2
    root = Path(args.root or f"results/ablation/{config.preset}-{config.space}")
    start = time.perf_counter()
    try:
        result = run_ablation(config, root, jobs=args.jobs, echo=_stderr)
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    command = "evonorm " + shlex.join(args.argv)
    out = write_results(result, Path(args.out), command=command, root=root)
    _stderr(f"ablation: {time.perf_counter() - start:.0f} s this run; results in {out}")


def cmd_rerank(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError
    from evonorm.evolve.after import rerank_search
    from evonorm.proxy.presets import get_preset
    from evonorm.tracking.report import rerank_markdown

    search = _open_search(args)
    preset = get_preset(search.config.preset)
    data = _preset_data(preset, seed=0, device=args.device)
    try:
        summary = rerank_search(
            search,
            preset,
            data,
            top=args.top,
            seeds=args.seeds,
            archs=args.archs,
            baselines=args.baselines,
            echo=_stderr,
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

    search = _open_search(args)
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
            echo=_stderr,
        )
    except (SearchError, CocoError) as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(transfer_markdown(results)))


def cmd_publish(args: argparse.Namespace) -> None:
    from evonorm.evolve import SearchError
    from evonorm.tracking import TrackingError, default_tracking_uri
    from evonorm.tracking.registry import publish_search

    search = _open_search(args)
    uri = args.tracking_uri or default_tracking_uri(Path(args.runs) / args.study)
    try:
        published = publish_search(search, uri)
    except (SearchError, TrackingError) as exc:
        raise UsageError(str(exc)) from None
    for entry in published:
        print(f"{entry.line()}  {uri}")
    if not any(entry.verdict.passed for entry in published):
        print(f"no layer of search {search.name!r} passed the champion gate (beat BN-ReLU)")


def cmd_pipeline(args: argparse.Namespace) -> None:
    from evonorm.workflow import client
    from evonorm.workflow.params import parse_params

    try:
        if args.pipeline_command == "compile":
            out = args.out or client.COMPILED.resolve() / f"{args.name}.yaml"
            print(client.compile_pipeline(args.name, out, image_registry=args.image_registry))
            return
        arguments = parse_params(args.name, args.param or [])  # checked by each call below
        if args.pipeline_command == "run-local":
            client.run_local(args.name, arguments, pipeline_root=args.pipeline_root)
            _where(arguments)
        elif args.pipeline_command == "submit":
            run = client.submit(args.host, args.name, arguments, experiment=args.experiment)
            print(f"run {run} on {args.host}")
        else:
            job = client.schedule(
                args.host, args.name, arguments, cron=args.cron, experiment=args.experiment
            )
            print(f"recurring run {job} on {args.host}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _where(arguments: dict) -> None:
    """After a local run: where the study, the MLflow store, the report and the champions
    are."""
    from evonorm.evolve import Search, open_storage
    from evonorm.tracking.registry import registry_lines

    study, storage = arguments.get("study", "evonorm"), arguments.get("storage", "")
    uri = arguments.get("tracking_uri", "")
    print(f"study:    {study} in {storage}")
    print(f"MLflow:   {uri}  (browse: mlflow ui --backend-store-uri {uri})")
    print(f"report:   {Path(arguments.get('report_dir', '')) / 'report.md'}")
    if storage and uri:
        print("\n".join(registry_lines(Search.open(study, open_storage(storage)), uri)))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _preset_data(preset, *, seed: int, device: str):
    """The preset's data on ``device`` ("auto": CUDA when available); missing files -> exit 2."""
    from evonorm.proxy.data import DataError

    try:
        return preset.load_data(seed=seed, device=device)
    except DataError as exc:
        raise UsageError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evonorm", description="Evolve normalization-activation layers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    layer = commands.add_parser("layer", help="inspect and sample layer graphs")
    layer_commands = layer.add_subparsers(dest="layer_command", required=True, metavar="ACTION")
    show = layer_commands.add_parser("show", help="describe a known layer or a graph file")
    show.add_argument("layer", help=f"one of {', '.join(KNOWN_LAYERS)}, or FILE.json")
    show.set_defaults(func=cmd_layer_show)
    pull = layer_commands.add_parser(
        "pull", help="download a registered layer: graph JSON + standalone .py module"
    )
    pull.add_argument("model", help="NAME[@ALIAS] or NAME/VERSION (default alias: champion)")
    pull.add_argument("-o", "--out", default=".", help="folder to write into")
    pull.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's)")
    pull.set_defaults(func=cmd_layer_pull)
    rand = layer_commands.add_parser("random", help="print a random valid graph as JSON")
    rand.add_argument("--space", choices=["B", "S"], default="B")
    rand.add_argument("--seed", type=int, default=0)
    rand.add_argument("--nodes", type=int, default=14, help="total nodes, 4 initial included")
    rand.add_argument("--pretty", action="store_true", help="indent the JSON")
    rand.set_defaults(func=cmd_layer_random)

    ev = commands.add_parser("evaluate", help="rejection chain, then full multi-arch training")
    ev.add_argument("layer", help=f"one of {', '.join(KNOWN_LAYERS)}, or FILE.json")
    ev.add_argument("--preset", choices=PRESET_NAMES, default="local")
    ev.add_argument("--arch", action="append", help="train on this architecture (repeatable)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=cmd_evaluate)

    base = commands.add_parser("baselines", help="known layers on every anchor -> markdown")
    base.add_argument("--preset", choices=PRESET_NAMES, default="local")
    base.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    base.add_argument("--layers", nargs="+", help="known layers (default: all nine)")
    base.add_argument("--out", default="docs/baselines.md")
    base.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    base.set_defaults(func=cmd_baselines)

    evolve = commands.add_parser("evolve", help="run or resume a search in W local processes")
    evolve.add_argument("--study", default="evonorm", help="search name (resumes if it exists)")
    evolve.add_argument(
        "--storage",
        help="journal:PATH, sqlite:///PATH (1 worker) or postgresql+psycopg2://… "
        "(default: journal:RUNS/STUDY/optuna.log)",
    )
    evolve.add_argument("--runs", default="runs", help="run folder for default storages")
    evolve.add_argument("--preset", choices=PRESET_NAMES, default="local")
    evolve.add_argument("--workers", type=_positive, default=1)
    evolve.add_argument("--budget", type=_positive, required=True, help="candidates in total")
    evolve.add_argument("--strategy", choices=["evolution", "random"], default="evolution")
    evolve.add_argument("--space", choices=["B", "S"], default="B")
    evolve.add_argument("--population", type=_positive, default=16)
    evolve.add_argument("--tournament", default="4", help="a count, or a fraction like 0.25")
    evolve.add_argument("--selection", choices=["pareto", "average"], default="pareto")
    evolve.add_argument(
        "--warmup", type=_positive, help="accepted layers before mutation starts (default: all)"
    )
    evolve.add_argument(
        "--novel", action="store_true", help="redraw children already evaluated (same structure)"
    )
    evolve.add_argument("--seed", type=int, default=0)
    evolve.add_argument("--device", default="cpu", help="torch device for the workers")
    evolve.add_argument(
        "--candidate-memory-mb",
        type=_positive,
        help="memory one candidate may take beyond its worker's (default: no bound); past it "
        "the layer is rejected at stage 'budget'",
    )
    evolve.add_argument(
        "--candidate-seconds",
        type=_positive,
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
    report.add_argument("--top", type=_positive, default=10)
    report.set_defaults(func=cmd_report)

    def study_command(name: str, help: str, func) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help)
        command.add_argument("study")
        command.add_argument("--storage", help="default: journal:RUNS/STUDY/optuna.log")
        command.add_argument("--runs", default="runs")
        command.set_defaults(func=func)
        return command

    from evonorm.transfer import TASKS

    pipe = commands.add_parser("pipeline", help="the Kubeflow pipeline: compile, run, submit")
    pipe_commands = pipe.add_subparsers(dest="pipeline_command", required=True, metavar="ACTION")
    comp = pipe_commands.add_parser("compile", help="write the IR YAML the cluster runs")
    comp.add_argument("-o", "--out", help="file (default: the committed compiled/NAME.yaml)")
    comp.add_argument(
        "--image-registry",
        metavar="REG",
        help="pull the images from REG (default: ghcr.io/evonorm)",
    )
    runs = [
        pipe_commands.add_parser("run-local", help="run on the KFP local runner"),
        pipe_commands.add_parser("submit", help="start a run on a KFP server"),
        pipe_commands.add_parser("schedule", help="recurring run continuing the same study"),
    ]
    for p in (comp, *runs):
        p.add_argument("--name", default="evonorm-search", help="pipeline name")
        p.set_defaults(func=cmd_pipeline)
    for p in runs:
        p.add_argument(
            "--param",
            action="append",
            metavar="K=V",
            help="pipeline parameter (repeatable); lists as JSON or a,b,c",
        )
    runs[0].add_argument("--pipeline-root", default="runs/kfp", help="local outputs folder")
    for p in runs[1:]:
        p.add_argument("--host", required=True, help="KFP API server URL")
        p.add_argument("--experiment", default="evonorm", help="KFP experiment name")
    cron_help = "'min hour day month weekday' (or 6 fields, seconds first)"
    runs[2].add_argument("--cron", required=True, help=cron_help)

    exp = commands.add_parser("experiment", help="experiments that test the method's claims")
    exp_commands = exp.add_subparsers(dest="experiment_command", required=True, metavar="NAME")
    abl = exp_commands.add_parser(
        "ablation", help="random layers, random search and evolution vs the baselines"
    )
    abl.add_argument("--preset", choices=PRESET_NAMES, default="ablation")
    abl.add_argument("--budget", type=_positive, default=150, help="candidates per arm and seed")
    abl.add_argument("--seeds", type=_positive, default=2, help="seeds 0 .. S-1")
    abl.add_argument("--space", choices=["B", "S"], default="B")
    abl.add_argument("--population", type=_positive, default=8)
    abl.add_argument("--tournament", type=_positive, default=3)
    abl.add_argument(
        "--warmup",
        type=_positive,
        default=1,
        help="accepted layers before evolution starts mutating",
    )
    abl.add_argument(
        "--samples", type=_positive, default=6, help="random layers per seed in the Random rows"
    )
    abl.add_argument(
        "--novel", action="store_true", help="both arms redraw already evaluated structures"
    )
    abl.add_argument("--held-out", nargs="+", help="held-out columns (default: resnet_basic vgg)")
    abl.add_argument("--jobs", type=_positive, default=2, help="processes (threads split)")
    abl.add_argument("--root", help="studies, trainings (default: results/ablation/PRESET-SPACE)")
    abl.add_argument("-o", "--out", default="docs/results.md", help="markdown results file")
    abl.set_defaults(func=cmd_ablation)

    rr = study_command(
        "rerank",
        "retrain the top layers and baselines on held-out data and "
        "architectures; keep the best three",
        cmd_rerank,
    )
    rr.add_argument("--top", type=_positive, default=10, help="finalists to rerank")
    rr.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    rr.add_argument("--archs", nargs="+", help="architectures (default: anchors + held-out)")
    rr.add_argument("--baselines", nargs="*", default=list(BASELINES), help="known layers")
    rr.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    tr = study_command(
        "transfer", "instance segmentation and GAN with the kept layers and baselines", cmd_transfer
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
    tr.add_argument("--coco-limit", type=_positive, help="COCO images per split (seeded sample)")
    tr.add_argument("-o", "--out", help="folder for sample grids (default: RUNS/STUDY/transfer)")
    pub = study_command(
        "publish",
        "register the kept layers in the MLflow Model Registry (champion only when beaten)",
        cmd_publish,
    )
    pub.add_argument("--tracking-uri", help="default: sqlite:///RUNS/STUDY/mlflow.db")
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
