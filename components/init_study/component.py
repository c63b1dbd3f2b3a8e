"""The `init-study` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def init_study(
    study: str,
    storage: str,
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
    tracking_uri: str,
    pipeline_run: str,
) -> str:
    """Create the study or resume it with the same settings (registry URIs among the seed layers
    read from ``tracking_uri`` when it is created); recover trials of dead runs; compute the
    quality references once. Returns the census as JSON."""
    from evonorm.tasks import init_study as run

    return run(
        study,
        storage,
        preset,
        space,
        strategy,
        population,
        tournament,
        selection,
        seed,
        pipeline_run,
        mutations,
        seed_layers,
        distinct,
        repeats,
        near_misses,
        up_to_scale,
        tracking_uri,
        keep_seeds,
    )
