"""Set-up time per candidate on the KFP local runner: the wall time of the candidate tasks
(``reject`` and ``train``) minus the evaluation inside them (target <= 5 s per candidate).

    make search
    .venv/bin/python bench/pipeline_setup.py runs/kfp/evonorm-search-<timestamp> \\
        --storage journal:runs/search/optuna.log --study search

Read from the run's pipeline root, not from the runner's log (its lines of two tasks running at
once sometimes lose one): a task's end is the time its ``executor_output.json`` was written; a
``reject`` task starts when its generation's ``generate`` ended, a ``train`` task when its
group's ``reject`` ended (the runner starts a task as soon as its inputs exist). The wall time
thus includes starting the subprocess and its imports. The evaluation is each candidate's
recorded ``seconds`` (its rejection chain and training, set-up excluded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evonorm.evolve import Search, open_storage


def _end(task: Path) -> float:
    return (task / "executor_output.json").stat().st_mtime


def task_walls(run: Path) -> tuple[list[int], float, float]:
    """The trials the run's reject tasks screened, and the summed wall time of its reject and
    its train tasks (seconds)."""
    trials, reject, train = [], 0.0, 0.0
    for generation in sorted(run.glob("for-loop-*-iteration-*")):
        if not (generation / "generate").is_dir():
            continue
        born = _end(generation / "generate")
        for group in sorted(generation.glob("for-loop-*-iteration-*")):
            screened = _end(group / "reject")
            reject += screened - born
            train += _end(group / "train") - screened
            output = json.loads((group / "reject" / "executor_output.json").read_text())
            items = json.loads(output["parameterValues"]["Output"])
            trials += [item["candidate"]["trial"] for item in items]
    return trials, reject, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's folder under the pipeline root")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", default="search")
    args = parser.parse_args()
    trials, reject, train = task_walls(args.run)
    search = Search.open(args.study, open_storage(args.storage, must_exist=True))
    seconds = {t.number: float(t.user_attrs.get("seconds", 0.0)) for t in search.trials()}
    evaluation = sum(seconds[t] for t in trials)
    wall = reject + train
    setup = wall - evaluation
    n = len(trials)
    print(f"candidates: {n} in {args.run.name}")
    print(f"reject tasks: {reject:.0f} s wall; train tasks: {train:.0f} s wall")
    print(f"evaluation inside them: {evaluation:.0f} s")
    print(f"set-up: {setup:.0f} s in all, {setup / max(n, 1):.1f} s per candidate")
    print(f"share of the candidate tasks' wall time: {setup / wall:.0%}")


if __name__ == "__main__":
    main()
