"""The share of a candidate's wall time spent on orchestration — claiming and binding a trial
(selection + mutation), building the duplicate maps, recording the outcome, logging the child
run to MLflow — against the evaluation itself, at the ``local`` preset (target <= 5 %).

    .venv/bin/python bench/orchestration_overhead.py [--history 300] [--cycles 20]

The study first holds ``--history`` recorded candidates (so the reads are not trivially small);
the orchestration steps are then timed over ``--cycles`` candidates on a JournalFile and a
SQLite MLflow store, and the evaluation is one real full evaluation (rejection chain + training
on the three anchors) of EvoNorm-B0 at the ``local`` preset.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evonorm import known_layer
from evonorm.evolve import Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.owner import this_process
from evonorm.evolve.steps import chain_for, record
from evonorm.proxy.presets import get_preset
from evonorm.reject.protocol import RejectionChain, evaluate
from evonorm.tracking import SearchTracker, default_tracking_uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--preset", default="local")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    data = preset.load_data()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        search = Search.open(
            "overhead",
            open_storage(f"journal:{Path(tmp) / 's.log'}"),
            SearchConfig(preset=args.preset, population=16),
        )
        tracker = SearchTracker(search, default_tracking_uri(tmp), plot_every=10)
        owner = this_process()

        def one(timings: dict[str, list[float]] | None) -> None:
            t0 = time.perf_counter()
            candidate = search.bind(search.claim(owner), owner)
            t1 = time.perf_counter()
            chain_for(search, data)
            t2 = time.perf_counter()
            scores = dict(zip(search.config.anchors, rng.uniform(0.5, 0.9, 3), strict=True))
            record(
                search,
                Outcome(
                    candidate.trial,
                    "accepted",
                    scores=scores,
                    stage="accepted",
                    metrics={"grad_norm/resnet": 10.0},
                ),
            )
            t3 = time.perf_counter()
            tracker.sync()
            t4 = time.perf_counter()
            if timings is not None:
                for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    timings[key].append(value)

        for _ in range(args.history):
            one(None)
        timings: dict[str, list[float]] = {
            "claim + bind": [],
            "duplicate maps": [],
            "record": [],
            "MLflow sync": [],
        }
        for _ in range(args.cycles):
            one(timings)
    chain = RejectionChain(preset, data)
    start = time.perf_counter()
    evaluation = evaluate(known_layer("evonorm_b0"), chain)
    evaluation_seconds = time.perf_counter() - start
    overhead = sum(statistics.fmean(v) for v in timings.values())
    print(
        f"preset {args.preset}; study with {args.history} recorded candidates; "
        f"means over {args.cycles} candidates"
    )
    for key, values in timings.items():
        print(f"  {key:16} {statistics.fmean(values) * 1000:8.1f} ms")
    print(f"  orchestration    {overhead * 1000:8.1f} ms per candidate")
    print(f"evaluation of EvoNorm-B0 ({evaluation.verdict.stage}): {evaluation_seconds:.1f} s")
    print(f"orchestration share: {overhead / (overhead + evaluation_seconds):.2%} (target <= 5 %)")


if __name__ == "__main__":
    main()
