"""The `reject` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def reject(study: str, storage: str, candidate: str) -> str:
    """Run the rejection chain (structural, fingerprint, stability, quality) on one candidate.
    A bad layer is a verdict, never a failed task."""
    from evonorm.tasks import reject as run

    return run(study, storage, candidate, "cpu")
