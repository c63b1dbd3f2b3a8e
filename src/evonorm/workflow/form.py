"""The pipeline's run form, as a KFP UI user sees it: every parameter's meaning, its allowed
values (read from the registries that define them, so the form never drifts from the code) and
its default. :func:`documented` writes them into the pipeline function's docstring as a
Google-style ``Args:`` section, which the KFP compiler turns into each parameter's
``description`` in the IR; :data:`CHOICES` lives in :mod:`evonorm.parameters`, which also checks
a run's arguments against it.
"""

from __future__ import annotations

import inspect

from evonorm.parameters import CHOICES, DEVICE

__all__ = ["CHOICES", "DEVICE", "HELP", "documented"]

#: What each parameter means (allowed values and the default are added by :func:`documented`).
HELP: dict[str, str] = {
    "study": "Search name; a run on an existing study continues it.",
    "storage": "Optuna storage URL of the population: journal:PATH, sqlite:///PATH (one "
    "writer) or postgresql+psycopg2://USER:PASS@HOST/DB. Empty: the pods read "
    "$EVONORM_STORAGE (Secret evonorm-storage), so credentials stay out of run parameters.",
    "tracking_uri": "MLflow tracking URI for candidates, report and registry. Empty: "
    "$MLFLOW_TRACKING_URI (Secret evonorm-mlflow).",
    "preset": "Proxy task and budgets: smoke (seconds, tests), local (Fashion-MNIST on a "
    "laptop), ablation (the experiment's cheap budget), paper (CIFAR-10, GPU).",
    "space": "Search space: B has every op, batch statistics included; S treats each sample "
    "alone (any batch size).",
    "strategy": "evolution (tournament selection and mutation) or random (random search "
    "through the same rejection chain).",
    "population": "Accepted layers kept as the population (newest first); an integer >= 2.",
    "tournament": "Tournament size: a count (e.g. 4), or a fraction of the population in "
    "(0, 1) (e.g. 0.25).",
    "selection": "Tournament winner: pareto (a random layer of the Pareto front over the "
    "anchor networks) or average (best mean accuracy).",
    "seed": "Seed of the search's random draws; an integer.",
    "mutations": "Evolution's mutation mix as NAME=P,... with probabilities summing to 1, from "
    "redraw (the paper's: one node gets a new op and inputs), op, rewire, insert, remove, "
    "normalise "
    "(docs/evolution.md). Empty: redraw alone, as in the paper.",
    "seed_layers": "Layers evaluated first, a warm start, as a,b,...: known layers (e.g. "
    "bn_relu,evonorm_b0; see evonorm layer show) or registry URIs (models:/NAME@champion: "
    "improve my champion), read from tracking_uri when the study is created. Empty: a random "
    "initial population.",
    "distinct": "Draw only children whose function (fingerprint) no earlier candidate of the "
    "study computes, and let each function be a population member once. Off: duplicates are "
    "proposed, recorded free of charge and count as candidates, as in the paper.",
    "up_to_scale": "With distinct: a child that computes an earlier candidate's function up to "
    "one factor per channel (its sign included, e.g. -sqrt(x) after sqrt(x)) is not drawn "
    "either; the next network layer is linear, so such a copy is only another initial gain. "
    "Off: only exact copies are avoided.",
    "repeats": "Training seeds of an accepted layer, 1 to 5; its scores are their mean, so a "
    "lucky seed does not make a parent. 1: one training, as in the paper.",
    "near_misses": "Evolution: the share of children, in [0, 1], bred by putting an op on top of "
    "a normaliser the rejection chain refused for having no activation (e.g. x / std_batch(x)), "
    "so that it becomes a norm-act layer (docs/evolution.md). 0: never, as in the paper.",
    "keep_seeds": "Evolution with seed_layers: accepted seed layers never age out of the "
    "population and stay in every tournament's pool, so a champion keeps breeding after newer "
    "layers fill the population (docs/evolution.md). Off: they age out like any member.",
    "generations": "Generations this run adds, one after the other; an integer >= 1.",
    "children": "Candidates per generation, evaluated in parallel; an integer >= 1.",
    "candidates_per_task": "Candidates one reject task and one train task evaluate one after "
    "the other, so that a pod's start and set-up are paid once per group; fewer means more "
    "parallel pods. An integer >= 1.",
    "rerank_top": "Finalists retrained on held-out data and networks after the search; an "
    "integer >= 1.",
    "rerank_seeds": "Seeds of the rerank, a JSON list of integers (e.g. [0, 1]).",
    "rerank_archs": "Networks of the rerank, any subset as a JSON list. Empty: the preset's "
    "anchors and held-out networks.",
    "transfer_tasks": "Transfer tests after the rerank, any subset as a JSON list. Empty: none.",
    "device": "Torch device of the training tasks, and of the rejection task at the paper "
    "preset (which runs it on a GPU pod): auto (CUDA when the pod has a GPU), cpu, cuda or "
    "cuda:N.",
    "candidate_memory_mb": "Host memory (MiB) one candidate may take beyond what its task "
    "holds; past it the layer is rejected at stage budget instead of the pod being OOM-killed "
    "(the CPU reject pod has 4 GiB). 0: no bound. On a GPU, CUDA's own out-of-memory error is the "
    "bound.",
    "candidate_seconds": "Wall-clock seconds for one candidate's rejection and training "
    "together; past it the layer is rejected at stage budget. 0: no bound.",
    "report_dir": "Folder inside the finalize pod where the report is written before it is "
    "logged to MLflow.",
}


def documented(func):
    """Give ``func`` (a pipeline function, before ``@dsl.pipeline``) a docstring whose
    ``Args:`` describe every parameter: :data:`HELP`, the allowed values, the default."""
    signature = inspect.signature(func)
    missing = set(signature.parameters) - set(HELP)
    if missing:
        raise ValueError(f"pipeline parameters without a description: {sorted(missing)}")
    summary = inspect.cleandoc(func.__doc__ or "")
    lines = [summary, "", "Args:"]
    for name, parameter in signature.parameters.items():
        text = HELP[name]
        if name in CHOICES:
            text += f" Allowed: {', '.join(CHOICES[name])}."
        default = parameter.default
        text += f" Default: {default if default != '' else '(empty)'}."
        lines.append(f"    {name}: {text}")
    func.__doc__ = "\n".join(lines) + "\n"
    return func
