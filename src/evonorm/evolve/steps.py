"""The step-wise API of a search; each step talks to the others only through the storage and
JSON, so each can run in its own process or pod:

- :func:`generate` — ask N trials and bind a candidate to each (re-queued candidates first, then
  children of the current population); returns the candidates (``Candidate.to_json``);
- :func:`evaluate` — the rejection chain and the multi-architecture training of one candidate,
  within its memory and time budget (:mod:`evonorm.proxy.limits`); touches no storage and never
  raises for a bad layer; returns an :class:`Outcome`. Its halves, :func:`screen` (the chain)
  and :func:`train_accepted` (training), run as separate pipeline tasks, each under
  :func:`budgeted`; :func:`outcome_of` joins them;
- :func:`record` — tell the study the outcome.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import TypeVar

import optuna
import torch
from optuna.storages import RDBStorage

from evonorm.evolve import optuna_internals as internals
from evonorm.evolve.candidate import Candidate, Outcome, Status
from evonorm.evolve.owner import this_process
from evonorm.evolve.search import Search
from evonorm.proxy.data import ProxyData
from evonorm.proxy.limits import LimitExceeded, Limits, within
from evonorm.proxy.presets import get_preset
from evonorm.proxy.trainer import TrainResult
from evonorm.reject.protocol import Progress, RejectionChain, train_anchors
from evonorm.reject.verdict import Stage, Verdict

__all__ = [
    "budgeted",
    "chain_for",
    "error_outcome",
    "evaluate",
    "generate",
    "heartbeat",
    "outcome_of",
    "record",
    "screen",
    "train_accepted",
]


def generate(search: Search, n: int, owner: dict | None = None) -> list[Candidate]:
    """Bind ``n`` candidates to ``n`` new RUNNING trials stamped with ``owner``."""
    owner = owner or this_process()
    return [search.bind(search.claim(owner), owner) for _ in range(n)]


def chain_for(search: Search, data: ProxyData) -> RejectionChain:
    """A rejection chain that knows the search's evaluated layers and quality references."""
    hashes, prints = search.seen()
    return RejectionChain(
        get_preset(search.config.preset),
        data,
        seed=search.config.seed,
        seen_hashes=dict(hashes),
        seen_fingerprints=dict(prints),
        references=search.quality_references(),
    )


def screen(
    candidate: Candidate, chain: RejectionChain, progress: Progress | None = None
) -> Verdict:
    """The rejection chain alone (structural, fingerprint, stability, quality)."""
    return chain.run(candidate.graph, progress)


def train_accepted(
    candidate: Candidate,
    verdict: Verdict,
    chain: RejectionChain,
    progress: Progress | None = None,
    repeats: int = 1,
) -> dict[str, TrainResult]:
    """Full training on every anchor when ``verdict`` accepted the layer, under ``repeats``
    seeds (the search's ``repeats``: scores are their mean); {} otherwise."""
    if not verdict.accepted:
        return {}
    return train_anchors(candidate.graph, chain, progress=progress, repeats=repeats)


def outcome_of(
    candidate: Candidate, verdict: Verdict, results: dict[str, TrainResult], seconds: float
) -> Outcome:
    """The outcome to record for a candidate's verdict and training results."""
    metrics = {
        k: v
        for k, v in verdict.metrics.items()
        if k not in ("structural_hash", "fingerprint", "duplicate_of")
    }
    for arch, result in results.items():
        metrics[f"train_seconds/{arch}"] = round(result.seconds, 3)
        metrics[f"final_loss/{arch}"] = result.final_loss
        if result.diverged:
            metrics[f"diverged/{arch}"] = 1.0
        for repeat, accuracy in enumerate(result.accuracies):
            metrics[f"accuracy/{arch}/repeat{repeat}"] = accuracy
    common = {
        "trial": candidate.trial,
        "stage": verdict.stage,
        "fingerprint": verdict.metrics.get("fingerprint", ""),
        "seconds": seconds,
        "metrics": metrics,
    }
    if "duplicate_of" in verdict.metrics:
        what = "structure" if verdict.stage == Stage.STRUCTURAL else "function"
        original = int(verdict.metrics["duplicate_of"])
        reason = f"same {what} as trial {original}"
        return Outcome(status=Status.DUPLICATE, reason=reason, duplicate_of=original, **common)
    if verdict.accepted:
        # CPU scores differ slightly with the torch thread count (docs/benchmarks.md): kept with
        # each score so that a study scored under mixed counts shows it (the search report).
        metrics["threads"] = torch.get_num_threads()
        return Outcome(
            status=Status.ACCEPTED, scores={a: r.accuracy for a, r in results.items()}, **common
        )
    return Outcome(status=Status.REJECTED, reason=verdict.reason, **common)


def error_outcome(candidate: Candidate, error: BaseException, seconds: float) -> Outcome:
    """An unexpected exception (a bug, not a bad layer): its last traceback line as reason."""
    last = traceback.format_exception_only(error)[-1].strip()
    return Outcome(candidate.trial, Status.ERROR, reason=last, seconds=seconds)


T = TypeVar("T")


def budgeted(
    candidate: Candidate,
    chain: RejectionChain,
    work: Callable[[Progress], T],
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> T | Outcome:
    """``work(progress)`` within ``limits``; an :class:`Outcome` instead of its result when the
    candidate went past its budget (rejected at stage ``budget``, saying where) or the work
    failed (a bug: ``status="error"`` with the traceback's last line). The BN-ReLU references
    are trained first, outside the budget."""
    start, where = time.perf_counter(), ["set-up"]

    def say(message: str) -> None:
        where[0] = message
        if progress:
            progress(message)

    try:
        chain.prepare()
        with within(limits):
            return work(say)
    except LimitExceeded as exceeded:
        reason = f"{exceeded} (during {where[0]})"
        seconds = time.perf_counter() - start
        return Outcome(
            candidate.trial, Status.REJECTED, stage=Stage.BUDGET, reason=reason, seconds=seconds
        )
    except Exception as error:
        return error_outcome(candidate, error, time.perf_counter() - start)


def evaluate(
    candidate: Candidate,
    chain: RejectionChain,
    progress: Progress | None = None,
    limits: Limits | None = None,
    repeats: int = 1,
) -> Outcome:
    """Reject or train ``candidate`` within ``limits``. A bad layer is an outcome, and so is a
    layer past its budget; only an unexpected exception (a bug) becomes ``status="error"``."""
    assert candidate.trial is not None, "evaluate a candidate bound to a trial"
    start = time.perf_counter()

    def work(say: Progress) -> Outcome:
        verdict = screen(candidate, chain, say)
        results = train_accepted(candidate, verdict, chain, say, repeats)
        return outcome_of(candidate, verdict, results, time.perf_counter() - start)

    return budgeted(candidate, chain, work, limits, progress)


def record(search: Search, outcome: Outcome) -> bool:
    """Tell the study; False (and nothing written) if the trial was meanwhile failed as stale
    and its candidate re-queued — the re-queued copy is then the one that counts."""
    try:
        search.record(outcome)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial_number: int) -> Iterator[None]:
    """Beat for the trial while the block runs (RDB storages with heartbeats; else nothing)."""
    storage = internals.storage_of(study)
    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if not interval:
        yield
        return
    trial_id = internals.trial_id(study, trial_number)
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat is retried next interval
                storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
