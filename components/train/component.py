"""The `train` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def train(
    study: str, storage: str, screened: str, device: str, memory_mb: int, seconds: float
) -> str:
    """Train each accepted candidate of a group on every anchor architecture within what is
    left of its budget (a rejected one passes its verdict through); the outcomes as a JSON
    list."""
    from evonorm.tasks import candidate_limits
    from evonorm.tasks import train as run

    return run(study, storage, screened, device, candidate_limits(memory_mb, seconds))
