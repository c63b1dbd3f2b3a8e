"""The `check_params` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def check_params(
    preset: str,
    space: str,
    strategy: str,
    population: int,
    tournament: float,
    selection: str,
    seed: int,
    mutations: str,
    seed_layers: str,
    distinct: bool,
    repeats: int,
    near_misses: float,
    up_to_scale: bool,
    keep_seeds: bool,
    generations: int,
    children: int,
    candidates_per_task: int,
    rerank_top: int,
    rerank_seeds: list,
    rerank_archs: list,
    transfer_tasks: list,
    device: str,
    candidate_memory_mb: int,
    candidate_seconds: float,
) -> str:
    """Check the run's parameters against the code's registries before anything runs: a bad
    value fails this first step with one line naming the parameter and what it allows."""
    from evonorm.tasks import check_params as run

    return run(
        preset=preset,
        space=space,
        strategy=strategy,
        population=population,
        tournament=tournament,
        selection=selection,
        seed=seed,
        mutations=mutations,
        seed_layers=seed_layers,
        distinct=distinct,
        repeats=repeats,
        near_misses=near_misses,
        up_to_scale=up_to_scale,
        keep_seeds=keep_seeds,
        generations=generations,
        children=children,
        candidates_per_task=candidates_per_task,
        rerank_top=rerank_top,
        rerank_seeds=rerank_seeds,
        rerank_archs=rerank_archs,
        transfer_tasks=transfer_tasks,
        device=device,
        candidate_memory_mb=candidate_memory_mb,
        candidate_seconds=candidate_seconds,
    )
