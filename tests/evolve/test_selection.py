import numpy as np
import pytest

from evonorm.evolve.selection import (
    Evolution,
    Member,
    RandomSearch,
    pareto_front,
    tournament_value,
)
from evonorm.space import known_layer, random_graph


def member(trial, *scores, generation=0):
    return Member(trial, tuple(scores), random_graph(np.random.default_rng(trial)), generation)


def test_pareto_front_keeps_exactly_the_non_dominated():
    members = [
        member(0, 0.9, 0.1),
        member(1, 0.1, 0.9),
        member(2, 0.5, 0.5),
        member(3, 0.4, 0.4),  # dominated by 2
        member(4, 0.9, 0.05),  # dominated by 0
        member(5, 0.5, 0.5),  # equal to 2: neither dominates
    ]
    assert [m.trial for m in pareto_front(members)] == [0, 1, 2, 5]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"population_size": 1}, "population_size"),
        ({"population_size": 2.5}, "population_size"),
        ({"tournament": 0}, "tournament"),
        ({"tournament": 17}, "tournament"),
        ({"tournament": 1.5}, "tournament"),
        ({"tournament": 0.0}, "tournament"),
        ({"tournament": True}, "tournament"),
        ({"selection": "best"}, "selection"),
        ({"warmup": 0}, "warmup"),
        ({"population_size": 4, "warmup": 5}, "warmup"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        Evolution(**kwargs)


def test_tournament_fraction_and_count():
    assert Evolution(population_size=20, tournament=0.25).tournament_size(20) == 5
    assert Evolution(population_size=20, tournament=3).tournament_size(20) == 3
    assert Evolution(population_size=20, tournament=0.01).tournament_size(20) == 1


def test_random_children_until_the_population_is_full():
    strategy = Evolution(population_size=4, tournament=2)
    population = [member(i, 0.5, 0.5, 0.5) for i in range(3)]
    child = strategy.child(population, np.random.default_rng(0), "B")
    assert child.origin == "random"
    assert child.parent is None
    assert child.generation == 0


def test_warmup_starts_mutation_before_the_population_is_full():
    strategy = Evolution(population_size=8, tournament=3, warmup=2)
    one = strategy.child([member(0, 0.5, 0.5, 0.5)], np.random.default_rng(0), "B")
    assert one.origin == "random"
    two = [member(i, 0.5, 0.5, 0.5) for i in range(2)]
    child = strategy.child(two, np.random.default_rng(0), "B")
    assert child.origin == "mutation"
    assert child.parent in (0, 1)


def test_children_avoid_structures_already_evaluated():
    parent = Member(0, (0.5, 0.5, 0.5), known_layer("evonorm_b0").prune())
    plain = Evolution(population_size=2, tournament=1, warmup=1)
    seen = {plain.child([parent], np.random.default_rng(s), "B").structural_hash for s in range(40)}
    assert len(seen) > 3  # the parent's common mutants
    for s in range(20):
        child = plain.child([parent], np.random.default_rng(s), "B", avoid=frozenset(seen))
        assert child.structural_hash not in seen
    randoms = {
        RandomSearch().child([], np.random.default_rng([1, n]), "B").structural_hash
        for n in range(30)
    }
    fresh = RandomSearch().child([], np.random.default_rng([1, 0]), "B", avoid=frozenset(randoms))
    assert fresh.structural_hash not in randoms


def test_average_selection_picks_the_best_average_of_the_tournament():
    strategy = Evolution(population_size=5, tournament=5, selection="average")
    population = [member(i, 0.1 * i, 0.5, 0.5) for i in range(5)]
    winners = {strategy.select(population, np.random.default_rng(s)).trial for s in range(20)}
    assert winners == {4}


def test_pareto_selection_draws_uniformly_from_the_tournament_front():
    strategy = Evolution(population_size=4, tournament=4, selection="pareto")
    population = [member(0, 0.9, 0.1), member(1, 0.1, 0.9), member(2, 0.05, 0.1), member(3, 0, 0)]
    rng = np.random.default_rng(0)
    counts = np.bincount([strategy.select(population, rng).trial for _ in range(2000)], minlength=4)
    assert counts[2] == counts[3] == 0
    assert 900 < counts[0] < 1100  # uniform over the two front members


def test_mutant_child_records_its_parent_and_differs_in_its_live_graph():
    strategy = Evolution(population_size=3, tournament=1)
    population = [member(10 + i, 0.5, 0.5, generation=i) for i in range(5)]  # newest first
    rng = np.random.default_rng(1)
    for _ in range(30):
        child = strategy.child(population, rng, "B")
        assert child.origin == "mutation"
        parent = next(m for m in population if m.trial == child.parent)
        assert parent in population[:3]  # only the newest population_size members compete
        assert child.generation == parent.generation + 1
        assert child.structural_hash != parent.graph.prune().structural_hash()


def test_a_mutation_mix_drives_the_children_and_names_their_mutation():
    population = [member(10 + i, 0.5, 0.5) for i in range(4)]
    rng = np.random.default_rng(2)
    paper = Evolution(population_size=4, tournament=2)
    assert {paper.child(population, rng, "B").mutation for _ in range(20)} == {"redraw"}
    mixed = Evolution(population_size=4, tournament=2, mutations={"op": 0.5, "insert": 0.5})
    children = [mixed.child(population, rng, "B") for _ in range(200)]
    assert {c.mutation for c in children} == {"op", "insert"}
    for child in children:
        parent = next(m for m in population if m.trial == child.parent).graph
        if child.mutation == "op":  # same shape, one op changed
            assert [n.inputs for n in child.graph.nodes] == [n.inputs for n in parent.nodes]
    with pytest.raises(ValueError, match="must sum to 1"):
        Evolution(population_size=4, tournament=2, mutations={"op": 0.7})


def test_random_search_ignores_the_population():
    child = RandomSearch().child([member(0, 1.0)], np.random.default_rng(3), "S")
    assert (child.origin, child.space, child.parent) == ("random", "S", None)
    assert child.graph.space == "S"


def test_a_tournament_is_read_the_same_from_the_cli_and_the_run_form():
    # The command line passes text, the KFP form a float: whole numbers are counts.
    assert [tournament_value(v) for v in ("4", 4.0, 4, "0.25", 0.25)] == [4, 4, 4, 0.25, 0.25]
    assert isinstance(tournament_value("4.0"), int)
    with pytest.raises(ValueError, match="tournament must be a count or a fraction, got 'four'"):
        tournament_value("four")


def test_kept_seed_layers_stay_in_the_pool_after_newer_members_fill_it():
    """Newest first: two fresh members fill a population of 2, so the older seed layer (trial 0)
    and the older plain member (trial 1) age out; with keep_seeds the seed layer alone stays a
    parent. A seed layer still among the newest is not counted twice."""
    seed = Member(0, (0.9, 0.9), known_layer("bn_silu"), seed=True)
    population = [member(3, 0.1, 0.1), member(2, 0.1, 0.2), member(1, 0.9, 0.9), seed]
    plain = Evolution(population_size=2, tournament=2)
    kept = Evolution(population_size=2, tournament=2, keep_seeds=True)
    assert [m.trial for m in plain.pool(population)] == [3, 2]
    assert [m.trial for m in kept.pool(population)] == [3, 2, 0]
    assert [m.trial for m in kept.pool([seed, *population[:2]])] == [0, 3]
    rng = np.random.default_rng(4)
    parents = {kept.child(population, rng, "B").parent for _ in range(40)}
    assert parents == {0, 2}  # trial 1 aged out; 0 wins every tournament it is drawn into
    assert 0 not in {plain.child(population, rng, "B").parent for _ in range(40)}
    with pytest.raises(ValueError, match="keep_seeds must be true or false"):
        Evolution(population_size=2, tournament=2, keep_seeds="yes")
