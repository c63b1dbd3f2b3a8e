"""Compile, run locally, submit and schedule the pipelines (``evonorm pipeline …``).

``compile`` writes the IR YAML the cluster runs (committed under ``compiled/``); ``run_local``
runs a pipeline on the KFP local runner (subprocesses in this environment); ``submit`` and
``schedule`` talk to a Kubeflow Pipelines API server through ``kfp.Client``. Pipeline
parameters given as ``k=v`` strings are typed by the pipeline's signature (int, float, list as
JSON or comma-separated, str); an unknown name or a bad value is one clear ``ValueError``.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from pathlib import Path

from kfp import compiler, local

from evonorm.pipelines.search import PIPELINES

__all__ = ["COMPILED", "compile_pipeline", "parse_params", "run_local", "schedule", "submit"]

COMPILED = Path(__file__).with_name("compiled")
LOCAL_PARALLEL = 2  # loop iterations the KFP local runner runs at once (kfp 2.17.3)


def _pipeline(name: str):
    if name not in PIPELINES:
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}")
    return PIPELINES[name]


def compile_pipeline(name: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(_pipeline(name), str(path))
    return path


def defaults(name: str) -> dict:
    """The pipeline's parameters and their defaults (the KFP UI form)."""
    signature = inspect.signature(_pipeline(name).pipeline_func)
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
            raise ValueError(f"--param {key!r}: pipeline {name} has no such parameter; it has: "
                             f"{', '.join(known)}")  # fmt: skip
        kind = type(known[key])
        try:
            if kind is list:
                value = json.loads(text) if text.startswith("[") else [
                    v for v in text.split(",") if v]  # fmt: skip
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


def run_local(name: str, arguments: dict, *, pipeline_root: str | Path) -> None:
    """Run the pipeline on the KFP local runner (each task a subprocess of this environment);
    raises on a failed task. The runner executes up to two loop iterations at once, so each
    task's torch gets half the CPUs (unless OMP_NUM_THREADS is set): two tasks with all the
    cores each oversubscribe them and run several times slower."""
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // LOCAL_PARALLEL)))
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(pipeline_root),
        raise_on_error=True,
    )
    _pipeline(name)(**arguments)


def _cron(expression: str) -> str:
    """KFP wants six fields (seconds first); accept the usual five too."""
    fields = expression.split()
    if len(fields) == 5:
        return "0 " + expression
    if len(fields) == 6:
        return expression
    raise ValueError(f"--cron {expression!r}: expected 5 fields (min hour day month weekday) or 6")


def submit(host: str, name: str, arguments: dict, *, experiment: str, client=None) -> str:
    """Start one run; returns its run id."""
    import kfp

    client = client or kfp.Client(host=host)
    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline(name, Path(tmp) / f"{name}.yaml")
        run = client.create_run_from_pipeline_package(
            str(package), arguments=arguments, experiment_name=experiment,
            run_name=f"{name} {arguments.get('study', '')}".strip(),
        )  # fmt: skip
    return run.run_id


def schedule(host: str, name: str, arguments: dict, *, cron: str, experiment: str,
             client=None) -> str:  # fmt: skip
    """A recurring run continuing the same study: max concurrency 1 (runs of a study never
    overlap, which crash recovery relies on) and no catch-up of missed slots."""
    import kfp

    expression = _cron(cron)
    client = client or kfp.Client(host=host)
    experiment_id = client.create_experiment(experiment).experiment_id
    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline(name, Path(tmp) / f"{name}.yaml")
        job = client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=f"{name} {arguments.get('study', '')} ({expression})".strip(),
            cron_expression=expression,
            max_concurrency=1,
            no_catchup=True,
            pipeline_package_path=str(package),
            params=arguments,
        )  # fmt: skip
    return job.recurring_run_id
