"""Run a search: W worker processes against one storage, until the budget is spent.

Each worker loops: recover stale trials → claim a trial (a re-queued candidate first, else a new
child, while ``done + running < budget``) → evaluate → record. The launcher recovers before and
after the workers run, shows a progress bar read from the storage, and restarts the workers when
one died leaving re-queued candidates (at most ``MAX_ROUNDS`` rounds). Re-running the same
command resumes the same study; ``budget`` is the study's total of recorded candidates.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm import tqdm

from evonorm.evolve import steps
from evonorm.evolve.owner import this_process
from evonorm.evolve.recovery import recover, requeue
from evonorm.evolve.search import Census, Search, SearchConfig, SearchError, quiet_optuna
from evonorm.evolve.storage import StorageError, StorageSpec, open_storage
from evonorm.proxy.data import DATASETS
from evonorm.proxy.limits import Limits
from evonorm.proxy.presets import get_preset

__all__ = ["Stopped", "WorkerSettings", "run_search", "work"]

MAX_ROUNDS = 3
STOP_GRACE = 10.0  # seconds a worker gets to exit after SIGTERM before it is killed
STORAGE_FULL_EXIT = 75  # a worker's exit status when the study storage cannot be written
FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # disk full, file size limit, quota


class Stopped(KeyboardInterrupt):
    """The launcher got SIGTERM: like Ctrl-C, it stops its workers, re-queues the candidates
    they held and ends; the same command resumes the search."""


class Observer(Protocol):
    """Follows a search from the launcher (e.g. MLflow tracking): ``update`` whenever the census
    changes, ``close`` once with FINISHED, FAILED or KILLED."""

    def update(self, census: Census) -> None: ...

    def close(self, status: str) -> None: ...


@dataclass(frozen=True)
class WorkerSettings:
    study: str
    storage: str
    budget: int
    device: str = "cpu"
    threads: int = 0  # torch intra-op threads per worker; 0 = cores / workers
    heartbeat_interval: int | None = None  # RDB only; None = storage default
    grace_period: int | None = None
    limits: Limits | None = None  # each candidate's memory and time budget (proxy.limits)


def _open(settings: WorkerSettings):
    kwargs = {}
    if settings.heartbeat_interval:
        kwargs["heartbeat_interval"] = settings.heartbeat_interval
    if settings.grace_period:
        kwargs["grace_period"] = settings.grace_period
    return open_storage(settings.storage, on_stale=requeue, **kwargs)


def work(settings: WorkerSettings) -> int:
    """One worker's loop; returns the number of outcomes it recorded."""
    quiet_optuna()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    search = Search.open(settings.study, _open(settings))
    search.refuse_stale()  # a worker may join a study that no one opened with a config here
    data = get_preset(search.config.preset).load_data(
        seed=search.config.seed, device=settings.device
    )
    owner = this_process()
    recorded = 0
    while True:
        recover(search.study)
        census = search.census()
        if census.waiting == 0 and census.done + census.running >= settings.budget:
            return recorded
        trial = search.claim(owner)
        candidate = search.bind(trial, owner)
        chain = steps.chain_for(search, data)
        with steps.heartbeat(search.study, trial.number):
            outcome = steps.evaluate(
                candidate, chain, limits=settings.limits, repeats=search.config.repeats
            )
        search.save_quality_references(chain.references)
        recorded += steps.record(search, outcome)


def _worker_main(settings: WorkerSettings) -> None:
    try:
        work(settings)
    except OSError as error:  # a full disk is no bug: the launcher stops with one line
        if error.errno not in FULL:
            raise
        sys.exit(STORAGE_FULL_EXIT)


