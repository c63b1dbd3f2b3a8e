"""``evonorm layer show|pull|random``, ``evonorm evaluate`` and ``evonorm baselines``: one layer
(or the known ones) at a time."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from evonorm.cli.common import PRESET_NAMES, UsageError, preset_data, read_graph, stderr
from evonorm.space import KNOWN_LAYERS, random_graph


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
    data = preset_data(preset, seed=args.seed, device=args.device)
    chain = RejectionChain(preset, data, seed=args.seed)

    result = evaluate(
        graph,
        chain,
        archs=tuple(args.arch) if args.arch else None,
        progress=lambda stage: stderr(f"[{name}] {stage}"),
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
    data = preset_data(preset, seed=0, device=args.device)
    start = time.perf_counter()
    table = run_baselines(
        preset, data, layers=args.layers or tuple(KNOWN_LAYERS), seeds=args.seeds, echo=stderr
    )
    command = "evonorm " + shlex.join(args.argv)
    text = markdown(
        table, preset, command=command, seeds=args.seeds, wall_seconds=time.perf_counter() - start
    )
    write_baselines(Path(args.out), text)
    print(text)


def add(commands) -> None:
    """Add ``layer show|pull|random``, ``evaluate`` and ``baselines``."""
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
