"""The search pipeline's steps as plain functions of strings and numbers.

Each Kubeflow component (``components/<name>/component.py``) is a thin typed wrapper around one
of these, so the steps are tested here without KFP and run the same way in a local subprocess,
the KFP local runner or a pod. Steps talk to each other only through the study's storage, the
MLflow tracking server and JSON strings; any step can run in its own process.

Trials claimed by a pipeline run are owned by ``{"pipeline_run": RUN_ID}``; ``init_study`` of a
later run fails and re-queues the trials an earlier, dead run left RUNNING
(:mod:`evonorm.evolve.recovery`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

from evonorm.evolve import Outcome, Search, StorageSpec, open_storage
from evonorm.evolve.after import (
    rerank_search,
    rerank_summary,
    transfer_data,
    transfer_search,
)
from evonorm.evolve.candidate import Candidate, Screened
from evonorm.evolve.recovery import recover, requeue
from evonorm.evolve.steps import (
    budgeted,
    chain_for,
    outcome_of,
    screen,
    train_accepted,
)
from evonorm.evolve.steps import generate as generate_candidates
from evonorm.evolve.steps import (
    record as record_outcome,
)
from evonorm.parameters import check_values, search_config, whole_numbers
from evonorm.proxy.limits import Limits
from evonorm.proxy.presets import get_preset

__all__ = [
    "candidate_limits",
    "check_params",
    "finalize",
    "generate",
    "init_study",
    "prepare_data",
    "record",
    "register",
    "reject",
    "rerank",
    "train",
    "transfer",
]


#: Set by ``evonorm pipeline run-local``: torch threads of a task inside a loop.
LOOP_THREADS_ENV = "EVONORM_LOOP_THREADS"


def _storage(storage: str) -> str:
    """``storage``, or $EVONORM_STORAGE when empty (the cluster's Secret)."""
    storage = storage or os.environ.get("EVONORM_STORAGE", "")
    if not storage:
        raise ValueError("no study storage: pass storage=URL or set EVONORM_STORAGE")
    return storage


def _tracking(uri: str) -> str:
    """``uri``, or $MLFLOW_TRACKING_URI when empty ("" when neither: no MLflow)."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI", "")


def _registry_seeds(seed_layers: str, tracking_uri: str) -> dict[str, dict]:
    """The graphs of the registry URIs among ``seed_layers`` (mlflow loaded only then)."""
    if "models:/" not in seed_layers:
        return {}
    from evonorm.tracking.registry import seed_graphs

    return seed_graphs(seed_layers.split(","), tracking_uri=_tracking(tracking_uri) or None)


def _search(study: str, storage: str) -> Search:
    return Search.open(study, open_storage(_storage(storage), on_stale=requeue))


def _data(search: Search, device: str = "cpu"):
    preset = get_preset(search.config.preset)
    return preset.load_data(seed=search.config.seed, device=device)


def check_params(**values) -> str:
    """The run's parameters checked against the code's registries (one ``ValueError`` line
    naming the first bad one and what it allows); a JSON summary. In a pod, list items arrive
    as protobuf doubles (``[0.0, 1.0]``): whole ones are read as the integers they were."""
    check_values({k: whole_numbers(v) if isinstance(v, list) else v for k, v in values.items()})
    return json.dumps({"checked": len(values)})


def prepare_data(preset: str) -> str:
    """Load (and, for downloadable datasets, fetch and cache) the preset's data once, so that a
    missing dataset fails the run before any study is touched; a JSON summary."""
    p = get_preset(preset)
    data = p.load_data()
    return json.dumps({"dataset": p.dataset, **{s: len(t) for s, t in data.images.items()}})


def init_study(
    study: str,
    storage: str,
    preset: str,
    space: str,
    strategy: str,
    population: int,
    tournament: float,
    selection: str,
    seed: int,
    pipeline_run: str,
    mutations: str = "",
    seed_layers: str = "",
    distinct: bool = False,
    repeats: int = 1,
    near_misses: float = 0.0,
    up_to_scale: bool = False,
    tracking_uri: str = "",
    keep_seeds: bool = False,
) -> str:
    """Create the study, or resume it with the same settings (other settings: SearchError);
    recover trials left RUNNING by dead runs; compute the quality references once. Returns the
    census as JSON."""
    storage = _storage(storage)
    StorageSpec.parse(storage)  # one clear error for a bad URL
    config = search_config(
        preset=preset,
        space=space,
        strategy=strategy,
        population=population,
        tournament=tournament,
        selection=selection,
        seed=seed,
        mutations=mutations,
        seed_layers=seed_layers,
        distinct=distinct,
        repeats=repeats,
        near_misses=near_misses,
        up_to_scale=up_to_scale,
        keep_seeds=keep_seeds,
        seed_graphs=_registry_seeds(seed_layers, tracking_uri),
    )
    search = Search.open(study, open_storage(storage, on_stale=requeue), config)
    recovered = recover(search.study, pipeline_run=pipeline_run)
    p = get_preset(preset)
    if p.quality.min_relative > 0 and not search.quality_references():
        chain = chain_for(search, _data(search))
        search.save_quality_references({a: chain.reference(a) for a in p.anchor_names})
    census = search.census()
    return json.dumps({"done": census.done, "accepted": census.accepted, "recovered": recovered})


def generate(
    study: str, storage: str, count: int, pipeline_run: str, per_task: int = 1
) -> list[str]:
    """Claim ``count`` trials for this pipeline run (re-queued candidates first, then children of
    the population); the candidates in groups of at most ``per_task`` (sizes as even as can be),
    each group a JSON list that one ``reject`` and one ``train`` task evaluate."""
    if per_task < 1:
        raise ValueError(f"candidates per task must be >= 1, got {per_task}")
    search = _search(study, storage)
    search.refuse_stale()  # init_study checked it too; a run may have skipped it
    owner = {"pipeline_run": pipeline_run}
    born = [json.loads(c.to_json()) for c in generate_candidates(search, count, owner)]
    groups = -(-len(born) // per_task)
    return [json.dumps(born[g::groups]) for g in range(groups)]


def candidate_limits(memory_mb: int, seconds: float) -> Limits | None:
    """A candidate's budget from pipeline parameters, where 0 means no bound."""
    if not memory_mb and not seconds:
        return None
    return Limits(memory_mb=memory_mb or None, seconds=seconds or None)


def _loop_threads() -> None:
    """Inside a loop on the KFP local runner two tasks share the cores: ``run-local`` says how
    many threads each gets (tasks that run alone keep them all)."""
    threads = os.environ.get(LOOP_THREADS_ENV)
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _on_host(limits: Limits | None, chain) -> Limits | None:
    """``limits`` for a chain on its device: host memory is not where a GPU candidate grows, so
    there CUDA's own out-of-memory error is its bound and only the time limit stays."""
    if limits is None or chain.data.device.type != "cuda":
        return limits
    return replace(limits, memory_mb=None)


def reject(
    study: str, storage: str, candidates: str, device: str = "cpu", limits: Limits | None = None
) -> str:
    """Run the rejection chain on each candidate of a group (a JSON list from
    :func:`generate`), each within ``limits``; a JSON list of :class:`Screened`, one per
    candidate (holding the outcome when the chain failed, a bug, or the candidate went past its
    budget). The storage, data and chain are set up once per group. Never raises for a bad
    layer."""
    _loop_threads()
    search = _search(study, storage)
    chain = chain_for(search, _data(search, device))
    limits = _on_host(limits, chain)
    screened = []
    for item in json.loads(candidates):
        start = time.perf_counter()
        chosen = Candidate.from_attrs(item, item.get("trial"))
        verdict = budgeted(chosen, chain, lambda say, c=chosen: screen(c, chain, say), limits)
        if isinstance(verdict, Outcome):  # recorded as it is by `train`
            screened.append(Screened(chosen, seconds=verdict.seconds, outcome=verdict))
        else:
            screened.append(Screened(chosen, verdict, time.perf_counter() - start))
    return json.dumps([json.loads(item.to_json()) for item in screened])


def train(
    study: str, storage: str, screened: str, device: str = "auto", limits: Limits | None = None
) -> str:
    """Train each accepted candidate of a screened group on every anchor, within what is left of
    its ``limits`` (the rejection step's time counts); the outcomes as a JSON list. Rejected
    candidates pass through, and a group without an accepted one touches neither storage nor
    data."""
    _loop_threads()
    items = [Screened.from_json(json.dumps(item)) for item in json.loads(screened)]
    chain = None
    outcomes = []
    for item in items:
        if item.outcome is not None:
            outcomes.append(item.outcome)
            continue
        chosen, verdict = item.candidate, item.verdict
        if not verdict.accepted:
            outcomes.append(outcome_of(chosen, verdict, {}, item.seconds))
            continue
        if chain is None:
            search = _search(study, storage)
            chain = chain_for(search, _data(search, device))
        start = time.perf_counter()
        bound = _on_host(limits, chain)
        left = bound and replace(
            bound, seconds=bound.seconds and max(bound.seconds - item.seconds, 1e-3)
        )
        results = budgeted(
            chosen,
            chain,
            lambda say, c=chosen, v=verdict, k=chain, n=search.config.repeats: train_accepted(
                c, v, k, say, n
            ),
            left,
        )
        if isinstance(results, Outcome):
            outcomes.append(replace(results, seconds=item.seconds + results.seconds))
            continue
        seconds = item.seconds + time.perf_counter() - start
        outcomes.append(outcome_of(chosen, verdict, results, seconds))
    return json.dumps([json.loads(outcome.to_json()) for outcome in outcomes])


def record(study: str, storage: str, outcomes: list[str], tracking_uri: str = "") -> str:
    """Tell the study every outcome (``outcomes``: the groups' JSON lists from :func:`train`)
    and mirror new trials to MLflow; the census as JSON."""
    search = _search(study, storage)
    flat = [Outcome(**item) for group in outcomes for item in json.loads(group)]
    told = sum(record_outcome(search, outcome) for outcome in flat)
    tracking_uri = _tracking(tracking_uri)
    if tracking_uri:
        from evonorm.tracking import SearchTracker

        SearchTracker(search, tracking_uri).sync(plots=True)
    census = search.census()
    best = None if census.best != census.best else census.best
    return json.dumps(
        {"recorded": told, "done": census.done, "accepted": census.accepted, "best": best}
    )


def rerank(
    study: str,
    storage: str,
    top: int,
    seeds: list[int],
    archs: list[str] | None = None,
    device: str = "auto",
) -> str:
    """Rerank the top layers beside the baselines on ``archs`` (empty: anchors + held-out);
    the stored summary's kept names as JSON. A search without any accepted layer yet keeps
    nothing (``{}``): a valid outcome of a small search, not a failed run."""
    search = _search(study, storage)
    if search.census().accepted == 0:
        return json.dumps({})
    preset = get_preset(search.config.preset)
    summary = rerank_search(
        search,
        preset,
        _data(search, device),
        top=top,
        seeds=tuple(seeds),
        archs=tuple(archs) if archs else None,
    )
    return json.dumps(summary["kept"])


def transfer(study: str, storage: str, tasks: list[str], out: str = "") -> str:
    """Run the transfer tasks on the kept layers and baselines (skipped when ``tasks`` is
    empty); per task, the layers' metrics as JSON."""
    search = _search(study, storage)
    if not tasks or not rerank_summary(search):
        return json.dumps({})
    preset = get_preset(search.config.preset)
    results = transfer_search(
        search, preset, transfer_data(preset), tasks=tuple(tasks), out=out or None
    )
    return json.dumps({task: r["layers"] for task, r in results.items()})


def register(study: str, storage: str, tracking_uri: str) -> str:
    """Publish the kept layers to the MLflow Model Registry (champion only through the gate
    and when beaten); ``[{name, version, aliases, gate, reason}]`` as JSON."""
    from evonorm.tracking.registry import publish_search

    search = _search(study, storage)
    if not rerank_summary(search):
        return json.dumps([])  # nothing kept (no accepted layer yet): nothing to publish
    tracking_uri = _tracking(tracking_uri)
    if not tracking_uri:
        raise ValueError("no MLflow tracking URI: pass tracking_uri or set MLFLOW_TRACKING_URI")
    published = publish_search(search, tracking_uri)
    return json.dumps(
        [
            {
                "name": p.name,
                "version": p.version,
                "aliases": list(p.aliases),
                "gate": p.verdict.passed,
                "reason": p.verdict.reason,
            }
            for p in published
        ]
    )


def finalize(study: str, storage: str, tracking_uri: str, status: str, report_dir: str) -> str:
    """Write the report, log it to the search's MLflow run and close that run with the
    pipeline's final status (``SUCCEEDED`` → FINISHED, anything else → FAILED). Tolerates a
    study that never got created (the run failed before init)."""
    try:
        search = _search(study, storage)
    except Exception as exc:
        return json.dumps({"status": status, "report": None, "error": str(exc)})
    from evonorm.tracking import SearchTracker
    from evonorm.tracking.report import write_report

    path = write_report(search, report_dir)
    tracking_uri = _tracking(tracking_uri)
    if tracking_uri:
        tracker = SearchTracker(search, tracking_uri)
        tracker.client.log_artifacts(tracker.parent_id, str(Path(report_dir)), "report")
        tracker.client.set_tag(tracker.parent_id, "evonorm.pipeline_status", status)
        tracker.close("FINISHED" if status == "SUCCEEDED" else "FAILED")
    return json.dumps({"status": status, "report": str(path)})
