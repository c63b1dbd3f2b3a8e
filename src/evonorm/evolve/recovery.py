"""Crash safety: no candidate lost, none evaluated twice.

A candidate is bound to one trial while it is evaluated (RUNNING). If its worker dies, the trial
is *stale*: it is failed (FAIL, with no ``status`` attribute — that marks it "lost") and the
candidate is re-queued as a new WAITING trial carrying the same attributes (same ``cid``) plus
``retry_of``; the next worker's ``ask`` pops it, atomically on JournalFile and PostgreSQL.

When is a RUNNING trial stale?
- **JournalFile** (no heartbeats in Optuna): when its owner (:mod:`evonorm.evolve.owner`) is a
  process of this host that is no longer running (pid and start time); a trial stamped by no
  owner is stale once it has run for ``UNOWNED_GRACE`` seconds (a worker dies between ``ask`` and
  stamping). Trials owned by another host are left to workers on that host.
- **RDB** (PostgreSQL): the same rule, plus Optuna's heartbeats — a trial whose worker has not
  beaten for the grace period is failed by ``optuna.storages.fail_stale_trials``, which calls
  :func:`requeue` from whichever process noticed.

- **Pipeline runs** (the Kubeflow workflow): a generation's trials are claimed by a ``generate``
  task and told by a ``record`` task of the same pipeline run, so their owner is
  ``{"pipeline_run": RUN_ID}``, not a process. Such a trial is stale when a *different* pipeline
  run starts on the study: runs of one study do not overlap (schedules run with max concurrency
  1), so a trial left RUNNING by another run belongs to a run that died.

Failing a trial goes through the storage's state transition, which only one process can win
(the loser gets ``UpdateFinishedTrialError``), so a candidate is re-queued once.
"""

from __future__ import annotations

import datetime as dt

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from evonorm.evolve import optuna_internals as internals
from evonorm.evolve.candidate import Candidate, Status
from evonorm.evolve.owner import is_alive
from evonorm.reject.verdict import Stage

__all__ = ["recover", "requeue"]

UNOWNED_GRACE = 60.0  # seconds
MAX_ATTEMPTS = 3  # evaluations of one candidate that may end with a dead worker


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue the candidate of the failed ``trial`` again (the heartbeat callback signature).

    A candidate whose workers died ``MAX_ATTEMPTS`` times (say, a layer that crashes the
    process) is recorded as an error instead, so that it cannot stall the search."""
    try:  # every attribute a candidate has, read back through Candidate
        attrs = Candidate.from_attrs(trial.user_attrs).attrs()
    except KeyError:
        return  # died before its candidate was (wholly) bound: nothing to evaluate
    if "function" in trial.user_attrs:  # an up-to-scale key, kept so it is not recomputed
        attrs["function"] = trial.user_attrs["function"]
    attrs["retry_of"] = trial.number
    attrs["attempt"] = int(trial.user_attrs.get("attempt", 1)) + 1
    if attrs["attempt"] <= MAX_ATTEMPTS:
        study.enqueue_trial({}, user_attrs=attrs)
        return
    reason = f"its worker died {MAX_ATTEMPTS} times while evaluating it; not retried"
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.FAIL,
            user_attrs={**attrs, "status": Status.ERROR, "stage": Stage.WORKER, "reason": reason},
        )
    )


def _stale(trial: FrozenTrial, now: dt.datetime, pipeline_run: str | None) -> bool:
    owner = trial.user_attrs.get("owner")
    if owner is None:
        started = trial.datetime_start or now
        return (now - started).total_seconds() > UNOWNED_GRACE
    if "pipeline_run" in owner:
        return pipeline_run is not None and owner["pipeline_run"] != pipeline_run
    return not is_alive(owner)


def recover(study: optuna.Study, *, pipeline_run: str | None = None) -> list[int]:
    """Fail the stale RUNNING trials of ``study`` and re-queue their candidates; returns the
    numbers of the trials this call failed. ``pipeline_run``: the pipeline run now starting on
    the study (trials held by other runs are then stale)."""
    optuna.storages.fail_stale_trials(study)  # RDB heartbeats (a no-op for journals)
    storage = internals.storage_of(study)
    now = dt.datetime.now()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _stale(trial, now, pipeline_run):
            continue
        try:
            if not storage.set_trial_state_values(
                internals.frozen_trial_id(trial), state=TrialState.FAIL
            ):
                continue
        except UpdateFinishedTrialError:
            continue  # finished meanwhile, by its worker or another recovering process
        failed.append(trial.number)
        requeue(study, trial)
    return failed
