"""Set-up time per candidate on the KFP local runner: the wall time of the candidate tasks
(``reject`` and ``train``) minus the evaluation inside them (target <= 5 s per candidate).

    make search 2>&1 | tee search.log
    .venv/bin/python bench/pipeline_setup.py search.log --storage journal:runs/search/optuna.log

The task wall time comes from the runner's own log lines ("Executing task 'reject'" …
"Task 'reject' finished"): with two loop iterations at once the lines of two tasks interleave,
but the sum of their durations is the sum of the end times minus the sum of the start times,
however they pair up. The evaluation is each candidate's recorded ``seconds`` (its rejection
chain and training, set-up excluded), for the trials of the runs in the log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from evonorm.evolve import Search, open_storage

TASKS = ("reject", "train")
LINE = re.compile(
    r"^(\d\d:\d\d:\d\d\.\d+) - INFO - (?:Executing task|Task) \W*'([\w-]+)'\W*( finished)?"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def task_seconds(log: str) -> dict[str, tuple[int, float]]:
    """Per task name: how many ran and their summed wall time (seconds)."""
    starts: dict[str, list[float]] = {t: [] for t in TASKS}
    ends: dict[str, list[float]] = {t: [] for t in TASKS}
    last, offset = None, 0.0
    for raw in log.splitlines():
        match = LINE.match(ANSI.sub("", raw))
        if not match:
            continue
        clock = dt.datetime.strptime(match.group(1), "%H:%M:%S.%f")
        at = clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6
        if last is not None and at + offset < last - 12 * 3600:
            offset += 24 * 3600  # the run went past midnight
        at += offset
        last = at
        name = match.group(2)
        if name in TASKS:
            (ends if match.group(3) else starts)[name].append(at)
    out = {}
    for name in TASKS:
        if len(starts[name]) != len(ends[name]):
            raise SystemExit(f"{name}: {len(starts[name])} starts, {len(ends[name])} ends")
        out[name] = (len(starts[name]), sum(ends[name]) - sum(starts[name]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="stdout + stderr of the run (make search)")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", default="search")
    parser.add_argument("--runs", type=int, default=1, help="pipeline runs in the log")
    args = parser.parse_args()
    tasks = task_seconds(args.log.read_text(errors="replace"))
    search = Search.open(args.study, open_storage(args.storage, must_exist=True))
    by_run: dict[str, list] = {}
    for t in search.trials():
        run = (t.user_attrs.get("owner") or {}).get("pipeline_run")
        if run and "seconds" in t.user_attrs:
            by_run.setdefault(run, []).append(t)
    latest = sorted(by_run, key=lambda r: max(t.number for t in by_run[r]))[-args.runs :]
    trials = [t for run in latest for t in by_run[run]]
    evaluation = sum(float(t.user_attrs["seconds"]) for t in trials)
    wall = sum(seconds for _, seconds in tasks.values())
    n = len(trials)
    print(f"candidates: {n} (runs {', '.join(latest)})")
    for name, (count, seconds) in tasks.items():
        print(f"{name} tasks: {count}, {seconds:.0f} s wall")
    print(f"evaluation inside them: {evaluation:.0f} s")
    setup = wall - evaluation
    print(f"set-up: {setup:.0f} s in all, {setup / max(n, 1):.1f} s per candidate")
    print(f"share of the candidate tasks' wall time: {(wall - evaluation) / wall:.0%}")


if __name__ == "__main__":
    main()
