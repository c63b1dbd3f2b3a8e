"""The population in Optuna: study layout, recording outcomes, census, duplicates, resume checks.
Real storages (JournalFile and PostgreSQL); outcomes are written directly, without training."""

import dataclasses

import optuna
import pytest
from optuna.trial import TrialState

from evonorm.evolve import Outcome, Search, SearchConfig, SearchError, open_storage
from evonorm.evolve.steps import generate, record
from evonorm.evolve.worker import WorkerSettings, work
from evonorm.proxy.presets import get_preset
from evonorm.reject.fingerprint import FINGERPRINT_VERSION
from evonorm.space import known_layer

ANCHORS = ("resnet", "mobilenet_v2", "efficientnet_b0")


def accepted(trial, *scores):
    return Outcome(trial, "accepted", scores=dict(zip(ANCHORS, scores, strict=True)), seconds=1.0)


def test_study_has_one_named_maximize_direction_per_anchor(storage_url, study_name):
    search = Search.open(study_name, open_storage(storage_url), SearchConfig(preset="smoke"))
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE] * 3
    assert study.metric_names == list(ANCHORS)
    assert Search.open(study_name, open_storage(storage_url)).config == search.config


def test_resuming_with_other_settings_names_them(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    Search.open("s", storage, SearchConfig(preset="smoke", population=8))
    with pytest.raises(SearchError, match="population: stored 8, asked 9"):
        Search.open("s", storage, SearchConfig(preset="smoke", population=9))
    with pytest.raises(SearchError, match="no search named 'other'"):
        Search.open("other", storage)


def test_a_study_scored_under_another_preset_revision_is_refused(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    search = Search.open("s", storage, SearchConfig(preset="smoke"))
    attrs = search.config.to_attrs()
    assert attrs["preset_revision"] == get_preset("smoke").revision
    search.study.set_user_attr("evonorm.config", {**attrs, "preset_revision": "0123456789"})
    with pytest.raises(SearchError, match="revision 0123456789; the preset is now revision"):
        Search.open("s", storage, SearchConfig(preset="smoke"))
    del attrs["preset_revision"]  # as written before revisions were recorded
    search.study.set_user_attr("evonorm.config", attrs)
    with pytest.raises(SearchError, match="revision not recorded"):
        Search.open("s", storage, SearchConfig(preset="smoke"))
    assert Search.open("s", storage).config == search.config  # reading it is still allowed


def test_a_study_fingerprinted_by_another_version_is_refused_by_every_writer(tmp_path):
    """Its duplicates and rejections were decided by another fingerprint: a resumed search and a
    worker joining it both refuse it (nothing written); reading it is still allowed."""
    url = f"journal:{tmp_path / 's.log'}"
    storage = open_storage(url)
    search = Search.open("s", storage, SearchConfig(preset="smoke"))
    attrs = search.config.to_attrs()
    assert attrs["fingerprint_version"] == FINGERPRINT_VERSION
    for older in ({**attrs, "fingerprint_version": 1}, without(attrs, "fingerprint_version")):
        search.study.set_user_attr("evonorm.config", older)  # the second: stored no version
        journal = (tmp_path / "s.log").read_bytes()
        with pytest.raises(SearchError, match="fingerprinted by version 1 of evonorm's layer"):
            Search.open("s", storage, SearchConfig(preset="smoke"))
        now = f"this code fingerprints by version {FINGERPRINT_VERSION}"
        with pytest.raises(SearchError, match=now):
            work(WorkerSettings(study="s", storage=url, budget=3, threads=1))
        assert Search.open("s", storage).config == search.config
        assert Search.open("s", storage).stored_attrs()["fingerprint_version"] == 1
        assert search.trials() == [] and (tmp_path / "s.log").read_bytes() == journal


def without(attrs: dict, key: str) -> dict:
    return {k: v for k, v in attrs.items() if k != key}


def test_resuming_with_another_mutation_mix_is_refused_and_names_both(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    mix = {"op": 0.5, "rewire": 0.5}
    search = Search.open("s", storage, SearchConfig(preset="smoke", mutations=mix))
    assert Search.open("s", storage).config.mutations == mix  # stored with the study
    with pytest.raises(SearchError, match=r"mutations: stored \{'op': 0.5, 'rewire': 0.5\}"):
        Search.open("s", storage, SearchConfig(preset="smoke"))
    assert search.config.to_attrs()["mutations"] == mix


def test_a_study_stored_before_a_setting_existed_resumes_with_its_default(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    search = Search.open("s", storage, SearchConfig(preset="smoke"))
    old = {k: v for k, v in search.config.to_attrs().items() if k != "warmup"}
    search.study.set_user_attr("evonorm.config", old)  # as written before `warmup` existed
    assert Search.open("s", storage, SearchConfig(preset="smoke")).config.warmup is None
    with pytest.raises(SearchError, match="warmup: stored None, asked 2"):
        Search.open("s", storage, SearchConfig(preset="smoke", warmup=2))


def test_novel_searches_never_bind_a_structure_twice(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    novel = Search.open("n", storage, SearchConfig(preset="smoke", strategy="random", novel=True))
    hashes = [c.structural_hash for c in generate(novel, 40)]
    assert len(set(hashes)) == 40 and novel.proposed() == frozenset(hashes)
    plain = Search.open("p", storage, SearchConfig(preset="smoke", strategy="random"))
    assert len({c.structural_hash for c in generate(plain, 40)}) < 40  # random graphs repeat


def test_candidates_are_trials_carrying_graph_and_lineage(tmp_path):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    candidates = generate(search, 3)
    assert [c.trial for c in candidates] == [0, 1, 2]
    for c in candidates:
        attrs = search.study.trials[c.trial].user_attrs
        assert attrs["cid"] == c.cid
        assert attrs["hash"] == c.structural_hash
        assert attrs["formula"] == c.graph.formula()
        assert (attrs["space"], attrs["generation"], attrs["origin"]) == ("B", 0, "random")
        assert attrs["owner"]["pid"] > 0
    assert {t.state for t in search.trials()} == {TrialState.RUNNING}


def test_outcomes_map_to_states_and_census(storage_url, study_name):
    search = Search.open(study_name, open_storage(storage_url), SearchConfig(preset="smoke"))
    a, r, d1, d2, e = generate(search, 5)
    record(search, accepted(a.trial, 0.8, 0.6, 0.7))
    record(search, Outcome(r.trial, "rejected", stage="quality", reason="resnet: 12% < 50%"))
    record(
        search,
        Outcome(
            d1.trial,
            "duplicate",
            stage="fingerprint",
            duplicate_of=a.trial,
            reason=f"same function as trial {a.trial}",
        ),
    )
    record(
        search,
        Outcome(
            d2.trial,
            "duplicate",
            stage="structural",
            duplicate_of=r.trial,
            reason=f"same structure as trial {r.trial}",
        ),
    )
    record(search, Outcome(e.trial, "error", reason="RuntimeError: boom"))
    trials = search.study.get_trials()
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
    ]
    assert trials[0].values == [0.8, 0.6, 0.7]
    assert trials[2].values == [0.8, 0.6, 0.7]  # the duplicate reuses the scores
    assert trials[3].user_attrs["stage"] == "quality"
    assert "resnet: 12% < 50%" in trials[3].user_attrs["reason"]
    assert trials[4].user_attrs["reason"] == "RuntimeError: boom"
    census = search.census()
    assert (census.accepted, census.rejected, census.duplicates, census.errors) == (1, 1, 2, 1)
    assert census.done == 5 and census.running == 0
    assert census.best == pytest.approx(0.7)
    hashes, prints = search.seen()
    assert hashes[a.structural_hash] == a.trial  # duplicates and errors are not "seen" keys
    assert set(hashes.values()) <= {a.trial, r.trial}
    assert prints == {}  # these outcomes carry no fingerprint


def test_population_is_newest_accepted_first(tmp_path):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    cs = generate(search, 4)
    for c in (cs[2], cs[0], cs[3]):
        record(search, accepted(c.trial, 0.5, 0.5, 0.5))
    record(search, Outcome(cs[1].trial, "rejected", stage="stability", reason="inf"))
    assert [m.trial for m in search.population()] == [cs[3].trial, cs[0].trial, cs[2].trial]


def test_children_come_from_the_population_once_it_is_full(tmp_path):
    config = SearchConfig(preset="smoke", population=2, tournament=2)
    search = Search.open("s", open_storage(f"journal:{tmp_path / 's.log'}"), config)
    first = generate(search, 2)
    for c in first:
        record(search, accepted(c.trial, 0.5, 0.6, 0.7))
    (child,) = generate(search, 1)
    assert child.origin == "mutation"
    assert child.parent in {c.trial for c in first}
    assert child.generation == 1


def test_recording_a_trial_that_was_reclaimed_changes_nothing(tmp_path):
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    (c,) = generate(search, 1)
    search.study.tell(c.trial, state=TrialState.FAIL)  # as a recovery would
    assert record(search, accepted(c.trial, 0.9, 0.9, 0.9)) is False
    assert search.study.trials[0].state == TrialState.FAIL
    assert "status" not in search.study.trials[0].user_attrs


def test_a_warm_start_proposes_the_seed_layers_first_and_once(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    config = SearchConfig(preset="smoke", population=4, seed_layers=("bn_relu", "evonorm_b0"))
    search = Search.open("w", storage, config)
    first = generate(search, 3)
    assert [c.origin for c in first] == ["seed", "seed", "random"]
    assert [c.graph for c in first[:2]] == [known_layer("bn_relu"), known_layer("evonorm_b0")]
    resumed = Search.open("w", storage, config)  # a resumed search does not seed again
    assert [c.origin for c in generate(resumed, 2)] == ["random", "random"]
    assert Search.open("w", storage).config.seed_layers == ("bn_relu", "evonorm_b0")
    with pytest.raises(SearchError, match="seed_layers: stored"):
        Search.open("w", storage, SearchConfig(preset="smoke", population=4))
    with pytest.raises(ValueError, match="uses batch statistics: not in space S"):
        SearchConfig(preset="smoke", space="S", seed_layers=("bn_relu",))


def test_kept_seed_layers_breed_after_newer_layers_fill_the_population(tmp_path):
    """A warm start with keep_seeds: once two newer layers fill a population of 2, the accepted
    seed layer is still a parent (without keep_seeds it has aged out); the setting is stored,
    and a resume without it is refused with the diff."""
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    parents = {}
    for keep in (False, True):
        config = SearchConfig(
            preset="smoke",
            population=2,
            tournament=2,
            warmup=1,
            seed_layers=("bn_silu",),
            keep_seeds=keep,
        )
        search = Search.open(f"k{keep}", storage, config)
        (seed,) = generate(search, 1)
        record(search, accepted(seed.trial, 0.9, 0.9, 0.9))
        newer = generate(search, 2)
        for c in newer:
            record(search, accepted(c.trial, 0.2, 0.2, 0.2))
        assert [m.seed for m in search.population()] == [False, False, True]
        parents[keep] = (seed.trial, {c.parent for c in generate(search, 10)})
    assert parents[False][0] not in parents[False][1]
    assert parents[True][0] in parents[True][1]
    assert Search.open("kTrue", storage).config.keep_seeds is True
    with pytest.raises(SearchError, match="keep_seeds: stored True, asked False"):
        Search.open("kTrue", storage, dataclasses.replace(config, keep_seeds=False))
    with pytest.raises(ValueError, match="keep_seeds keeps seed layers in the population"):
        SearchConfig(preset="smoke", keep_seeds=True)
    with pytest.raises(ValueError, match="keep_seeds must be true or false"):
        SearchConfig(preset="smoke", seed_layers=("bn_relu",), keep_seeds="yes")
    with pytest.raises(ValueError, match="keep_seeds applies to evolution only"):
        SearchConfig(preset="smoke", strategy="random", seed_layers=("bn_relu",), keep_seeds=True)


def test_a_distinct_search_binds_each_function_once_and_counts_the_drawing(tmp_path):
    """x*v1 and v1*x, x + 0 and x: a distinct search proposes one of each function (the rejection
    chain's fingerprint), and duplicates recorded anyway never join its population."""
    from evonorm.evolve.search import function_of

    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    config = SearchConfig(preset="smoke", strategy="random", distinct=True)
    search = Search.open("d", storage, config)
    cs = generate(search, 40)
    prints = [function_of(c.graph) for c in cs]
    assert len(set(prints)) == 40 and search.proposed_functions() == frozenset(prints)
    assert all(t.user_attrs["propose_seconds"] >= 0 for t in search.trials())
    plain = Search.open("p", storage, SearchConfig(preset="smoke", strategy="random"))
    assert len({function_of(c.graph) for c in generate(plain, 40)}) < 40
    record(search, accepted(cs[0].trial, 0.5, 0.5, 0.5))
    twin = Outcome(cs[1].trial, "duplicate", duplicate_of=cs[0].trial, reason="same function")
    record(search, twin)
    assert [m.trial for m in search.population()] == [cs[0].trial]
    record(plain, accepted(0, 0.5, 0.5, 0.5))
    record(plain, Outcome(1, "duplicate", duplicate_of=0, reason="same function"))
    assert len(plain.population()) == 2  # the paper's population keeps the copy


def test_up_to_scale_children_are_no_rescaled_copies_of_an_earlier_candidate(tmp_path):
    """From one accepted DyT, children of a distinct search include rescaled copies of it
    (-tanh(v1·x), ...); with up_to_scale none do, and each bound trial keeps its key."""
    from evonorm.reject.fingerprint import scale_free_digest

    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    mix = {"insert": 0.5, "op": 0.5}
    keys = {}
    for up_to_scale in (False, True):
        config = SearchConfig(
            preset="smoke",
            population=4,
            warmup=1,
            mutations=mix,
            seed_layers=("dyt",),
            distinct=True,
            up_to_scale=up_to_scale,
        )
        search = Search.open(f"s{up_to_scale}", storage, config)
        (seed,) = generate(search, 1)
        record(search, accepted(seed.trial, 0.5, 0.5, 0.5))
        children = generate(search, 30)
        keys[up_to_scale] = [scale_free_digest(c.graph) for c in [seed, *children]]
    assert len(set(keys[False])) < 31  # rescaled copies proposed as new functions
    assert len(set(keys[True])) == 31
    kept = [t.user_attrs["function"] for t in search.trials()]
    assert kept == keys[True] and search.proposed_functions() == frozenset(kept)
    with pytest.raises(ValueError, match="up_to_scale refines distinct: set distinct as well"):
        SearchConfig(preset="smoke", up_to_scale=True)
    with pytest.raises(SearchError, match="up_to_scale: stored True, asked False"):
        Search.open("sTrue", storage, dataclasses.replace(config, up_to_scale=False))


@pytest.mark.parametrize("repeats", [0, 6, True, "2", 1.5])
def test_repeats_must_be_a_whole_number_from_one_to_five(repeats):
    with pytest.raises(ValueError, match=r"repeats must be a whole number in \[1, 5\]"):
        SearchConfig(preset="smoke", repeats=repeats)


def test_resuming_with_other_noise_settings_is_refused(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    Search.open("s", storage, SearchConfig(preset="smoke", distinct=True, repeats=2))
    assert Search.open("s", storage).config.repeats == 2
    with pytest.raises(SearchError, match="distinct: stored True, asked False, repeats: stored 2"):
        Search.open("s", storage, SearchConfig(preset="smoke"))


def test_near_misses_breed_children_on_top_of_rejected_normalisers(tmp_path):
    """A normaliser the chain refused for having no activation (metrics["normaliser"]) becomes a
    parent: with near_misses=1 every child is an op put on top of one; other rejections and a
    near_misses of 0 never do."""
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    config = SearchConfig(preset="smoke", population=4, near_misses=1.0, distinct=True)
    search = Search.open("n", storage, config)
    first = generate(search, 3)
    assert [c.origin for c in first] == ["random"] * 3  # no near miss yet
    refused = "affine in x at every position: a normaliser with no activation"
    near = Outcome(
        first[0].trial,
        "rejected",
        stage="fingerprint",
        reason=refused,
        metrics={"normaliser": True},
    )
    record(search, near)
    flat = Outcome(
        first[1].trial,
        "rejected",
        stage="fingerprint",
        reason=refused,
        metrics={"normaliser": False},
    )
    record(search, flat)
    assert [m.trial for m in search.near_misses()] == [first[0].trial]
    children = generate(search, 5)
    assert {(c.origin, c.parent, c.mutation) for c in children} == {
        ("near-miss", first[0].trial, "top")
    }
    assert all(c.graph.nodes[-1].inputs[0] == c.graph.output - 1 for c in children)
    assert all(c.generation == 1 for c in children)
    plain = Search.open("p", storage, SearchConfig(preset="smoke", population=4))
    assert plain.config.near_misses == 0.0
    with pytest.raises(SearchError, match=r"near_misses: stored 1\.0, asked 0\.0"):
        Search.open("n", storage, SearchConfig(preset="smoke", population=4, distinct=True))


def test_without_near_misses_a_near_miss_search_draws_what_a_plain_one_draws(tmp_path):
    """The near-miss coin has its own random stream: until a normaliser is refused, a search with
    near_misses > 0 proposes the random layers and children of near_misses = 0 (the shared
    random prefix the ablation's arms are compared on)."""
    storage = open_storage(f"journal:{tmp_path / 's.log'}")
    drawn = {}
    for share in (0.0, 0.5):
        config = SearchConfig(preset="smoke", population=4, warmup=1, near_misses=share)
        search = Search.open(f"s{share}", storage, config)
        first = generate(search, 2)
        record(search, accepted(first[0].trial, 0.5, 0.5, 0.5))
        record(search, Outcome(first[1].trial, "rejected", stage="quality", reason="low"))
        drawn[share] = [c.graph for c in first + generate(search, 6)]
    assert drawn[0.5] == drawn[0.0]


@pytest.mark.parametrize("share", [-0.1, 1.5, True, "0.5"])
def test_near_misses_must_be_a_probability(share):
    with pytest.raises(ValueError, match=r"near_misses must be a probability in \[0, 1\]"):
        SearchConfig(preset="smoke", near_misses=share)
    with pytest.raises(ValueError, match="near_misses apply to evolution only"):
        SearchConfig(preset="smoke", strategy="random", near_misses=0.5)
