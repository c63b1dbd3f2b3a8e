"""The evaluate step on the smoke preset: outcomes, the functional-equivalence cache, errors,
a candidate's memory and time budget."""

import dataclasses
import json
import resource

import pytest
import torch

from evonorm import tasks
from evonorm.evolve import Candidate, Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.candidate import Screened
from evonorm.evolve.owner import this_process
from evonorm.evolve.steps import chain_for, evaluate, record
from evonorm.evolve.worker import WorkerSettings, work
from evonorm.proxy.limits import Limits
from evonorm.proxy.presets import get_preset
from evonorm.space import LayerGraph, Node


@pytest.fixture(scope="module")
def data():
    return get_preset("smoke").load_data()


def bound(search, graph):
    """``graph`` as a candidate bound to a fresh trial (what ``generate`` does with a child)."""
    trial = search.claim(this_process())
    candidate = Candidate(graph, "B", generation=0, origin="random", trial=trial.number)
    for key, value in candidate.attrs().items():
        trial.set_user_attr(key, value)
    return candidate


def test_a_functional_duplicate_reuses_the_scores_without_training(tmp_path, data):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    first = bound(search, LayerGraph((Node("abs", (0,)),)))
    outcome = evaluate(first, chain_for(search, data))
    assert outcome.status == "accepted", outcome
    assert set(outcome.scores) == set(search.config.anchors)
    assert outcome.fingerprint and outcome.metrics["grad_norm/resnet"] > 0
    assert outcome.metrics["threads"] == torch.get_num_threads()  # scores depend on it (CPU)
    record(search, outcome)

    twin = bound(search, LayerGraph((Node("abs", (0,)), Node("abs", (4,)))))  # |(|x|)| = |x|
    assert twin.structural_hash != first.structural_hash
    again = evaluate(twin, chain_for(search, data))
    assert (again.status, again.stage, again.duplicate_of) == ("duplicate", "fingerprint", 0)
    assert again.seconds < outcome.seconds / 5  # no training
    record(search, again)
    trials = search.study.get_trials()
    assert trials[1].values == trials[0].values
    assert search.census().duplicates == 1

    same = bound(search, LayerGraph((Node("neg", (0,)), Node("abs", (0,)))))  # dead node only
    third = evaluate(same, chain_for(search, data))
    assert (third.status, third.stage, third.duplicate_of) == ("duplicate", "structural", 0)


def test_a_rejected_layer_is_an_outcome_with_stage_and_reason(tmp_path, data):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    explosive = bound(search, LayerGraph((Node("exp", (0,)), Node("exp", (4,)))))
    outcome = evaluate(explosive, chain_for(search, data))
    assert outcome.status == "rejected"
    assert outcome.stage in ("fingerprint", "stability")
    assert outcome.reason
    assert Outcome.from_json(outcome.to_json()) == outcome


def test_a_bug_while_evaluating_is_an_error_outcome_not_an_exception(tmp_path, data):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    candidate = bound(search, LayerGraph((Node("abs", (0,)),)))
    broken = dataclasses.replace(chain_for(search, data), data=None)  # not a ProxyData
    outcome = evaluate(candidate, broken)
    assert outcome.status == "error"
    assert "AttributeError" in outcome.reason
    record(search, outcome)
    assert search.study.trials[0].state.name == "FAIL"
    assert search.census().errors == 1


def test_a_candidate_past_its_memory_budget_is_rejected_and_the_search_goes_on(tmp_path, data):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    chain = chain_for(search, data)
    preset = chain.preset
    hungry = dataclasses.replace(  # batches of 8192: gigabytes of activations
        chain,
        preset=dataclasses.replace(
            preset, train=dataclasses.replace(preset.train, batch_size=8192)
        ),
    )
    before = resource.getrlimit(resource.RLIMIT_DATA)
    candidate = bound(search, LayerGraph((Node("abs", (0,)),)))
    outcome = evaluate(candidate, hungry, limits=Limits(memory_mb=512))
    assert (outcome.status, outcome.stage) == ("rejected", "budget"), outcome
    assert outcome.reason.startswith("out of memory: it needed more than its 512 MiB budget")
    assert "(during quality on resnet" in outcome.reason
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    record(search, outcome)

    next_one = bound(search, LayerGraph((Node("neg", (0,)),)))
    assert evaluate(next_one, chain, limits=Limits(memory_mb=1024)).status == "accepted"
    assert search.census().rejected == 1


def test_a_candidate_past_its_time_budget_is_rejected_in_the_worker_and_in_the_tasks(tmp_path):
    url = f"journal:{tmp_path / 's.log'}"
    search = Search.open("s", open_storage(url), SearchConfig(preset="smoke", strategy="random"))
    slow = Limits(seconds=0.05)  # a smoke candidate needs seconds
    assert work(WorkerSettings("s", url, budget=3, limits=slow)) == 3
    census = search.census()
    assert (census.done, census.running, census.accepted) == (3, 0, 0)
    rejected = [t for t in search.study.get_trials() if t.user_attrs["status"] == "rejected"]
    assert rejected and all(t.user_attrs["stage"] == "budget" for t in rejected)
    assert all(
        "over its time budget of 0.05 s (during " in t.user_attrs["reason"] for t in rejected
    )

    candidate = bound(search, LayerGraph((Node("abs", (0,)),)))
    screened = tasks.reject("s", url, f"[{candidate.to_json()}]", limits=slow)
    (item,) = json.loads(screened)
    held = Screened.from_json(json.dumps(item)).outcome
    assert (held.status, held.stage, held.trial) == ("rejected", "budget", candidate.trial)
    (trained,) = json.loads(tasks.train("s", url, screened, device="cpu"))
    assert Outcome(**trained) == held


def test_repeats_train_an_accepted_layer_under_more_seeds_and_score_the_mean(tmp_path, data):
    """A search with repeats=2 trains each anchor twice (seeds s and s + 1000) and records the
    mean, with each seed's accuracy in the trial's metrics; the layer's training under seed s
    alone gives the first of them."""
    from evonorm.reject.protocol import repeat_seed, train_anchors
    from evonorm.space import known_layer

    config = SearchConfig(preset="smoke", seed=3, repeats=2)
    search = Search.open("r", open_storage(f"journal:{tmp_path / 's.log'}"), config)
    candidate = bound(search, known_layer("bn_relu"))
    outcome = evaluate(candidate, chain_for(search, data), repeats=2)
    assert outcome.status == "accepted", outcome.reason
    chain = chain_for(search, data)
    once = train_anchors(candidate.graph, chain)
    assert repeat_seed(3, 1) == 1003
    for arch, score in outcome.scores.items():
        first = outcome.metrics[f"accuracy/{arch}/repeat0"]
        second = outcome.metrics[f"accuracy/{arch}/repeat1"]
        assert score == pytest.approx((first + second) / 2)
        assert first == pytest.approx(once[arch].accuracy)
    assert any(
        outcome.metrics[f"accuracy/{a}/repeat0"] != outcome.metrics[f"accuracy/{a}/repeat1"]
        for a in outcome.scores
    )  # a second seed is a second draw, not a copy
