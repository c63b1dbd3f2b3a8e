"""The `transfer` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def transfer(study: str, storage: str, tasks: list, after: str) -> str:
    """Mask R-CNN (box/mask AP) and DCGAN (FID) with the kept layers and the baselines."""
    from evonorm.tasks import transfer as run

    return run(study, storage, [str(t) for t in tasks])
