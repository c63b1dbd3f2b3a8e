"""The `reject` component (see README.md) in two images: ``reject`` on the CPU image, for the
presets that screen on CPUs, and ``reject_on_gpu`` on the CUDA image, for those whose quality
training wants the training device (``Preset.reject_on_accelerator``: today ``paper``). KFP runs
a component by its function's name from the function's own source, so each image gets its own
three-line function over :func:`evonorm.tasks.reject`."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE, CUDA_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def reject(study: str, storage: str, candidates: str, memory_mb: int, seconds: float) -> str:
    """Run the rejection chain (structural, fingerprint, stability, quality) on each candidate
    of a group (a JSON list from generate) on the CPU, each within its budget (``memory_mb``
    MiB, ``seconds``; 0: no bound). A bad layer, or one past its budget, is a verdict, never a
    failed task."""
    from evonorm.tasks import candidate_limits
    from evonorm.tasks import reject as run

    return run(study, storage, candidates, "cpu", candidate_limits(memory_mb, seconds))


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def reject_on_gpu(
    study: str, storage: str, candidates: str, device: str, memory_mb: int, seconds: float
) -> str:
    """The same chain on ``device`` (the training tasks' device: ``auto`` is the pod's GPU);
    on a GPU, CUDA's own out-of-memory error bounds a candidate's memory."""
    from evonorm.tasks import candidate_limits
    from evonorm.tasks import reject as run

    return run(study, storage, candidates, device, candidate_limits(memory_mb, seconds))
