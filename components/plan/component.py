"""The `plan` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def plan(generations: int, after: str) -> list:
    """The generation numbers ``[0, …, generations - 1]`` for the sequential generation loop
    (a pipeline parameter cannot drive ``dsl.ParallelFor`` by itself)."""
    if generations < 1:
        raise ValueError(f"generations must be >= 1, got {generations}")
    return list(range(generations))