def run_search(
    config: SearchConfig,
    settings: WorkerSettings,
    workers: int = 1,
    *,
    progress: bool = True,
    observe: Callable[[Search], Observer] | None = None,
) -> Census:
    """Create or resume the search and run ``workers`` processes until ``settings.budget``
    candidates are recorded; returns the final census (no trial left RUNNING by this run)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if settings.budget < 1:
        raise ValueError(f"budget must be >= 1, got {settings.budget}")
    quiet_optuna()
    StorageSpec.parse(settings.storage).check_workers(workers)
    DATASETS[get_preset(config.preset).dataset].load("train")  # missing files: DataError now
    search = Search.open(settings.study, _open(settings), config)
    if not settings.threads:
        per_worker = max(1, (os.cpu_count() or 1) // workers)
        settings = WorkerSettings(**{**settings.__dict__, "threads": per_worker})
    observer = observe(search) if observe else None
    context = mp.get_context("spawn")  # torch and fork do not mix
    bar = tqdm(
        total=settings.budget,
        desc=settings.study,
        unit="layer",
        disable=not progress,
        initial=min(search.census().done, settings.budget),
        dynamic_ncols=True,
    )
    status = "FAILED"
    processes: list[mp.Process] = []
    restore = _stop_on_sigterm()
    try:
        for _ in range(MAX_ROUNDS):
            recover(search.study)
            census = search.census()
            if census.waiting == 0 and census.done >= settings.budget:
                break
            processes = [
                context.Process(target=_worker_main, args=(settings,), name=f"evonorm-worker-{i}")
                for i in range(workers)
            ]
            for p in processes:
                p.start()
            shown = None
            while any(p.is_alive() for p in processes):
                census = search.census()
                if census != shown:
                    _show(bar, census)
                    if observer:
                        _observe(observer.update, census)
                    shown = census
                time.sleep(0.5)
            for p in processes:
                p.join()
            if any(p.exitcode == STORAGE_FULL_EXIT for p in processes):
                raise StorageError(
                    f"cannot write study storage {settings.storage}: the disk (or quota, or "
                    "file size limit) is full; free space and run the same command to resume: "
                    "every candidate recorded before is kept"
                )
            failed = [f"{p.name} (exit code {p.exitcode})" for p in processes if p.exitcode]
            if not failed:
                break
            tqdm.write(
                f"evonorm: {', '.join(failed)} stopped early; recovering its trial and "
                "restarting the workers",
                file=sys.stderr,
            )
        else:
            if search.census().done < settings.budget:
                raise SearchError(
                    f"the workers stopped early {MAX_ROUNDS} times (their errors are above); "
                    "the study keeps what they recorded: fix the cause and run the command again"
                )
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        _stop(processes)
        restore()
        with contextlib.suppress(OSError):  # a full disk: the next run recovers instead
            recover(search.study)
        census = search.census()
        _show(bar, census)
        bar.close()
        if observer:
            _observe(observer.close, status)
    return census


def _stop_on_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into :class:`Stopped` while the search runs (main thread only); returns
    the function that puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stopped(signum, frame):
        raise Stopped(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stopped)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _stop(processes: list[mp.Process]) -> None:
    """SIGTERM to the workers still running, SIGKILL to those not gone after STOP_GRACE."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def _observe(call: Callable, *args) -> None:
    """Tracking never stops a search: a failed call is one warning; the tracker logs what it
    missed at its next successful call (it syncs from the study)."""
    try:
        call(*args)
    except Exception as error:  # MLflow down, store full, ...: the study is the truth
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        tqdm.write(
            f"evonorm: tracking failed ({type(error).__name__}: {message}); the search "
            "goes on and logs what it missed once tracking works again",
            file=sys.stderr,
        )


def _show(bar: tqdm, census: Census) -> None:
    bar.n = min(census.done, bar.total)
    best = "-" if census.best != census.best else f"{census.best:.2%}"
    bar.set_postfix_str(
        f"accepted {census.accepted} · rejected {census.rejected} · duplicates {census.duplicates}"
        f" · errors {census.errors} · best {best}",
        refresh=True,
    )
