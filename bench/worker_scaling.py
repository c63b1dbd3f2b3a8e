"""Search throughput with 1, 2 and 4 worker processes on a JournalFile and on PostgreSQL, with a
cheap stand-in evaluation (a fixed sleep), so that what scales or not is the orchestration:
claiming trials, recovering, binding children, recording outcomes.

    .venv/bin/python bench/worker_scaling.py [--postgres URL] [--budget 40] [--eval-seconds 0.2]

Each worker runs the same claim → evaluate → record loop as ``evonorm evolve`` (the real
``recover``, ``Search.claim``/``bind`` and ``steps.record``), with the evaluation replaced by a
sleep and an accepted outcome with random scores. Prints, per storage, candidates per second in
steady state (first to last completion), the speed-up over one worker, and the start-up time
(launch to first completion: spawning, imports, opening the storage).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from evonorm.evolve import Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.owner import this_process
from evonorm.evolve.recovery import recover, requeue
from evonorm.evolve.steps import record


def _worker(url: str, study: str, budget: int, eval_seconds: float) -> None:
    search = Search.open(study, open_storage(url, on_stale=requeue))
    owner = this_process()
    rng = np.random.default_rng(os.getpid())
    while True:
        recover(search.study)
        census = search.census()
        if census.waiting == 0 and census.done + census.running >= budget:
            return
        candidate = search.bind(search.claim(owner), owner)
        time.sleep(eval_seconds)
        scores = dict(zip(search.config.anchors, rng.uniform(0.5, 0.9, 3), strict=True))
        record(search, Outcome(candidate.trial, "accepted", scores=scores, stage="accepted"))


def throughput(url: str, workers: int, budget: int, eval_seconds: float) -> tuple[float, float]:
    """(candidates per second in steady state — between the first and the last completion —,
    seconds from launch to the first completion, i.e. worker start-up)."""
    study = f"scaling-{uuid.uuid4().hex[:8]}"
    Search.open(study, open_storage(url), SearchConfig(preset="smoke", population=8))
    context = mp.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(url, study, budget, eval_seconds))
        for _ in range(workers)
    ]
    launched = datetime.datetime.now()
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    records = Search.open(study, open_storage(url)).records()
    finished = sorted(r.completed for r in records if r.status)
    steady = (finished[-1] - finished[0]).total_seconds()
    return (len(finished) - 1) / steady, (finished[0] - launched).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (default: scripts/test-postgres.sh)")
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--eval-seconds", type=float, default=0.2)
    args = parser.parse_args()
    postgres = (
        args.postgres
        or subprocess.run(
            [str(Path(__file__).parents[1] / "scripts" / "test-postgres.sh")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory() as tmp:
        storages = {"journal": f"journal:{Path(tmp) / 'scaling.log'}", "postgres": postgres}
        print(
            f"{args.budget} candidates, {args.eval_seconds} s stand-in evaluation, "
            f"{os.cpu_count()} CPUs; ideal speed-up = workers"
        )
        print(f"{'storage':10} {'workers':>7} {'cand/s':>8} {'speed-up':>9} {'start-up s':>11}")
        for name, url in storages.items():
            base = None
            for workers in (1, 2, 4):
                rate, startup = throughput(url, workers, args.budget, args.eval_seconds)
                base = base or rate
                print(
                    f"{name:10} {workers:7d} {rate:8.2f} {rate / base:8.2f}x {startup:11.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
