"""MLflow tracking against a real SQLite tracking store; trials come from a real journal study."""

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from evonorm.evolve import Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.steps import generate, record
from evonorm.space import LayerGraph
from evonorm.tracking import SearchTracker, default_tracking_uri

ANCHORS = ("resnet", "mobilenet_v2", "efficientnet_b0")


def make_search(tmp_path):
    search = Search.open(
        "demo",
        open_storage(f"journal:{tmp_path / 's.log'}"),
        SearchConfig(preset="smoke", population=4),
    )
    a, r, d = generate(search, 3)
    record(
        search,
        Outcome(
            a.trial,
            "accepted",
            scores=dict(zip(ANCHORS, (0.8, 0.7, 0.6), strict=True)),
            stage="accepted",
            seconds=2.5,
            metrics={"grad_norm/resnet": 12.0, "quality/resnet": 0.5},
        ),
    )
    record(
        search,
        Outcome(
            r.trial,
            "rejected",
            stage="stability",
            reason="inf on resnet",
            metrics={"grad_norm/resnet": "inf"},
        ),
    )
    record(
        search,
        Outcome(
            d.trial, "duplicate", stage="fingerprint", duplicate_of=a.trial, reason="same function"
        ),
    )
    return search, (a, r, d)


def children(client, tracker):
    runs = client.search_runs(
        [tracker.experiment_id], filter_string="tags.`evonorm.role` = 'candidate'"
    )
    return {int(r.data.tags["evonorm.trial"]): r for r in runs}


def test_parent_run_children_metrics_and_artifacts(tmp_path):
    search, (a, r, d) = make_search(tmp_path)
    uri = default_tracking_uri(tmp_path / "run")
    tracker = SearchTracker(search, uri)
    assert tracker.sync(plots=True) == 3
    client = MlflowClient(uri)
    parent = client.get_run(tracker.parent_id)
    assert parent.data.params["preset"] == "smoke"
    assert parent.data.params["population"] == "4"
    assert parent.data.metrics["accepted"] == 1  # the duplicate is not counted as accepted
    assert parent.data.metrics["duplicates"] == 1
    parent_files = {f.path for f in client.list_artifacts(tracker.parent_id)}
    assert {"pareto_front.png", "best_so_far.png", "rejection_funnel.png"} <= parent_files

    runs = children(client, tracker)
    assert set(runs) == {a.trial, r.trial, d.trial}
    for run in runs.values():
        assert run.data.tags["mlflow.parentRunId"] == tracker.parent_id
        assert run.info.status == "FINISHED"
        assert {f.path for f in client.list_artifacts(run.info.run_id)} == {
            "graph.json",
            "graph.png",
        }
    accepted = runs[a.trial].data
    assert accepted.params["formula"] == a.graph.formula()
    assert accepted.params["hash"] == a.structural_hash
    assert accepted.metrics["accuracy/resnet"] == 0.8
    assert accepted.metrics["accepted"] == 1.0
    assert accepted.metrics["grad_norm/resnet"] == 12.0
    rejected = runs[r.trial].data
    assert rejected.tags["evonorm.stage"] == "stability"
    assert rejected.metrics["accepted"] == 0.0
    assert rejected.metrics["grad_norm/resnet"] >= 1e308  # MLflow stores inf as the largest float
    assert runs[d.trial].data.metrics["cache_hit"] == 1.0
    assert runs[d.trial].data.metrics["accuracy/efficientnet_b0"] == 0.6

    downloaded = client.download_artifacts(runs[a.trial].info.run_id, "graph.json", str(tmp_path))
    assert LayerGraph.from_json(Path(downloaded).read_text()) == a.graph


def test_sync_is_idempotent_and_a_resumed_search_keeps_its_parent(tmp_path):
    search, _ = make_search(tmp_path)
    uri = default_tracking_uri(tmp_path / "run")
    first = SearchTracker(search, uri)
    assert first.sync() == 3
    assert first.sync() == 0
    first.close("KILLED")
    (more,) = generate(search, 1)
    record(search, Outcome(more.trial, "rejected", stage="quality", reason="low"))
    resumed = SearchTracker(search, uri)
    assert resumed.parent_id == first.parent_id
    assert resumed.sync() == 1
    resumed.close()
    client = MlflowClient(uri)
    assert len(children(client, resumed)) == 4
    assert client.get_run(resumed.parent_id).info.status == "FINISHED"
    assert resumed.funnel() == {
        "structural": 0,
        "fingerprint": 0,
        "stability": 1,
        "quality": 1,
        "budget": 0,
        "worker": 0,
        "error": 0,
        "accepted": 1,
        "duplicate": 1,
    }


def candidate_runs(uri, tracker):
    return MlflowClient(uri).search_runs(
        [tracker.experiment_id], filter_string="tags.`evonorm.role` = 'candidate'"
    )


@pytest.mark.parametrize("lost", [ConnectionError("connection reset"), KeyboardInterrupt()])
def test_a_create_run_whose_answer_was_lost_is_adopted_not_repeated(tmp_path, lost):
    """The server made the run but the answer never came (it went down, or SIGTERM arrived
    mid-request): the next sync logs into that run instead of leaving it RUNNING beside a twin."""
    search, trials = make_search(tmp_path)
    uri = default_tracking_uri(tmp_path / "run")
    tracker = SearchTracker(search, uri)
    create_run, made = tracker.client.create_run, []

    def answer_lost(*args, **kwargs):
        run = create_run(*args, **kwargs)  # the store has it ...
        if not made:
            made.append(run.info.run_id)
            raise lost  # ... the tracker never hears of it
        return run

    tracker.client.create_run = answer_lost
    with pytest.raises(type(lost)):
        tracker.sync()
    assert tracker.sync() == 3
    runs = candidate_runs(uri, tracker)
    numbers = sorted(int(r.data.tags["evonorm.trial"]) for r in runs)
    assert numbers == sorted(t.trial for t in trials)
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert made[0] in {r.info.run_id for r in runs}


def test_a_twin_from_a_retried_post_is_deleted_when_the_tracker_closes(tmp_path):
    """MLflow's HTTP client retries POSTs: a create_run whose first answer was lost can make two
    runs and return the second. The first, never heard of, is deleted at close (and when a
    resumed tracker starts)."""
    search, trials = make_search(tmp_path)
    uri = default_tracking_uri(tmp_path / "run")
    tracker = SearchTracker(search, uri)
    create_run = tracker.client.create_run

    def retried(*args, **kwargs):
        create_run(*args, **kwargs)  # the first try, committed; its answer lost
        return create_run(*args, **kwargs)

    tracker.client.create_run = retried
    assert tracker.sync() == 3
    assert len(candidate_runs(uri, tracker)) == 6  # three RUNNING twins
    tracker.close()
    runs = candidate_runs(uri, tracker)
    numbers = sorted(int(r.data.tags["evonorm.trial"]) for r in runs)
    assert numbers == sorted(t.trial for t in trials)
    assert {r.info.status for r in runs} == {"FINISHED"}
