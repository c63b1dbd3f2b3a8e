"""The `reject` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def reject(study: str, storage: str, candidates: str, memory_mb: int, seconds: float) -> str:
    """Run the rejection chain (structural, fingerprint, stability, quality) on each candidate
    of a group (a JSON list from generate), each within its budget (``memory_mb`` MiB,
    ``seconds``; 0: no bound). A bad layer, or one past its budget, is a verdict, never a
    failed task."""
    from evonorm.tasks import candidate_limits
    from evonorm.tasks import reject as run

    return run(study, storage, candidates, "cpu", candidate_limits(memory_mb, seconds))
