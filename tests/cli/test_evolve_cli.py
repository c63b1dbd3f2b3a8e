"""`evonorm evolve` end to end: real worker processes, a JournalFile, a SQLite MLflow store."""

import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from evonorm.evolve import Search, open_storage


def evolve(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "evonorm", "evolve", "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.timeout(600)
def test_search_runs_resumes_and_is_tracked(tmp_path):
    args = [
        "--preset",
        "smoke",
        "--study",
        "demo",
        "--storage",
        "journal:runs/demo.log",
        "--workers",
        "2",
        "--population",
        "3",
        "--tournament",
        "2",
    ]
    first = evolve(tmp_path, *args, "--budget", "8")
    assert first.returncode == 0, first.stderr
    assert "demo: " in first.stderr and "recorded" in first.stderr
    search = Search.open("demo", open_storage(f"journal:{tmp_path / 'runs/demo.log'}"))
    census = search.census()
    assert census.done >= 8 and census.running == 0 and census.waiting == 0

    second = evolve(tmp_path, *args, "--budget", "12")
    assert second.returncode == 0, second.stderr
    records = search.records()
    recorded = [r for r in records if r.status]
    assert len(recorded) >= 12
    assert not [r for r in records if r.state in ("RUNNING", "WAITING")]
    assert any(r.attrs.get("origin") == "mutation" for r in recorded)  # evolution took over

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs/demo/mlflow.db'}")
    experiment = client.get_experiment_by_name("evonorm")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("evonorm.role") == "search"]
    kids = [r for r in runs if r.data.tags.get("evonorm.role") == "candidate"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(r.data.tags["evonorm.trial"]) for r in kids) == [r.number for r in recorded]
    files = {f.path for f in client.list_artifacts(parents[0].info.run_id)}
    assert {"pareto_front.png", "best_so_far.png", "rejection_funnel.png"} <= files


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--storage", "sqlite:///x.db", "--workers", "2"], "SQLite"),
        (["--storage", "redis://localhost"], "is not supported"),
        (["--tournament", "0"], "tournament must be in"),
        (["--tournament", "1.5"], "tournament must be in (0, 1]"),
        (["--warmup", "17"], "warmup must be in [1, population_size=16]"),
        (["--mutations", "swap=1"], "unknown mutations ['swap']"),
        (["--mutations", "op=0.5,rewire=0.4"], "sum to 1"),
        (["--seed-layers", "bn_relu,nope"], "unknown seed layer 'nope'"),
        (["--repeats", "6"], "repeats must be a whole number in [1, 5], got 6"),
        (["--near-misses", "1.5"], "near_misses must be a probability in [0, 1], got 1.5"),
        (["--strategy", "random", "--mutations", "op=1"], "evolution only"),
        (["--up-to-scale"], "up_to_scale refines distinct: set distinct as well"),
        (["--keep-seeds"], "keep_seeds keeps seed layers in the population: name seed layers"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(tmp_path, extra, message):
    done = evolve(tmp_path, "--preset", "smoke", "--budget", "1", "--no-tracking", *extra)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.log"))


def test_resuming_with_other_settings_is_refused(tmp_path):
    base = ["--preset", "smoke", "--study", "s", "--no-tracking", "--budget", "1"]
    assert evolve(tmp_path, *base).returncode == 0
    done = evolve(tmp_path, *base, "--space", "S")
    assert done.returncode == 2
    assert "space: stored 'B', asked 'S'" in done.stderr


def test_resuming_a_study_of_another_fingerprint_version_is_refused(tmp_path):
    base = ["--preset", "smoke", "--study", "s", "--no-tracking", "--budget", "1"]
    assert evolve(tmp_path, *base).returncode == 0
    search = Search.open("s", open_storage(f"journal:{tmp_path / 'runs/s/optuna.log'}"))
    search.study.set_user_attr(
        "evonorm.config", {**search.config.to_attrs(), "fingerprint_version": 1}
    )
    trials = len(search.trials())
    done = evolve(tmp_path, *[a if a != "1" else "3" for a in base])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "fingerprinted by version 1" in lines[0], done.stderr
    assert len(search.trials()) == trials
