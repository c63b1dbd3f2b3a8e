"""The `rerank` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def rerank(
    study: str, storage: str, top: int, seeds: list, archs: list, device: str, after: list
) -> str:
    """Retrain the top layers and the baselines on held-out data and architectures; keep the
    best three (``<study>-B0`` …)."""
    from evonorm.tasks import rerank as run

    return run(study, storage, top, [int(s) for s in seeds], [str(a) for a in archs], device)
