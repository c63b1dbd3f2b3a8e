"""Every use of Optuna's private API, in one place, with the reason public calls do not do.

The search keeps all of its state in the study and runs its trials from several processes
(CLI workers, pipeline pods), where Optuna's public ``ask``/``tell`` assumes one process owns a
trial from start to end. Three things the public API cannot express:

- **claim in one write**: ``study.ask()`` pops a waiting trial or creates one, *then* its owner
  is stamped: a worker killed between the two leaves a RUNNING trial nobody owns. Creating the
  trial from a template with its owner attribute set is one storage write.
- **write to a trial by number from another process**: a pipeline's ``record`` step tells trials
  that a ``generate`` pod claimed; only the storage takes a trial id.
- **fail someone else's stale trial**: crash recovery fails RUNNING trials whose owner died
  (``fail_stale_trials`` covers only RDB heartbeats) and beats for a trial from a thread.
- **retry through a lost connection**: the calls Optuna makes on an RDB storage include
  private ones (:data:`RDB_CALLS_FROM_OPTUNA`), which the reconnecting storage must wrap too.

Checked against optuna 5.0.0, the pinned version: tests/evolve exercise each function (claim,
record, recovery, heartbeats) on JournalFile and PostgreSQL, so an Optuna upgrade that moves
these fails there first.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

__all__ = [
    "RDB_CALLS_FROM_OPTUNA",
    "create_trial",
    "frozen_trial_id",
    "pop_waiting_trial",
    "storage_of",
    "trial_id",
]

# The private RDBStorage methods Optuna calls from outside the storage: its in-process cache in
# front of every RDB storage, and the heartbeats' stale-trial query. Each opens a database
# session of its own; evolve/reconnect.py retries them like the public calls.
RDB_CALLS_FROM_OPTUNA = (
    "_create_new_trial",
    "_set_trial_param",
    "_get_best_trial_id",
    "_get_trials",
    "_get_stale_trial_ids",
)


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage behind ``study`` (``study._storage``)."""
    return study._storage


def trial_id(study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study``."""
    return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)


def frozen_trial_id(trial: FrozenTrial) -> int:
    """The storage's id of a trial read with ``get_trials``."""
    return trial._trial_id


def pop_waiting_trial(study: optuna.Study) -> int | None:
    """Atomically take a WAITING (enqueued) trial and make it RUNNING; None when none waits."""
    return study._pop_waiting_trial_id()


def create_trial(study: optuna.Study, template: FrozenTrial) -> int:
    """Create a trial from ``template`` (its state and attributes) in one storage write."""
    return study._storage.create_new_trial(study._study_id, template)
