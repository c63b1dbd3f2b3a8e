"""``evonorm pipeline compile|run-local|submit|schedule``: the Kubeflow pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from evonorm.cli.common import UsageError


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


def add(commands) -> None:
    """Add ``pipeline compile|run-local|submit|schedule``."""
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
